import type { Collection } from 'mongodb';
import { isFinished } from './job-state.js';
import type { JobRecord } from './job-record.js';
import type { Store } from './mongo.js';
import type { StreamFrameStore } from './stream-frame-store.js';
import type { StreamRecord } from './stream-store.js';

/**
 * Deletes a job and everything stored of it: its frames and chunks, its tracks, its upload, its annotated video and
 * its idempotency keys, and its record. A job still running loses its record first, so that workers looking the job
 * up skip what is left of it. A job that ended (what retention deletes, and a DELETE of a finished job) loses its
 * record last: workers skip ended jobs anyway, and a failure or crash halfway leaves the record for the next
 * retention pass or DELETE to finish, instead of an upload and results no record points to. Each step is an equality
 * on the job's id: its cost is the job's size, whatever else is stored.
 */
export async function deleteJobRecords(store: Store, job: Pick<JobRecord, '_id' | 'tenant' | 'uploadId' | 'status'>): Promise<void> {
  const ended = isFinished(job.status);
  const record = () => store.jobs.deleteOne({ _id: job._id, tenant: job.tenant });
  if (!ended) await record();
  await store.frames.deleteMany({ tenant: job.tenant, jobId: job._id });
  await store.chunks.deleteMany({ jobId: job._id });
  await store.tracking.deleteOne({ _id: job._id });
  await store.tracks.deleteMany({ tenant: job.tenant, jobId: job._id });
  await store.trackPages.deleteMany({ tenant: job.tenant, jobId: job._id });
  await store.labelPages.deleteMany({ tenant: job.tenant, jobId: job._id });
  await store.uploads.deleteNamed(job.uploadId);
  await store.annotated.deleteNamed(job._id);
  await store.db.collection('idempotency').deleteMany({ jobId: job._id });
  if (ended) await record();
}

/** What deleting a job needs of its record. */
const JOB_REF = { _id: 1, tenant: 1, uploadId: 1, status: 1 } as const;

/**
 * The store side of the merger's retention (see src/merger/retention.ts). Finding what is old is a range query,
 * which FerretDB runs over every job and stream frame in its own memory: a background pass, in batches, never a
 * request; the deletions are equalities on ids.
 */
export function retentionStore(store: Store, streamFrames: StreamFrameStore, streams: Collection<StreamRecord>) {
  return {
    endedJobs: (before: Date, limit: number) =>
      store.jobs.find({ finishedAt: { $lt: before } }, { projection: JOB_REF }).limit(limit).toArray(),
    expiredJobs: (now: Date, limit: number) =>
      store.jobs.find({ expiresAt: { $lt: now } }, { projection: JOB_REF }).limit(limit).toArray(),
    deleteJob: (job: Pick<JobRecord, '_id' | 'tenant' | 'uploadId' | 'status'>) => deleteJobRecords(store, job),
    /** Legacy frames first (one document each: a range over all of them), then each stream's oldest chunks (by number). */
    async deleteStreamFrames(beforeMs: number, limit: number, stream?: { tenant: string; name: string }): Promise<number> {
      const filter = { ...(stream ? { tenant: stream.tenant, stream: stream.name } : {}), ts: { $lt: beforeMs } };
      const old = await streamFrames.legacy.find(filter, { projection: { _id: 1 } }).limit(limit).toArray();
      for (const frame of old) await streamFrames.legacy.deleteOne({ _id: frame._id });
      let removed = old.length;
      for (const each of stream ? [stream] : await streamFrames.streamsStored(10_000)) {
        if (removed >= limit) break;
        removed += await streamFrames.deleteBefore(each, beforeMs, limit - removed);
      }
      return removed;
    },
    async streamsWithRetention() {
      const found = await streams.find({ 'settings.retentionDays': { $exists: true } }, { projection: { tenant: 1, name: 1, settings: 1 } }).limit(1000).toArray();
      return found.map((s) => ({ tenant: s.tenant, name: s.name, days: s.settings.retentionDays! }));
    },
  };
}
