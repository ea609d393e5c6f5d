import type { Filter } from 'mongodb';
import { LABEL_WINDOWS } from './frame-store.js';
import type { FailureReason } from '../platform/errors.js';
import { statesBefore, type JobStatus } from './job-state.js';
import { jobFromStore, toStoredOptions, type JobRecord } from './job-record.js';
import type { Store } from './mongo.js';
import { deleteJobRecords } from './job-data.js';
import type { MediaInfo } from '../contracts/media-info.js';
import type { Summary } from '../contracts/summary.js';
import { metrics } from '../platform/metrics.js';

/**
 * Job records in MongoDB, moved only along the state machine in job-state.ts: every move is a conditional update,
 * so it happens once even when several processes (or a redelivered message) try it.
 */
export class JobStore {
  constructor(private readonly store: Store) {}

  async create(job: Omit<JobRecord, 'status' | 'progress' | 'createdAt' | 'updatedAt'>): Promise<JobRecord> {
    const now = new Date();
    const record: JobRecord = {
      ...job, status: 'queued', progress: { framesDone: 0, framesTotal: 0 }, labelWindows: [...LABEL_WINDOWS], createdAt: now, updatedAt: now,
    };
    await this.store.jobs.insertOne({ ...record, options: toStoredOptions(record.options) });
    return record;
  }

  /** Deletes the job and everything stored of it (see deleteJobRecords); a failure halfway can be retried. */
  async delete(job: Pick<JobRecord, '_id' | 'tenant' | 'uploadId' | 'status'>): Promise<void> {
    await deleteJobRecords(this.store, job);
  }

  /** A tenant's job, or null, exactly as if it did not exist, when it belongs to another tenant. */
  async get(tenant: string, jobId: string): Promise<JobRecord | null> {
    return jobFromStore(await this.store.jobs.findOne({ _id: jobId, tenant }));
  }

  async getById(jobId: string): Promise<JobRecord | null> {
    return jobFromStore(await this.store.jobs.findOne({ _id: jobId }));
  }

  /** queued → running. Returns false when the job is not queued (already running, finished or gone). */
  async start(jobId: string): Promise<boolean> {
    return this.move(jobId, 'running', { startedAt: new Date() });
  }

  /** Records what the probe found and how many frames are expected (the plan comes once they are decoded). */
  async setMedia(jobId: string, media: MediaInfo, framesExpected: number): Promise<void> {
    await this.store.jobs.updateOne({ _id: jobId }, {
      $set: { media, 'progress.framesTotal': framesExpected, updatedAt: new Date() },
    });
  }

  async setPlan(jobId: string, plan: { chunks: number; frames: number }): Promise<void> {
    await this.store.jobs.updateOne({ _id: jobId }, {
      $set: { plan, 'progress.framesTotal': plan.frames, updatedAt: new Date() },
    });
  }

  /** Marks progress on an unfinished job; also the heartbeat the reaper watches. */
  /**
   * Records progress. `progressFromStore`: Redis' count of the job's chunks is known to be behind (a chunk merged
   * while Redis was away, or Redis restarted empty): from now on the merger counts the job's chunks in MongoDB.
   */
  async touch(jobId: string, framesDone: number, progressFromStore = false): Promise<void> {
    await this.store.jobs.updateOne({ _id: jobId, status: { $in: ['queued', 'running'] } }, {
      $set: { 'progress.framesDone': framesDone, updatedAt: new Date(), ...(progressFromStore ? { progressFromStore: true } : {}) },
    });
  }

  async finish(jobId: string, result: { counts: Record<string, number>; summary: Summary; framesDone: number } & Partial<Pick<JobRecord, 'objects' | 'tracks' | 'zones'>>): Promise<boolean> {
    return this.move(jobId, 'done', {
      finishedAt: new Date(),
      counts: result.counts,
      summary: result.summary,
      'progress.framesDone': result.framesDone,
      ...(result.objects ? { objects: result.objects } : {}),
      ...(result.tracks ? { tracks: result.tracks } : {}),
      ...(result.zones ? { zones: result.zones } : {}),
    });
  }

