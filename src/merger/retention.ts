import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';

/** What retention needs of the store: the old jobs, a way to delete one with all it owns, and old stream frames. */
export interface RetentionStore {
  /** Up to `limit` finished jobs that ended before `before`. */
  endedJobs(before: Date, limit: number): Promise<{ _id: string; tenant: string; uploadId: string }[]>;
  /** Deletes a job with its frames, chunks, upload and annotated video. */
  deleteJob(job: { _id: string; tenant: string; uploadId: string }): Promise<void>;
  /** Deletes up to `limit` stream frames captured before `beforeMs`; returns how many it deleted. */
  deleteStreamFrames(beforeMs: number, limit: number): Promise<number>;
}

/** At most this many batches per pass, so that one pass ends and the next starts from fresh. */
const MAX_BATCHES = 50;

/**
 * Removes what is older than VDET_RETENTION_DAYS in the background, in bounded batches: finished jobs with their
 * results, uploads and annotated videos, and stream frames. Started by the merger; a pass that fails is logged and
 * the next one tries again (every step is idempotent).
 */
export function createRetention(store: RetentionStore, config: Config['retention'], log: Pick<Logger, 'info' | 'error'>) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function runOnce(now = Date.now()): Promise<{ jobs: number; streamFrames: number }> {
    const removed = { jobs: 0, streamFrames: 0 };
    if (config.days === undefined) return removed;
    const cutoff = now - config.days * 24 * 3600 * 1000;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const jobs = await store.endedJobs(new Date(cutoff), config.batch);
      for (const job of jobs) await store.deleteJob(job);
      removed.jobs += jobs.length;
      if (jobs.length < config.batch) break;
    }
    for (let i = 0; i < MAX_BATCHES; i++) {
      const n = await store.deleteStreamFrames(cutoff, config.batch);
      removed.streamFrames += n;
      if (n < config.batch) break;
    }
    if (removed.jobs + removed.streamFrames > 0) log.info({ ...removed, days: config.days }, 'retention removed old results');
    return removed;
  }

  return {
    runOnce,
    start(): void {
      if (config.days === undefined || timer) return;
      const tick = () => {
        if (running) return;
        running = runOnce().catch((error: unknown) => log.error({ err: error }, 'retention pass failed')).finally(() => {
          running = undefined;
        });
      };
      timer = setInterval(tick, config.intervalS * 1000);
      timer.unref();
      tick();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
