import type { Logger } from 'pino';
import type { Config } from './config.js';
import { JobStore } from './job-store.js';
import { createKafkaBus, type KafkaBus } from './kafka.js';
import { connectStore, ensureIndexes, type Store } from './mongo.js';
import { createProgressStore, type ProgressStore } from './progress.js';
import { topicNames, type TopicNames } from './topics.js';

/** The clients a process shares between its roles: one Kafka client, one MongoDB pool, one Redis connection. */
export interface Infra {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  store: Store;
  jobs: JobStore;
  progress: ProgressStore;
  topics: TopicNames;
  close(): Promise<void>;
}

/** Connects, creates the topics and indexes the roles rely on (idempotent), and returns the shared clients. */
export async function openInfra(config: Config, log: Logger): Promise<Infra> {
  const topics = topicNames(config.kafka.topicPrefix);
  const bus = createKafkaBus(config.kafka, log);
  const progress = createProgressStore(config.redis);
  let store: Store | undefined;
  try {
    store = await connectStore(config.mongo);
    await ensureIndexes(store);
    await bus.ensureTopics(topics);
  } catch (error) {
    await bus.close();
    await progress.close();
    await store?.close();
    throw error;
  }
  const connected = store;
  return {
    config, log, bus, store: connected, jobs: new JobStore(connected), progress, topics,
    async close() {
      // Each step runs even when an earlier one fails: Kafka first (stop consuming, flush), then the stores.
      for (const [name, step] of [['kafka', () => bus.close()], ['redis', () => progress.close()], ['mongo', () => connected.close()]] as const) {
        try {
          await step();
        } catch (error) {
          log.warn({ err: error, step: name }, 'close step failed');
        }
      }
    },
  };
}
