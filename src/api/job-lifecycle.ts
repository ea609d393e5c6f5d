import type { JobRecord } from '../store/job-record.js';
import type { ApiDeps } from './deps.js';

/**
 * Cancels a job and deletes everything of it. A running job's record goes first, so that the processor and merger,
 * which look the job up before working on it, skip what is still queued; a Redis flag lets the detector skip its
 * chunks too. An ended job's record goes last (see the store's deleteJobRecords).
 */
export async function deleteJobData(deps: Pick<ApiDeps, 'jobs' | 'progress'>, job: JobRecord): Promise<void> {
  const { jobs, progress } = deps;
  await progress.markCancelled(job._id).catch(() => undefined);
  await jobs.delete(job);
  await progress.forget(job._id).catch(() => undefined);
}
