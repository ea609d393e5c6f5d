import { Kafka, logLevel, type IHeaders, type KafkaConfig, type KafkaMessage, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import type { KafkaSecurity } from '../platform/kafka-security.js';
import type { IncomingMessage } from './bus.js';

/** How long a consumer waits, quietly, for its group's coordinator before joining anyway. */
const COORDINATOR_WAIT_MS = 60_000;

/** kafkajs' connection options for the configured protocol: TLS with the CA and client certificate, SASL credentials. */
export function connectionOptions(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const ssl = security.protocol === 'ssl' || security.protocol === 'sasl_ssl' ? { ...security.tls } : undefined;
  const sasl = security.sasl
    ? { mechanism: security.sasl.mechanism, username: security.sasl.username, password: security.sasl.password } as SASLOptions
    : undefined;
  return { ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
}

/** kafkajs' retries for every client and consumer of a bus. */
export const RETRY = { initialRetryTime: 300, retries: 8 };

/** Whether a Kafka error says the credentials or the ACLs refuse this client: a restart cannot mend that. */
export function isAccessDenied(error: Error): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++, e = (e as Error & { originalError?: unknown }).originalError ?? e.cause) {
    const type = (e as { type?: unknown }).type;
    if (e.name === 'KafkaJSSASLAuthenticationError' || (typeof type === 'string' && /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED/.test(type))) return true;
  }
  return false;
}

/** Waits (quietly, at most a minute) until a group's coordinator answers: see the comment inside. */
export function coordinatorWaiter(config: Config['kafka'], log: Logger): (groupId: string) => Promise<void> {
  // A fresh broker loads a group's coordinator (its __consumer_offsets partition) a moment after it serves clients;
  // a consumer that joins before then logs "The group coordinator is not available" at error level and retries.
  // Asking quietly first, and joining once the coordinator answers, keeps start-up logs free of that false alarm.
  const quiet = new Kafka({ clientId: `${config.clientId}-probe`, brokers: [...config.brokers], ...connectionOptions(config.security), logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  return async (groupId: string): Promise<void> => {
    const probe = quiet.admin();
    const deadline = Date.now() + COORDINATOR_WAIT_MS;
    try {
      await probe.connect();
      for (;;) {
        try {
          await probe.describeGroups([groupId]);
          return;
        } catch (error) {
          if (Date.now() > deadline) {
            log.warn({ err: error, groupId }, 'group coordinator still not available; joining anyway');
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } finally {
      await probe.disconnect().catch(() => undefined);
    }
  };
}

export function toIncoming(topic: string, partition: number, message: KafkaMessage): IncomingMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8'),
    value: message.value,
    headers: headersToStrings(message.headers),
    timestamp: message.timestamp,
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
