import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { JobStore } from '../store/job-store.js';
import { createKafkaBus } from '../kafka/kafka.js';
import type { KafkaBus } from '../kafka/bus.js';
import { connectStore, ensureIndexes, type Store } from '../store/mongo.js';
import { ModelRegistryStore } from '../store/model-registry-store.js';
import type { Redis } from 'ioredis';
import { ApiKeyStore } from '../store/api-keys.js';
import { CameraLeaseStore } from '../store/camera-leases.js';
import { StreamStore } from '../store/stream-store.js';
import { StreamTokenStore } from '../store/stream-tokens.js';
import { connectRedis, createProgressStore, type ProgressStore } from '../live/progress.js';
import { topicNames, type TopicNames } from '../contracts/topics.js';
import type { FileStore } from '../store/file-store.js';
import { mongoJobResults, type JobResults } from '../store/job-results.js';
import { mongoIdempotencyKeys, type IdempotencyKeys } from '../store/idempotency.js';

/** The clients a process shares between its roles: one Kafka client, one MongoDB pool, one Redis connection. */
export interface Infra {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  store: Store;
  jobs: JobStore;
  progress: ProgressStore;
  redis: Redis;
  apiKeys: ApiKeyStore;
  streams: StreamStore;
  streamTokens: StreamTokenStore;
  /** Which processor pulls which camera, and how its puller is doing. */
  cameras: CameraLeaseStore;
  /** The registered models (`vdet models add`): files in GridFS, read by the api, processors and detectors. */
  models: ModelRegistryStore;
  /** The uploaded files (name: the upload id). */
  uploads: FileStore;
  /** The annotated renderings of done jobs (name: the job id), a cache. */
  renderings: FileStore;
  /** A job's frames, tracks and partial summaries, as readers see them. */
  results: JobResults;
  idempotencyKeys: IdempotencyKeys;
  topics: TopicNames;
  close(): Promise<void>;
}

/** Connects, creates the topics and indexes the roles rely on (idempotent), and returns the shared clients. */
export async function openInfra(config: Config, log: Logger): Promise<Infra> {
  const topics = topicNames(config.kafka.topicPrefix);
  const bus = createKafkaBus(config.kafka, log);
  const redis = connectRedis(config.redis);
  const progress = createProgressStore(redis, config.redis);
  let store: Store | undefined;
  let apiKeys: ApiKeyStore;
  let streams: StreamStore;
  let streamTokens: StreamTokenStore;
  let models: ModelRegistryStore;
  try {
    store = await connectStore(config.mongo);
    await ensureIndexes(store);
    apiKeys = new ApiKeyStore(store.db);
    await apiKeys.ensureIndexes();
    streams = new StreamStore(store.db, redis, config.streams.defaultTenant);
    await streams.ensureIndexes();
    streamTokens = new StreamTokenStore(store.db);
    await streamTokens.ensureIndexes();
    models = new ModelRegistryStore(store.db, store.jobs);
    await models.ensureIndexes();
    if (config.http.bootstrapKey) await apiKeys.ensure(config.http.bootstrapKey, config.http.bootstrapTenant, 'bootstrap');
    await bus.ensureTopics(topics);
  } catch (error) {
    await bus.close();
    redis.disconnect();
    await store?.close();
    throw error;
  }
  const connected = store;
  return {
    config, log, bus, store: connected, jobs: new JobStore(connected), progress, redis, apiKeys, streams, streamTokens, cameras: new CameraLeaseStore(connected.db), models,
    uploads: connected.uploads, renderings: connected.annotated, results: mongoJobResults(connected), idempotencyKeys: mongoIdempotencyKeys(connected), topics,
    async close() {
      // Each step runs even when an earlier one fails: Kafka first (stop consuming, flush), then the stores.
      for (const [name, step] of [['kafka', () => bus.close()], ['redis', async () => redis.disconnect()], ['mongo', () => connected.close()]] as const) {
        try {
          await step();
        } catch (error) {
          log.warn({ err: error, step: name }, 'close step failed');
        }
      }
    },
  };
}
