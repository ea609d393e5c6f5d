import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FrameDetections } from '../../src/contracts/messages.js';
import type { MediaInfo } from '../../src/contracts/media-info.js';
import type { FailureReason } from '../../src/platform/errors.js';
import type { FileStore, StoredFile } from '../../src/store/file-store.js';
import type { IdempotencyKeys } from '../../src/store/idempotency.js';
import type { JobRecord } from '../../src/store/job-record.js';
import type { ChunkPart, JobResults } from '../../src/store/job-results.js';
import { isFinished, type JobStatus } from '../../src/store/job-state.js';
import type { JobStore } from '../../src/store/job-store.js';
import type { ChunkToMerge, JobMergeStore, MergedPart } from '../../src/store/job-merge-store.js';
import type { TrackingStore } from '../../src/store/track-store.js';
import type { JobEvent, ProgressStore } from '../../src/live/progress.js';
import type { Summary } from '../../src/contracts/summary.js';
import type { TrackOnlyFrame, TrackSummary } from '../../src/results/tracks.js';

/**
 * In-memory fakes of the stores' ports, for orchestration tests of an app (the api through `inject`, the processor
 * with a memory bus). They keep each port's contract as the callers rely on it; that the MongoDB implementations keep
 * it too, the integration tests (tests/api, tests/store, tests/e2e) prove against FerretDB.
 */

/**
 * `implemented` as a `T`: members it has answer, any other throws "not faked", so that a test fails loudly when the
 * code under test reaches a port the test did not expect it to use.
 */
export function partialFake<T extends object>(name: string, implemented: Partial<T> = {}): T {
  return new Proxy(implemented, {
    get(target, property, receiver) {
      if (property in target || typeof property === 'symbol' || property === 'then') return Reflect.get(target, property, receiver) as unknown;
      return () => {
        throw new Error(`not faked: ${name}.${String(property)}`);
      };
    },
  }) as T;
}

/** A {@link FileStore} in memory: files by id, in the order written. */
export class MemoryFileStore implements FileStore {
  readonly files = new Map<string, StoredFile & { bytes: Buffer }>();
  /** Writes fail with this error while it is set (the store is away). */
  writeError: Error | undefined;

  async write(name: string, source: NodeJS.ReadableStream | Readable, metadata: Record<string, unknown>): Promise<string> {
    const parts: Buffer[] = [];
    for await (const part of source as AsyncIterable<Buffer>) parts.push(Buffer.from(part));
    if (this.writeError) throw this.writeError;
    const id = randomUUID();
    const bytes = Buffer.concat(parts);
    this.files.set(id, { id, name, length: bytes.length, uploadedAt: new Date(), metadata: { ...metadata }, bytes });
    return id;
  }

  async annotate(id: string, fields: Record<string, unknown>): Promise<void> {
    const file = this.files.get(id);
    if (file) file.metadata = { ...file.metadata, ...fields };
  }

  named(name: string): (StoredFile & { bytes: Buffer })[] {
    return [...this.files.values()].filter((f) => f.name === name);
  }

  async first(name: string): Promise<StoredFile | undefined> {
    return this.named(name)[0];
  }

  async last(name: string): Promise<StoredFile | undefined> {
    return this.named(name).at(-1);
  }

  open(id: string, range?: { start: number; end: number }): Readable {
    const bytes = this.files.get(id)?.bytes ?? Buffer.alloc(0);
    return Readable.from([range ? bytes.subarray(range.start, range.end) : bytes]);
  }

  async copyTo(name: string, file: string): Promise<boolean> {
    const found = this.named(name).at(-1);
    if (!found) return false;
    await pipeline(Readable.from([found.bytes]), createWriteStream(file, { mode: 0o600 }));
    return true;
  }

  async deleteNamed(name: string): Promise<void> {
    for (const file of this.named(name)) this.files.delete(file.id);
  }

