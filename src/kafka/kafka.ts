import { Kafka, logLevel, Partitioners, type Consumer, type Producer, type Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import { runWithRetry, type RetryPolicy } from '../platform/retry.js';
import type { ConsumeOptions, ConsumerHandle, IncomingMessage, KafkaBus } from './bus.js';
import { Permits, handleInOrder } from './head-start.js';
import { RETRY, connectionOptions, coordinatorWaiter, toIncoming } from './kafkajs-client.js';
import { startSupervisedConsumer } from './supervised-consumer.js';

/** Attempts for an unexpected (non-outage) failure before a message is given up. */
const MAX_ATTEMPTS = 5;

/** The kafkajs-backed {@link KafkaBus}: one producer, supervised consumers, an admin client, all made on first use. */
export function createKafkaBus(config: Config['kafka'], log: Logger): KafkaBus {
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ...connectionOptions(config.security),
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const line = { kafka: namespace, ...extra };
      if (level <= logLevel.ERROR) log.error(line, message);
      else log.warn(line, message);
    },
    retry: RETRY,
  });
  let producer: Producer | undefined;
  let producerReady: Promise<Producer> | undefined;
  let admin: Admin | undefined;
  const consumers = new Set<Consumer>();
  let stopping = false;
  const supervision = {
    kafka, log, maxMessageBytes: config.maxMessageBytes, consumers, awaitCoordinator: coordinatorWaiter(config, log),
    stopping: () => stopping,
    markStopping: () => { stopping = true; },
  };
  const startConsumer = (groupId: string, topics: string[], run: (consumer: Consumer, first: boolean) => Promise<void>, onGroupJoin?: () => void): Promise<ConsumerHandle> =>
    startSupervisedConsumer(supervision, groupId, topics, run, onGroupJoin);

  const getProducer = () => {
    producerReady ??= (async () => {
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await p.connect();
      producer = p;
      return p;
    })().catch((error: unknown) => {
      producerReady = undefined;
      throw error;
    });
    return producerReady;
  };
  /** How a consumer retries a message or a batch (src/platform/retry.ts), each retry logged with where it stands. */
  const retryPolicy = (maxAttempts: number, what: 'message' | 'batch', where: Record<string, unknown>): RetryPolicy => ({
    maxAttempts,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    stopping: () => stopping,
    onRetry: (error, attempt, kind, waitMs) => log.warn({ ...where, attempt, kind, waitMs, err: error }, `${what} handling failed; retrying`),
  });
  const getAdmin = async () => {
    if (!admin) {
      const a = kafka.admin();
      await a.connect();
      admin = a;
    }
    return admin;
  };

  return {
    async send(topic, messages) {
      if (messages.length === 0) return;
      const p = await getProducer();
      const sending = p.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      // kafkajs can leave a send unanswered for good after a request timed out on a frozen broker (its "Response
      // without match" case): bounded here, the caller retries as for an outage, on a new producer.
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => { timer = setTimeout(() => resolve('expired'), config.sendTimeoutMs); });
      try {
        if ((await Promise.race([sending, expired])) !== 'expired') return;
      } finally {
        clearTimeout(timer);
      }
      sending.catch(() => undefined); // may still settle, either way, once nobody listens
      if (producer === p) {
        producer = undefined;
        producerReady = undefined;
      }
      log.warn({ topic, timeoutMs: config.sendTimeoutMs }, 'kafka send not acknowledged in time; the producer is replaced');
      void p.disconnect().catch(() => undefined);
      throw new VdetError('VDET_DEPENDENCY_UNAVAILABLE', `Kafka did not acknowledge a send to ${topic} within ${config.sendTimeoutMs} ms.`);
    },

    async consume<T>(options: ConsumeOptions<T>) {
      /** One message's handling: retried, then given up; heartbeats go on meanwhile (a retry may wait long). */
      const handleOne = async (incoming: IncomingMessage, heartbeat: () => Promise<void>, prepared?: Promise<T>) => {
        const timer = setInterval(() => void heartbeat().catch(() => undefined), 2_000);
        let first = prepared;
        try {
          await runWithRetry(
            () => {
              const work = first;
              first = undefined;
              return options.handle(incoming, work);
            },
            (error, attempts) => options.giveUp(incoming, error, attempts),
            retryPolicy(MAX_ATTEMPTS, 'message', { groupId: options.groupId, topic: incoming.topic, partition: incoming.partition, offset: incoming.offset, key: incoming.key }),
          );
        } finally {
          clearInterval(timer);
        }
      };
      const { headStart } = options;
      const permits = headStart ? new Permits(headStart.limit) : undefined;
      return startConsumer(options.groupId, options.topics, async (consumer) => {
        if (headStart && permits) {
          await consumer.run({
            partitionsConsumedConcurrently: options.concurrency,
            eachBatchAutoResolve: false,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              await handleInOrder(batch.messages.map((m) => toIncoming(batch.topic, batch.partition, m)), permits, {
                prepare: (message) => headStart.prepare(message),
                handle: (message, prepared) => handleOne(message, heartbeat, prepared),
                done: async (message) => {
                  resolveOffset(message.offset);
                  await heartbeat(); // sent at most every heartbeatInterval: a long batch keeps the group membership
                },
                keepGoing: () => isRunning() && !isStale(),
              });
            },
          });
        } else {
          await consumer.run({
            partitionsConsumedConcurrently: options.concurrency,
            eachMessage: ({ topic, partition, message, heartbeat }) => handleOne(toIncoming(topic, partition, message), heartbeat),
          });
        }
      }, options.onGroupJoin);
    },

    async consumeBatches(options) {
      // The ends of the topics before anything else, so that nothing produced after this call returns is missed.
      const ends = options.startAt === 'latest'
        ? await Promise.all(options.topics.map(async (topic) => ({ topic, offsets: await (await getAdmin()).fetchTopicOffsets(topic) })))
        : [];
      return startConsumer(options.groupId, options.topics, async (consumer, first) => {
        await consumer.run({
          partitionsConsumedConcurrently: options.concurrency,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
            if (!isRunning() || isStale() || batch.messages.length === 0) return;
            const messages = batch.messages.map((message) => toIncoming(batch.topic, batch.partition, message));
            await runWithRetry(() => options.handleBatch(messages), async (error) => {
              throw error; // a batch is never given up whole: per-frame problems were dead-lettered inside
            }, retryPolicy(Number.MAX_SAFE_INTEGER, 'batch', { groupId: options.groupId, topic: batch.topic, partition: batch.partition, messages: messages.length }));
            resolveOffset(batch.lastOffset());
            await commitOffsetsIfNecessary();
            await heartbeat();
          },
        });
        // A replacement consumer (after a crash) goes on from the group's committed offsets.
        if (first) {
          for (const { topic, offsets } of ends) {
            for (const { partition, high } of offsets) consumer.seek({ topic, partition, offset: high });
          }
        }
      });
    },

    async ensureTopics(topics) {
      const a = await getAdmin();
      const existing = new Set(await a.listTopics());
      const wanted = Object.values(topics).filter((t) => !existing.has(t));
      if (wanted.length === 0) return;
      try {
        await a.createTopics({
          waitForLeaders: true,
          topics: wanted.map((topic) => ({
            topic,
            numPartitions: config.partitions,
            replicationFactor: -1,
            configEntries: [{ name: 'max.message.bytes', value: String(config.maxMessageBytes) }],
          })),
        });
      } catch (error) {
        // Another process may be creating them at the same moment: wait until its topics show, or give up.
        for (let attempt = 0; attempt < 20; attempt++) {
          const now = new Set(await a.listTopics());
          if (wanted.every((t) => now.has(t))) return;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        throw error;
      }
    },

    async lag(groupId, topic) {
      const a = await getAdmin();
      const [latest, [committed]] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId, topics: [topic] })]);
      return latest.map((p) => {
        const c = committed?.partitions.find((x) => x.partition === p.partition);
        const done = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(p.low);
        return { partition: p.partition, lag: Math.max(0, Number(p.high) - done) };
      });
    },

    async deleteGroup(groupId) {
      await (await getAdmin()).deleteGroups([groupId]);
    },

    async ping() {
      const a = await getAdmin();
      await a.describeCluster();
    },

    async close() {
      stopping = true;
      const steps = [
        ...[...consumers].map((c) => () => c.disconnect()),
        () => producer?.disconnect(),
        () => admin?.disconnect(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          log.warn({ err: error }, 'kafka close step failed');
        }
      }
      consumers.clear();
    },
  };
}

