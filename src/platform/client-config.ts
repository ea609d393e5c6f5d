import type { Config } from './config.js';
import { VdetError } from './errors.js';
import { EnvReader, deepFreeze, type Env } from './env-reader.js';
import { readKafkaSecurity } from './kafka-security.js';

/** What the `vdet` client commands (submit, jobs, results, push) need: where the service is, and a key. */
export interface ClientConfig {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly kafka: Config['kafka'];
}

/** Reads VDET_API_URL, VDET_API_KEY, KAFKA_BROKERS and VDET_TOPIC_PREFIX; flags given on the command line win. */
export function loadClientConfig(env: Env = process.env, flags: { api?: string; key?: string; brokers?: string } = {}): ClientConfig {
  const r = new EnvReader({ ...env, ...(flags.api ? { VDET_API_URL: flags.api } : {}), ...(flags.key ? { VDET_API_KEY: flags.key } : {}), ...(flags.brokers ? { KAFKA_BROKERS: flags.brokers } : {}) });
  const apiUrl = r.string('VDET_API_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');
  r.check(/^https?:\/\/[^\s/]+/.test(apiUrl), 'VDET_API_URL (--api) must be an http:// or https:// URL');
  const brokers = r.string('KAFKA_BROKERS', '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  r.check(brokers.length > 0 && brokers.every((b) => /^[\w.-]+:\d{1,5}$/.test(b)),
    'KAFKA_BROKERS (--brokers) must be a comma-separated list of host:port');
  const topicPrefix = r.string('VDET_TOPIC_PREFIX', 'vdet.');
  r.check(/^[a-zA-Z0-9._-]*$/.test(topicPrefix), 'VDET_TOPIC_PREFIX may hold only letters, digits, ".", "_" and "-"');
  const config: ClientConfig = {
    apiUrl,
    apiKey: r.optionalString('VDET_API_KEY'),
    kafka: {
      brokers,
      clientId: r.string('KAFKA_CLIENT_ID', 'vdet-client'),
      topicPrefix,
      partitions: r.int('VDET_TOPIC_PARTITIONS', 4, 1, 1024),
      maxMessageBytes: r.int('VDET_KAFKA_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024),
      sendTimeoutMs: r.int('VDET_KAFKA_SEND_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
      security: readKafkaSecurity(r),
    },
  };
  if (r.problems.length > 0) throw new VdetError('VDET_CONFIG_INVALID', `Invalid configuration: ${r.problems.join('; ')}`);
  return deepFreeze(config);
}
