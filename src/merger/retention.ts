import type { Config } from '../platform/config.js';
import type { JobStatus } from '../store/job-state.js';
import type { Logger } from '../platform/logger.js';

type JobRef = { _id: string; tenant: string; uploadId: string; status: JobStatus };

/** What retention needs of the store: the old jobs, a way to delete one with all it owns, and old stream frames. */
export interface RetentionStore {
  /** Up to `limit` finished jobs that ended before `before`. */
  endedJobs(before: Date, limit: number): Promise<JobRef[]>;
  /** Up to `limit` jobs whose own retention (`options.retentionDays`) ran out before `now`. */
  expiredJobs(now: Date, limit: number): Promise<JobRef[]>;
  /** Deletes a job with its frames, chunks, upload and annotated video. */
  deleteJob(job: JobRef): Promise<void>;
  /** Deletes up to `limit` stream frames (of one stream, when given) captured before `beforeMs`; returns how many. */
  deleteStreamFrames(beforeMs: number, limit: number, stream?: { tenant: string; name: string }): Promise<number>;
  /** Streams whose settings ask for their own retention (at most a thousand a pass). */
  streamsWithRetention(): Promise<{ tenant: string; name: string; days: number }[]>;
}

/** At most this many batches per pass, so that one pass ends and the next starts from fresh. */
const MAX_BATCHES = 50;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Removes in the background, in bounded batches, what is older than VDET_RETENTION_DAYS (finished jobs with their
 * results, uploads and annotated videos, and stream frames), and what a job's `retentionDays` option or a stream's
 * `retentionDays` setting says to remove sooner: the shorter retention wins. Started by the merger; a pass that fails
 * is logged and the next one tries again (every step is idempotent).
 */
export function createRetention(store: RetentionStore, config: Config['retention'], log: Pick<Logger, 'info' | 'error'>) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function runOnce(now = Date.now()): Promise<{ jobs: number; streamFrames: number }> {
    const removed = { jobs: 0, streamFrames: 0 };
    const jobsIn = async (find: () => Promise<JobRef[]>) => {
      for (let i = 0; i < MAX_BATCHES; i++) {
        const jobs = await find();
        for (const job of jobs) await store.deleteJob(job);
        removed.jobs += jobs.length;
        if (jobs.length < config.batch) break;
      }
    };
    const framesIn = async (beforeMs: number, stream?: { tenant: string; name: string }) => {
      for (let i = 0; i < MAX_BATCHES; i++) {
        const n = await store.deleteStreamFrames(beforeMs, config.batch, stream);
        removed.streamFrames += n;
        if (n < config.batch) break;
      }
    };
    if (config.days !== undefined) {
      const cutoff = now - config.days * DAY_MS;
      await jobsIn(() => store.endedJobs(new Date(cutoff), config.batch));
      await framesIn(cutoff);
    }
    await jobsIn(() => store.expiredJobs(new Date(now), config.batch));
    for (const stream of await store.streamsWithRetention()) {
      if (config.days === undefined || stream.days < config.days) await framesIn(now - stream.days * DAY_MS, stream);
    }
    if (removed.jobs + removed.streamFrames > 0) log.info({ ...removed, days: config.days }, 'retention removed old results');
    return removed;
  }

  return {
    runOnce,
    start(): void {
      if (timer) return; // also without VDET_RETENTION_DAYS: jobs and streams may ask for their own retention
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