  async delete(id: string): Promise<void> {
    this.files.delete(id);
  }
}

type JobPort = Pick<JobStore, keyof JobStore>;

/**
 * The job records in memory, moved along the same states as JobStore's conditional updates (a move from a state
 * the job is not in does nothing and answers false). `deleted` records what a delete removed, with its upload.
 */
export class MemoryJobStore implements JobPort {
  readonly jobs = new Map<string, JobRecord>();
  readonly deleted: string[] = [];

  constructor(private readonly uploads?: FileStore) {}

  async create(job: Omit<JobRecord, 'status' | 'progress' | 'createdAt' | 'updatedAt'>): Promise<JobRecord> {
    if (this.jobs.has(job._id)) throw Object.assign(new Error('E11000 duplicate key'), { code: 11000 });
    const now = new Date();
    const record: JobRecord = { ...job, status: 'queued', progress: { framesDone: 0, framesTotal: 0 }, createdAt: now, updatedAt: now };
    this.jobs.set(job._id, record);
    return structuredClone(record);
  }

  async delete(job: Pick<JobRecord, '_id' | 'tenant' | 'uploadId' | 'status'>): Promise<void> {
    this.jobs.delete(job._id);
    await this.uploads?.deleteNamed(job.uploadId);
    this.deleted.push(job._id);
  }

  async get(tenant: string, jobId: string): Promise<JobRecord | null> {
    const job = this.jobs.get(jobId);
    return job && job.tenant === tenant ? structuredClone(job) : null;
  }

  async getById(jobId: string): Promise<JobRecord | null> {
    const job = this.jobs.get(jobId);
    return job ? structuredClone(job) : null;
  }

  async start(jobId: string): Promise<boolean> {
    return this.move(jobId, ['queued'], { status: 'running' });
  }

  async setMedia(jobId: string, media: MediaInfo, framesExpected: number): Promise<void> {
    this.update(jobId, (job) => {
      job.media = media;
      job.progress = { ...job.progress, framesTotal: framesExpected };
    });
  }

  async setPlan(jobId: string, plan: { chunks: number; frames: number }): Promise<void> {
    this.update(jobId, (job) => {
      job.plan = plan;
      job.progress = { ...job.progress, framesTotal: plan.frames };
    });
  }

  async touch(jobId: string, framesDone: number): Promise<void> {
    this.update(jobId, (job) => {
      job.progress = { ...job.progress, framesDone: Math.max(job.progress.framesDone, framesDone) };
    });
  }

  async finish(jobId: string, result: Parameters<JobStore['finish']>[1]): Promise<boolean> {
    const { framesDone, ...rest } = result;
    return this.move(jobId, ['queued', 'running'], { status: 'done', ...rest, finishedAt: new Date() }, framesDone);
  }

  async fail(jobId: string, error: FailureReason): Promise<boolean> {
    return this.move(jobId, ['queued', 'running'], { status: 'failed', error, finishedAt: new Date() });
  }

  async storedUploadBytes(tenant: string): Promise<number> {
    return [...this.jobs.values()].filter((j) => j.tenant === tenant).reduce((sum, j) => sum + (j.uploadBytes ?? 0), 0);
  }

  async countInFlight(tenant: string, atMost: number): Promise<number> {
    return Math.min(atMost, [...this.jobs.values()].filter((j) => j.tenant === tenant && !isFinished(j.status)).length);
  }