  async fail(jobId: string, error: FailureReason): Promise<boolean> {
    const failed = await this.move(jobId, 'failed', { finishedAt: new Date(), error });
    if (failed) {
      metrics.jobsFinished.inc({ status: 'failed' });
      metrics.errors.inc({ code: error.code });
    }
    return failed;
  }

  /** How many of the tenant's jobs are queued or running, counting up to `atMost` (one equality per status, as below). */
  /** Bytes of upload the tenant's jobs keep stored (reads the tenant's own jobs only). */
  async storedUploadBytes(tenant: string): Promise<number> {
    const [row] = await this.store.jobs.aggregate<{ bytes: number }>([
      { $match: { tenant } }, { $group: { _id: null, bytes: { $sum: '$uploadBytes' } } },
    ]).toArray();
    return row?.bytes ?? 0;
  }

  async countInFlight(tenant: string, atMost: number): Promise<number> {
    let n = 0;
    for (const status of ['queued', 'running'] as const) n += await this.store.jobs.countDocuments({ tenant, status }, { limit: atMost });
    return n;
  }

  /**
   * A page of a tenant's jobs, newest first (`createdAt`, then id), at most `limit`, from after `after` (the last job
   * of the page before): `more` when another page follows.
   */
  async list(tenant: string, query: { status?: JobStatus | undefined; createdFrom?: Date | undefined; createdTo?: Date | undefined; after?: { createdAt: Date; id: string } | undefined; limit: number }): Promise<{ jobs: JobRecord[]; more: boolean }> {
    const filter: Filter<JobRecord> = { tenant };
    if (query.status) filter.status = query.status;
    if (query.createdFrom || query.createdTo) {
      filter.createdAt = { ...(query.createdFrom ? { $gte: query.createdFrom } : {}), ...(query.createdTo ? { $lt: query.createdTo } : {}) };
    }
    if (query.after) filter.$or = [{ createdAt: { $lt: query.after.createdAt } }, { createdAt: query.after.createdAt, _id: { $lt: query.after.id } }];
    const rows = (await this.store.jobs.find(filter).sort({ createdAt: -1, _id: -1 }).limit(query.limit + 1).toArray()).map(jobFromStore);
    return { jobs: rows.slice(0, query.limit), more: rows.length > query.limit };
  }

  /**
   * Unfinished jobs whose record has not changed since `before`. One equality per status, so that a store which only
   * pushes equalities down to its indexes (FerretDB) reads the unfinished jobs, not every job ever stored.
   */
  async stalled(before: Date, limit = 100): Promise<JobRecord[]> {
    const found: JobRecord[] = [];
    for (const status of ['queued', 'running'] as const) {
      for await (const job of this.store.jobs.find({ status, updatedAt: { $lt: before } })) {
        found.push(jobFromStore(job));
        if (found.length >= limit) return found;
      }
    }
    return found;
  }

  private async move(jobId: string, to: JobStatus, fields: Record<string, unknown>): Promise<boolean> {
    const result = await this.store.jobs.updateOne(
      { _id: jobId, status: { $in: statesBefore(to) } },
      { $set: { ...fields, status: to, updatedAt: new Date() } },
    );
    const moved = result.modifiedCount === 1;
    if (moved && fields['finishedAt'] instanceof Date) await this.setExpiry(jobId, fields['finishedAt']);
    return moved;
  }

  /** A job that asked for its own retention (`options.retentionDays`) gets its removal date once it has ended. */
  private async setExpiry(jobId: string, finishedAt: Date): Promise<void> {
    const job = await this.store.jobs.findOne({ _id: jobId }, { projection: { 'options.retentionDays': 1 } });
    const days = job?.options?.retentionDays;
    if (days !== undefined) await this.store.jobs.updateOne({ _id: jobId }, { $set: { expiresAt: new Date(finishedAt.getTime() + days * 24 * 3600 * 1000) } });
  }
}
