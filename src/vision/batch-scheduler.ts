import type { Detection } from '../contracts/messages.js';
import type { FrameLayout } from './tensor.js';
import type { FrameDecode } from './yolox.js';

/**
 * Gathers frames from every waiting chunk, whatever job or stream they belong to, into batches of up to `batchMax`
 * frames, waiting at most `batchWaitMs` for a batch to fill, and hands each batch to an idle device. Batches are
 * filled round-robin across jobs, so a long video cannot starve a short one queued after it. No I/O here: devices
 * are {@link BatchRunner}s, so the scheduling rules are testable with fake runners.
 */
export interface BatchItem {
  /** Fairness key: frames of one job (or stream) share it. */
  readonly queue: string;
  /** Live-stream frames: served before file frames, and dispatched without waiting for a batch to fill. */
  readonly urgent?: boolean;
  readonly pixels: Uint8Array;
  /** How `pixels` are laid out when they are not a whole BGR frame (live-stream frames: the image only, RGB). */
  readonly layout?: FrameLayout;
  /**
   * A drop-oldest stream frame is not worth a model run after this instant (ms since the epoch): if it is still
   * waiting then, it leaves the queue through `expire` instead of taking a device.
   */
  readonly deadline?: number;
  expire?(): void;
  /** How the model's output for this frame becomes detections: the runner decodes it next to the model. */
  readonly decode: FrameDecode;
  /** Called once the batch ran, with this frame's detections (best first). */
  finish(detections: Detection[]): void;
  fail(error: unknown): void;
}

export interface BatchRunner {
  readonly name: string;
  readonly maxBatch: number;
  /** Runs the batch and calls finish (or fail) on every item before resolving. */
  run(items: readonly BatchItem[]): Promise<void>;
}

export interface BatchStats {
  batches: number;
  frames: number;
  /** How many batches each runner took. */
  perRunner: Record<string, number>;
}

export interface SchedulerOptions {
  batchMax: number;
  batchWaitMs: number;
  /** Called with every batch dispatched (for metrics and tests). */
  onBatch?: (runner: string, items: readonly BatchItem[]) => void;
}

export class BatchScheduler {
  private readonly queues = new Map<string, BatchItem[]>();
  private readonly urgentQueues = new Map<string, BatchItem[]>();
  private urgentWaiting = 0;
  private readonly idle: BatchRunner[];
  private waiting = 0;
  private oldestAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: BatchStats = { batches: 0, frames: 0, perRunner: {} };

  constructor(runners: readonly BatchRunner[], private readonly options: SchedulerOptions) {
    if (runners.length === 0) throw new RangeError('BatchScheduler needs at least one runner');
    this.idle = [...runners];
  }

  /** Frames waiting for a device. */
  get pending(): number {
    return this.waiting;
  }

  submit(items: readonly BatchItem[]): void {
    if (this.closed) {
      for (const item of items) item.fail(new Error('the batch scheduler is closed'));
      return;
    }
    if (this.waiting === 0) this.oldestAt = Date.now();
    for (const item of items) {
      const queues = item.urgent ? this.urgentQueues : this.queues;
      const queue = queues.get(item.queue);
      if (queue) queue.push(item);
      else queues.set(item.queue, [item]);
      if (item.urgent) this.urgentWaiting++;
    }
    this.waiting += items.length;
    this.pump();
  }

  /** Fails every waiting frame; running batches finish. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const queues of [this.queues, this.urgentQueues]) {
      for (const queue of queues.values()) for (const item of queue) item.fail(new Error('the batch scheduler is closed'));
      queues.clear();
    }
    this.urgentWaiting = 0;
    this.waiting = 0;
  }

  private pump(): void {
    while (this.waiting > 0 && this.idle.length > 0) {
      const full = this.waiting >= this.options.batchMax || this.urgentWaiting > 0;
      const waitedEnough = Date.now() - this.oldestAt >= this.options.batchWaitMs;
      if (!full && !waitedEnough) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.max(0, this.options.batchWaitMs - (Date.now() - this.oldestAt)));
        return;
      }
      const runner = this.idle[0]!;
      const batch = this.take(Math.min(this.options.batchMax, runner.maxBatch));
      if (batch.length === 0) continue; // every frame taken had expired
      this.dispatch(this.idle.shift()!, batch);
    }
  }

  /**
   * Takes up to n frames: stream frames first, then one from each job in turn (round-robin across jobs). Frames
   * past their deadline met on the way are expired, not taken.
   */
  private take(n: number): BatchItem[] {
    const batch: BatchItem[] = [];
    const now = Date.now();
    for (const queues of [this.urgentQueues, this.queues]) {
      while (batch.length < n && queues.size > 0) {
        for (const key of [...queues.keys()]) {
          const queue = queues.get(key)!;
          const item = queue.shift()!;
          this.waiting--;
          if (item.urgent) this.urgentWaiting--;
          if (item.deadline !== undefined && item.deadline < now && item.expire) item.expire();
          else batch.push(item);
          // Re-insert a queue that still has frames at the end, so the next batch starts with the next job.
          queues.delete(key);
          if (queue.length > 0) queues.set(key, queue);
          if (batch.length === n) break;
        }
      }
    }
    this.oldestAt = now;
    return batch;
  }

  private dispatch(runner: BatchRunner, batch: BatchItem[]): void {
    this.stats.batches++;
    this.stats.frames += batch.length;
    this.stats.perRunner[runner.name] = (this.stats.perRunner[runner.name] ?? 0) + 1;
    this.options.onBatch?.(runner.name, batch);
    runner.run(batch)
      .catch((error: unknown) => {
        for (const item of batch) item.fail(error);
      })
      .finally(() => {
        this.idle.push(runner);
        this.pump();
      });
  }
}
