import type { TopicNames } from '../contracts/topics.js';

/**
 * vdet's port to Kafka. kafkajs is in maintenance mode upstream, so nothing outside src/kafka/ imports it: roles see
 * {@link KafkaBus}, {@link OutgoingMessage} and {@link IncomingMessage}, which another client could back (kafka.ts is
 * the kafkajs one).
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
