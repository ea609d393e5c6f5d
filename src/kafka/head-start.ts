/**
 * Handling a partition's messages in order while the slow part of the next few already runs: the detector's model
 * runs overlap across chunks of one partition (several streams often share one), yet results still leave in order.
 * Pure apart from the callbacks, so the ordering and the bounds are tested without Kafka.
 */

/** Counting permits shared by all partitions of one consumer; a waiter is served before any `tryTake`. */
export class Permits {
  private readonly waiters: (() => void)[] = [];

  constructor(private free: number) {
    if (!(free >= 1)) throw new RangeError('Permits needs at least one permit');
  }

  get available(): number {
    return this.free;
  }

  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  take(): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

export interface InOrderSteps<M, T> {
  /** Starts a message's slow work; may run before the message's turn. */
  prepare(message: M): Promise<T>;
  /** The message's turn, in order; gets what `prepare` began for it. */
  handle(message: M, prepared: Promise<T>): Promise<void>;
  /** After `handle` resolved: e.g. mark the offset done. */
  done?(message: M): void | Promise<void>;
  /** Checked before each turn; false stops (the rest is left for redelivery). */
  keepGoing?(): boolean;
}

/**
 * Handles `messages` in order; each holds one of `permits` from its `prepare` until its `handle` resolved, and the
 * messages after the current one are prepared early while permits are free. A message whose turn comes without a
 * head start waits for a permit, so work in flight never passes the permits' count (plus nothing). Permits of head
 * starts left behind (a stop, a throw) are given back; their work finishes unused.
 */
export async function handleInOrder<M, T>(messages: readonly M[], permits: Permits, steps: InOrderSteps<M, T>): Promise<void> {
  const started: Promise<T>[] = [];
  let finished = 0;
  const start = (i: number) => {
    const work = steps.prepare(messages[i]!);
    work.catch(() => undefined); // awaited in its turn; an early failure must not go unhandled meanwhile
    started[i] = work;
  };
  try {
    for (let i = 0; i < messages.length; i++) {
      if (steps.keepGoing && !steps.keepGoing()) return;
      if (started.length <= i) {
        await permits.take();
        start(i);
      }
      while (started.length < messages.length && permits.tryTake()) start(started.length);
      await steps.handle(messages[i]!, started[i]!);
      finished = i + 1;
      permits.give();
      await steps.done?.(messages[i]!);
    }
  } finally {
    for (let i = finished; i < started.length; i++) permits.give();
  }
}
