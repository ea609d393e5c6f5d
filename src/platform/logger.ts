import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Query parameters whose values are credentials (a media token, a key someone put in a URL). */
const SECRET_PARAMS = /([?&](?:token|key|api_key|apikey|access_token|secret|signature|sig)=)[^&#]*/gi;

/** A request URL fit for a log line: the values of credential parameters (`?token=…`) are replaced. */
export function redactRequestUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/** A callback URL fit for a log line: its query string (often a receiver's own token) and fragment are dropped. */
export function redactCallbackUrl(url: string): string {
  return url.replace(/[?#].*$/s, (rest) => (rest.startsWith('?') ? '?[redacted]' : ''));
}

/** Paths pino replaces in every line: credentials in headers, and callback URLs wherever job options are logged. */
const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]',
  'options.callbackUrl', 'job.options.callbackUrl', 'callbackUrl', 'url', 'password', 'sasl.password', '*.sasl.password',
];

function censor(value: unknown, path: string[]): unknown {
  const last = path.at(-1);
  if (typeof value === 'string' && last === 'callbackUrl') return redactCallbackUrl(value);
  if (typeof value === 'string' && last === 'url') return redactRequestUrl(value);
  return '[redacted]';
}

/**
 * Structured JSON logs; every line about a job or stream carries its id (child loggers). Tokens and secrets never
 * reach a line: request URLs lose their `?token=` values, Authorization and X-API-Key headers are replaced, and
 * callback URLs lose their query strings (Fastify's own request lines use the `req` serializer below).
 */
export function createLogger(level: string, role: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { role },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor },
    serializers: {
      req: (req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
        method: req.method,
        url: typeof req.url === 'string' ? redactRequestUrl(req.url) : req.url,
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
