import { pino, type Logger } from 'pino';

/** Structured JSON logs; every line about a job or stream carries its id (child loggers). */
export function createLogger(level: string, role: string): Logger {
  return pino({ level, base: { role }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
