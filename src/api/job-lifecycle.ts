import { deleteJobRecords } from '../store/job-data.js';
import type { JobRecord } from '../store/job-record.js';
import type { ApiDeps } from './deps.js';

/**
 * Cancels a job and deletes everything of it. A running job's record goes first, so that the processor and merger,
 * which look the job up before working on it, skip what is still queued; a Redis flag lets the detector skip its
 * chunks too. An ended job's record goes last (see deleteJobRecords).
 */
export async function deleteJobData(deps: Pick<ApiDeps, 'store' | 'progress'>, job: JobRecord): Promise<void> {
  const { store, progress } = deps;
  await progress.markCancelled(job._id).catch(() => undefined);
  await deleteJobRecords(store, job);
  await progress.forget(job._id).catch(() => undefined);
}