  async list(tenant: string, query: Parameters<JobStore['list']>[1]): Promise<{ jobs: JobRecord[]; more: boolean }> {
    const newestFirst = (a: JobRecord, b: JobRecord) => b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : -1);
    const rows = [...this.jobs.values()].filter((j) => j.tenant === tenant && (!query.status || j.status === query.status)).sort(newestFirst);
    return { jobs: rows.slice(0, query.limit).map((j) => structuredClone(j)), more: rows.length > query.limit };
  }

  async stalled(before: Date, limit = 100): Promise<JobRecord[]> {
    return [...this.jobs.values()].filter((j) => !isFinished(j.status) && j.updatedAt < before).slice(0, limit);
  }

  private move(jobId: string, from: readonly JobStatus[], fields: Partial<JobRecord>, framesDone?: number): boolean {
    const job = this.jobs.get(jobId);
    if (!job || !from.includes(job.status)) return false;
    Object.assign(job, fields, { updatedAt: new Date() });
    if (framesDone !== undefined) job.progress = { ...job.progress, framesDone };
    return true;
  }

  private update(jobId: string, change: (job: JobRecord) => void): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    change(job);
    job.updatedAt = new Date();
  }
}

/** Idempotency-Key records in memory: the first claim of (tenant, key) wins. */
export class MemoryIdempotencyKeys implements IdempotencyKeys {
  readonly keys = new Map<string, string>();

  async find(tenant: string, key: string): Promise<string | undefined> {
    return this.keys.get(`${tenant}:${key}`);
  }

  async claim(tenant: string, key: string, jobId: string): Promise<string> {
    const existing = this.keys.get(`${tenant}:${key}`);
    if (existing) return existing;
    this.keys.set(`${tenant}:${key}`, jobId);
    return jobId;
  }

  async release(tenant: string, key: string): Promise<void> {
    this.keys.delete(`${tenant}:${key}`);
  }
}

/** A job's results in memory: frames per job id, in frame order. */
export class MemoryJobResults implements JobResults {
  readonly framesOf = new Map<string, FrameDetections[]>();
  readonly partsOf = new Map<string, ChunkPart[]>();

  async* frames(job: { _id: string }, query: { after?: number | undefined; fromMs?: number | undefined; toMs?: number | undefined } = {}): AsyncGenerator<FrameDetections> {
    for (const frame of this.framesOf.get(job._id) ?? []) {
      if (frame.frame <= (query.after ?? -1)) continue;
      if (query.toMs !== undefined && frame.ptsMs >= query.toMs) return;
      if (query.fromMs === undefined || frame.ptsMs >= query.fromMs) yield frame;
    }
  }

  async tracks(): Promise<never[]> {
    return [];
  }

  async track(): Promise<undefined> {
    return undefined;
  }

  async chunkParts(jobId: string): Promise<ChunkPart[]> {
    return this.partsOf.get(jobId) ?? [];
  }

  async zonesSoFar(): Promise<undefined> {
    return undefined;
  }
}

interface MemoryChunk { frames: number; summary: Summary; data?: string; tracked?: boolean; trackOnly?: string; tracks?: string }

/**
 * The merger's chunk writes in memory, with JobMergeStore's contract: each chunk's frames and record written once,
 * whatever the redeliveries. Its tracking (below) reads and writes the same chunks, as MongoDB's does.
 */
export class MemoryJobMergeStore implements JobMergeStore {
  readonly chunks = new Map<string, Map<number, MemoryChunk>>();
  readonly tracksOf = new Map<string, TrackSummary[]>();
  readonly labelsIndexed: string[] = [];

  of(jobId: string): Map<number, MemoryChunk> {
    let job = this.chunks.get(jobId);
    if (!job) this.chunks.set(jobId, (job = new Map()));
    return job;
  }

  async writeChunk(chunk: ChunkToMerge): Promise<{ first: boolean; storedFrames: string | undefined }> {
    const job = this.of(chunk.jobId);
    const data = chunk.frames.length > 0 ? JSON.stringify([...chunk.frames].sort((a, b) => a.frame - b.frame)) : undefined;
    if (job.has(chunk.chunk)) return { first: false, storedFrames: data };
    job.set(chunk.chunk, { frames: chunk.frames.length, summary: chunk.summary, ...(data ? { data } : {}), ...(chunk.trackOnly ? { trackOnly: chunk.trackOnly } : {}) });
    return { first: true, storedFrames: data };
  }

