import type { ConsumeBatchOptions, ConsumeOptions, ConsumerHandle, IncomingMessage, KafkaBus, OutgoingMessage } from '../../src/kafka/bus.js';
import { runWithRetry } from '../../src/platform/retry.js';

/**
 * An in-memory {@link KafkaBus} for orchestration tests of a role's app: one partition per topic, messages kept in
 * order, each consumer handed every message of its topics in turn with the adapter's contract — the handler retried
 * (outages without bound, other failures a few times; no waiting here), then given up, then the offset committed.
 * It proves how an app reacts to its messages; that the real adapter keeps the contract, tests/kafka/ proves.
 */
export class MemoryBus implements KafkaBus {
  readonly topics = new Map<string, IncomingMessage[]>();
  private readonly consumers: { topics: string[]; deliver(message: IncomingMessage): Promise<void>; offsets: Map<string, number> }[] = [];
  private delivering: Promise<void> = Promise.resolve();
  /** Sends fail with this error while it is set (an outage). */
  sendError: Error | undefined;
  /** What a consumer threw after giving up failed too (the real adapter would not commit, and deliver it again). */
  readonly errors: unknown[] = [];

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.sendError) throw this.sendError;
    const log = this.topics.get(topic) ?? [];
    this.topics.set(topic, log);
    for (const m of messages) {
      log.push({ topic, partition: 0, offset: String(log.length), key: m.key ?? undefined, value: m.value, headers: { ...(m.headers ?? {}) } as Record<string, string>, timestamp: String(Date.now()) });
    }
    this.pump();
  }

  /** What was sent to a topic, in order. */
  sent(topic: string): IncomingMessage[] {
    return this.topics.get(topic) ?? [];
  }

  /** Resolves once every consumer has handled every message sent so far (and what they sent meanwhile). */
  async drain(): Promise<void> {
    for (;;) {
      const before = this.delivering;
      await before;
      if (before === this.delivering && this.consumers.every((c) => c.topics.every((t) => (c.offsets.get(t) ?? 0) >= this.sent(t).length))) return;
    }
  }

  async consume<T>(options: ConsumeOptions<T>): Promise<ConsumerHandle> {
    return this.register(options.topics, async (message) => {
      let prepared = options.headStart ? options.headStart.prepare(message) : undefined;
      prepared?.catch(() => undefined);
      await runWithRetry(
        () => {
          const work = prepared;
          prepared = undefined;
          return options.handle(message, work);
        },
        (error, attempts) => options.giveUp(message, error, attempts),
        { maxAttempts: 5, sleep: async () => undefined, stopping: () => false },
      );
    });
  }

  async consumeBatches(options: ConsumeBatchOptions): Promise<ConsumerHandle> {
    return this.register(options.topics, (message) => options.handleBatch([message]));
  }

  private register(topics: string[], deliver: (message: IncomingMessage) => Promise<void>): ConsumerHandle {
    this.consumers.push({ topics, deliver, offsets: new Map() });
    this.pump();
    return { stop: async () => undefined, pause: () => undefined, resume: () => undefined };
  }

  private pump(): void {
    this.delivering = this.delivering.then(async () => {
      for (let moved = true; moved;) {
        moved = false;
        for (const consumer of this.consumers) {
          for (const topic of consumer.topics) {
            const at = consumer.offsets.get(topic) ?? 0;
            const message = this.sent(topic)[at];
            if (!message) continue;
            await consumer.deliver(message).catch((error: unknown) => this.errors.push(error));
            consumer.offsets.set(topic, at + 1); // committed after the handler (or its giving up) resolved
            moved = true;
          }
        }
      }
    });
  }

  async ensureTopics(): Promise<void> {}
  async lag(): Promise<{ partition: number; lag: number }[]> {
    return [];
  }
  async ping(): Promise<void> {}
  async deleteGroup(): Promise<void> {}
  async close(): Promise<void> {}
}
