import { Kafka, logLevel, Partitioners, type Consumer, type IHeaders, type KafkaConfig, type KafkaMessage, type Producer, type Admin, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config, KafkaSecurity } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import { Permits, handleInOrder } from './head-start.js';
import { runWithRetry, type RetryPolicy } from '../platform/retry.js';
import type { TopicNames } from '../contracts/topics.js';

/** Attempts for an unexpected (non-outage) failure before a message is given up. */
const MAX_ATTEMPTS = 5;
/** How long a consumer waits, quietly, for its group's coordinator before joining anyway. */
const COORDINATOR_WAIT_MS = 60_000;

/**
 * vdet's Kafka adapter. kafkajs is in maintenance mode upstream, so nothing outside this file imports it: roles
 * see {@link KafkaBus}, {@link OutgoingMessage} and {@link IncomingMessage}, which another client could back.
 */
export interface OutgoingMessage {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface ConsumeOptions<T = void> {
  groupId: string;
  topics: string[];
  /** How many partitions are handled at once (each partition stays in order). */
  concurrency: number;
  /**
   * Called once per message; the offset is committed only after it resolves, so whatever it writes must be
   * acknowledged before it returns. A throw is retried as src/platform/retry.ts says (outages without bound, other
   * errors a few times), then handed to `giveUp`.
   */
  handle(message: IncomingMessage, prepared?: Promise<T>): Promise<void>;
  /** The message cannot be processed: dead-letter it and fail its job. Its offset is committed afterwards. */
  giveUp(message: IncomingMessage, error: unknown, attempts: number): Promise<void>;
  /**
   * Optional head start (src/kafka/head-start.ts): `prepare` begins the slow work of a partition's next messages
   * while earlier ones are still handled, at most `limit` messages at once over the whole consumer. `handle` still
   * runs in order and gets that work on its first try (retries get nothing and start again).
   */
  headStart?: { limit: number; prepare(message: IncomingMessage): Promise<T> };
  /**
   * Called whenever the consumer (re)joins its group, before it handles anything there: its partitions may have
   * moved, so whatever the handler keeps in memory per partition or key must be read again.
   */
  onGroupJoin?(): void;
}

/**
 * Batch consumption: `handleBatch` gets every message fetched from one partition at once (in order), and the
 * offsets are committed after it resolves. For low-latency streams: what arrived together is processed together.
 * Per-message problems are the handler's to dead-letter; a throw retries the whole batch (outages wait).
 */
export interface ConsumeBatchOptions {
  groupId: string;
  topics: string[];
  concurrency: number;
  handleBatch(messages: IncomingMessage[]): Promise<void>;
  /**
   * Where a group with no committed offsets starts: `earliest` (the default; a role sees everything) or `latest`
   * (what is produced from the moment this call returns; a watcher such as `vdet push` reading its results).
   */
  startAt?: 'earliest' | 'latest';
}

export interface ConsumerHandle {
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface KafkaBus {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  consume<T = void>(options: ConsumeOptions<T>): Promise<ConsumerHandle>;
  consumeBatches(options: ConsumeBatchOptions): Promise<ConsumerHandle>;
  ensureTopics(topics: TopicNames): Promise<void>;
  /** Per partition: how far a group's committed offset is behind the end of the topic. */
  lag(groupId: string, topic: string): Promise<{ partition: number; lag: number }[]>;
  ping(): Promise<void>;
  /** Removes a consumer group that has no members (a watcher's, once it is done). */
  deleteGroup(groupId: string): Promise<void>;
  close(): Promise<void>;
}

/** kafkajs' connection options for the configured protocol: TLS with the CA and client certificate, SASL credentials. */
export function connectionOptions(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const ssl = security.protocol === 'ssl' || security.protocol === 'sasl_ssl' ? { ...security.tls } : undefined;
  const sasl = security.sasl
    ? { mechanism: security.sasl.mechanism, username: security.sasl.username, password: security.sasl.password } as SASLOptions
    : undefined;
  return { ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
}

/** kafkajs' retries for every client and consumer of a bus. */
const RETRY = { initialRetryTime: 300, retries: 8 };

/** Whether a Kafka error says the credentials or the ACLs refuse this client: a restart cannot mend that. */
function isAccessDenied(error: Error): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++, e = (e as Error & { originalError?: unknown }).originalError ?? e.cause) {
    const type = (e as { type?: unknown }).type;
    if (e.name === 'KafkaJSSASLAuthenticationError' || (typeof type === 'string' && /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED/.test(type))) return true;
  }
  return false;
}

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
  // A fresh broker loads a group's coordinator (its __consumer_offsets partition) a moment after it serves clients;
  // a consumer that joins before then logs "The group coordinator is not available" at error level and retries.
  // Asking quietly first, and joining once the coordinator answers, keeps start-up logs free of that false alarm.
  const quiet = new Kafka({ clientId: `${config.clientId}-probe`, brokers: [...config.brokers], ...connectionOptions(config.security), logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const awaitCoordinator = async (groupId: string) => {
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
  /**
   * A consumer of `topics` in `groupId`, started by `run`, behind a handle that outlives it. kafkajs restarts a
   * crashed consumer only after errors it calls retriable; a broker that is down or frozen for a while ends a
   * group-coordinator lookup with a "non-retriable" one, after which kafkajs leaves the consumer stopped while its
   * process lives on (the fault suite's stall after a broker outage). Such a consumer is replaced here by a new one,
   * with back-off, until one runs. Bad credentials or missing ACLs, which no restart mends, end the process instead
   * (offsets are committed only after the work: nothing is lost); its supervisor reports it and starts it again.
   */
  const startConsumer = async (groupId: string, topics: string[], run: (consumer: Consumer, first: boolean) => Promise<void>, onGroupJoin?: () => void): Promise<ConsumerHandle> => {
    const topicList = topics.map((topic) => ({ topic }));
    let current: Consumer | undefined;
    let stopped = false;
    let paused = false;
    const create = async (first: boolean) => {
      await awaitCoordinator(groupId);
      const consumer = kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxBytesPerPartition: config.maxMessageBytes,
        maxBytes: config.maxMessageBytes * 2,
        sessionTimeout: 10_000,
        heartbeatInterval: 3_000,
        maxWaitTimeInMs: 500,
        retry: RETRY,
      });
      consumers.add(consumer);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        log.info({ groupId, memberId: payload.memberId, partitions: Object.values(payload.memberAssignment).reduce((n, p) => n + p.length, 0) }, 'kafka group joined');
        onGroupJoin?.();
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (stopping || stopped) return;
        if (payload.restart) {
          log.warn({ groupId, err: payload.error }, 'kafka consumer crashed; kafkajs restarts it');
          return;
        }
        if (isAccessDenied(payload.error)) {
          log.fatal({ groupId, err: payload.error }, 'kafka consumer stopped for good (access denied); exiting so that the role is started again');
          setImmediate(() => process.exit(1));
          return;
        }
        log.warn({ groupId, err: payload.error }, 'kafka consumer stopped after an error kafkajs does not retry; starting a new one');
        consumers.delete(consumer);
        void consumer.disconnect().catch(() => undefined);
        void replace();
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: true });
        await run(consumer, first);
      } catch (error) {
        consumers.delete(consumer);
        await consumer.disconnect().catch(() => undefined);
        throw error;
      }
      current = consumer;
      if (paused) consumer.pause(topicList);
    };
    const replace = async () => {
      current = undefined;
      for (let attempt = 0; !stopping && !stopped; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)));
        if (stopping || stopped) return;
        try {
          await create(false);
          log.info({ groupId, attempts: attempt + 1 }, 'kafka consumer replaced');
          return;
        } catch (error) {
          log.warn({ groupId, err: error, attempt: attempt + 1 }, 'kafka consumer could not be started again yet; retrying');
        }
      }
    };
    await create(true);
    return {
      stop: async () => {
        stopped = true;
        stopping = true;
        const consumer = current;
        if (!consumer) return;
        consumers.delete(consumer);
        await consumer.disconnect();
      },
      pause: () => {
        paused = true;
        current?.pause(topicList);
      },
      resume: () => {
        paused = false;
        current?.resume(topicList);
      },
    };
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

function toIncoming(topic: string, partition: number, message: KafkaMessage): IncomingMessage {
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

/** Headers of a dead letter: where it came from and why it could not be processed. */
export function deadLetterHeaders(source: IncomingMessage, error: VdetError, attempts: number): Record<string, string> {
  return {
    'vdet-source-topic': source.topic,
    'vdet-source-partition': String(source.partition),
    'vdet-source-offset': source.offset,
    'vdet-error-code': error.code,
    'vdet-error': error.message.slice(0, 1000),
    'vdet-attempts': String(attempts),
  };
}
