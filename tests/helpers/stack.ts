import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { MODEL_PATH } from './paths.js';

/**
 * Each test file gets its own topics, consumer groups, database and Redis key prefix on the shared local stack
 * (started by scripts/stack.sh), and removes them afterwards.
 */
export interface TestEnv {
  id: string;
  env: Record<string, string>;
  config: Config;
  cleanup(): Promise<void>;
}

export function createTestEnv(extra: Record<string, string> = {}): TestEnv {
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    VDET_TOPIC_PREFIX: `${id}.`,
    VDET_MONGO_DB: id,
    VDET_REDIS_PREFIX: `${id}:`,
    VDET_MODEL: MODEL_PATH,
    VDET_HTTP_HOST: '127.0.0.1',
    VDET_HTTP_PORT: '0',
    VDET_TOPIC_PARTITIONS: '2',
    VDET_LOG_LEVEL: 'warn',
    VDET_METRICS_PORT: '0',
    VDET_RATE_LIMIT_PER_MIN: '1000000', // tests poll hard, all from 127.0.0.1; the rate-limit tests set their own
    VDET_RATE_LIMIT_PER_ADDRESS_PER_MIN: '1000000',
    ...extra,
  };
  const config = loadConfig(env);
  return {
    id,
    env,
    config,
    async cleanup() {
      const mongo = new MongoClient(config.mongo.url);
      await mongo.connect();
      await mongo.db(config.mongo.database).dropDatabase().catch(() => undefined);
      await mongo.close();
      const redis = new Redis(config.redis.url);
      const keys = await redis.keys(`${config.redis.keyPrefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      const admin = new Kafka({ brokers: [...config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(config.kafka.topicPrefix));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(config.kafka.topicPrefix));
      if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** Total lag of a consumer group over a topic: latest offsets minus committed ones. */
export async function consumerLag(config: Config, groupId: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers: [...config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const latest = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    let lag = 0;
    for (const p of latest) {
      const c = committed?.partitions.find((x) => x.partition === p.partition);
      const done = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(p.low);
      lag += Number(p.high) - done;
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The stack's Kafka security listeners (scripts/stack.sh): SASL in plaintext on 9094, SASL over TLS on 9095 with the
 * stack's own CA; ACLs apply to their users. Loopback test credentials, the same as the script's.
 */
export const KAFKA_SECURE = {
  saslPlaintext: `127.0.0.1:${process.env['VDET_KAFKA_SASL_PORT'] ?? '9094'}`,
  saslTls: `127.0.0.1:${process.env['VDET_KAFKA_SASL_TLS_PORT'] ?? '9095'}`,
  caFile: new URL('../../.stack/kafka/tls/ca.pem', import.meta.url).pathname,
  role: { username: 'vdet', password: 'vdet-stack-role-password' },
  camera: { username: 'camera', password: 'vdet-stack-camera-password' },
} as const;