  async mergedChunks(jobId: string): Promise<number> {
    return this.of(jobId).size;
  }

  async parts(jobId: string, withTracks: boolean): Promise<MergedPart[]> {
    return [...this.of(jobId).values()].map((c) => ({ frames: c.frames, summary: c.summary, ...(withTracks && c.tracks ? { tracks: c.tracks } : {}) }));
  }

  async storeTracks(job: { _id: string }, tracks: readonly TrackSummary[]): Promise<void> {
    this.tracksOf.set(job._id, [...tracks]);
  }

  async indexRareLabels(jobId: string): Promise<number> {
    this.labelsIndexed.push(jobId);
    return 0;
  }

  /** The tracking records of the same jobs (TrackingStore's contract, as mongoTrackingStore keeps it). */
  tracking(): TrackingStore {
    const records = new Map<string, { nextChunk: number; state: string | null; zones?: string | undefined }>();
    return {
      record: async (jobId) => (records.has(jobId) ? { ...records.get(jobId)! } : undefined),
      create: async (jobId) => void (records.has(jobId) || records.set(jobId, { nextChunk: 0, state: null })),
      chunk: async (jobId, n) => {
        const stored = this.of(jobId).get(n);
        if (!stored) return undefined;
        return { frames: stored.data ? (JSON.parse(stored.data) as FrameDetections[]) : [], trackOnly: stored.trackOnly ? (JSON.parse(stored.trackOnly) as TrackOnlyFrame[]) : [] };
      },
      saveChunk: async (jobId, n, frames, segments) => {
        const stored = this.of(jobId).get(n);
        if (!stored) return false;
        const data = JSON.stringify(frames.map(({ frame, ptsMs, detections }) => ({ frame, ptsMs, detections })));
        if (frames.length > 0) {
          if (stored.tracked && stored.data !== data) return false; // tracked from another state
          Object.assign(stored, { data, tracked: true });
        }
        stored.tracks = JSON.stringify(segments);
        return true;
      },
      advance: async (jobId, from, state, zones) => {
        const record = records.get(jobId);
        if (!record || record.nextChunk !== from) return false;
        records.set(jobId, { nextChunk: from + 1, state, ...(zones !== undefined ? { zones } : record.zones !== undefined ? { zones: record.zones } : {}) });
        return true;
      },
      dropTrackOnly: async (jobId, n) => {
        const stored = this.of(jobId).get(n);
        if (stored) delete stored.trackOnly;
      },
    };
  }
}

/** Job progress in memory: distinct chunks counted once each, the events published, the cancellation marks. */
export class MemoryProgress implements ProgressStore {
  readonly seen = new Map<string, Map<number, number>>();
  readonly events: { jobId: string; event: JobEvent }[] = [];
  readonly cancelled = new Set<string>();
  /** recordChunk fails with this error while it is set (Redis away). */
  recordError: Error | undefined;

  async recordChunk(jobId: string, chunk: number, frames: number): Promise<number> {
    if (this.recordError) throw this.recordError;
    const job = this.seen.get(jobId) ?? new Map<number, number>();
    this.seen.set(jobId, job);
    job.set(chunk, frames);
    return [...job.values()].reduce((a, b) => a + b, 0);
  }

  async framesDone(jobId: string): Promise<number | undefined> {
    const job = this.seen.get(jobId);
    return job && [...job.values()].reduce((a, b) => a + b, 0);
  }

  async publish(jobId: string, event: JobEvent): Promise<void> {
    this.events.push({ jobId, event });
  }

  async forget(jobId: string): Promise<void> {
    this.seen.delete(jobId);
  }

  async markCancelled(jobId: string): Promise<void> {
    this.cancelled.add(jobId);
  }

  async isCancelled(jobId: string): Promise<boolean> {
    return this.cancelled.has(jobId);
  }

  async ping(): Promise<void> {}
}
