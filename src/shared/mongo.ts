import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient, type Collection, type Db, type MongoBulkWriteError, type OptionalUnlessRequiredId } from 'mongodb';
import type { Config } from './config.js';
import { VdetError, type FailureReason } from './errors.js';
import type { JobStatus } from './job-state.js';
import type { JobOptions } from './contracts/job-options.js';
import type { ModelRef } from './contracts/chunk.js';
import type { Summary } from './contracts/summary.js';
import type { FrameChunkRecord } from './frame-store.js';
import type { LabelPageRecord, LabelPagesIndex } from './label-pages.js';
import type { TrackPageRecord, TrackRecord, TrackingRecord } from './track-store.js';
import type { ZoneReport } from './vision/zones.js';

/**
 * FerretDB stores no array directly inside an array (MongoDB would): the fields that hold polygons (a job's `roi` and
 * `zones`, a stream's `zones`) are kept as JSON text, everything else as it is. {@link withJsonText} writes them so;
 * {@link fromJsonText} reads them back as they were given (a value stored before the encoding reads as it was). Both
 * keep the type of the value they encode: only the store ever sees the text.
 */
export function withJsonText<T extends object>(value: T, fields: readonly (keyof T & string)[]): T {
  const stored = { ...value } as Record<string, unknown>;
  for (const field of fields) if (stored[field] !== undefined) stored[field] = JSON.stringify(stored[field]);
  return stored as T;
}

export function fromJsonText<T extends object>(stored: T, fields: readonly (keyof T & string)[]): T {
  const value = { ...stored } as Record<string, unknown>;
  const encoded = fields.filter((field) => typeof value[field] === 'string');
  if (encoded.length === 0) return stored;
  for (const field of encoded) value[field] = JSON.parse(value[field] as string);
  return value as T;
}

/** A job's options that hold polygons (see {@link withJsonText}); queries read the others, e.g. `options.callbackUrl`. */
const JSON_TEXT_OPTIONS = ['roi', 'zones'] as const satisfies readonly (keyof JobOptions)[];

export function toStoredOptions(options: JobOptions): JobOptions {
  return withJsonText(options, JSON_TEXT_OPTIONS);
}

/** A job record as read from the store, its options decoded. */
export function jobFromStore<T extends JobRecord | null>(doc: T): T {
  if (!doc) return doc;
  const options = fromJsonText(doc.options, JSON_TEXT_OPTIONS);
  return options === doc.options ? doc : { ...doc, options };
}

/** A job as stored in MongoDB (collection `jobs`). */
export interface JobRecord {
  _id: string;
  tenant: string;
  status: JobStatus;
  filename: string;
  uploadId: string;
  uploadBytes: number;
  options: JobOptions;
  /**
   * The model the job runs on: a registered version (pinned at submission: a new version does not change the job),
   * or `default`, VDET_MODEL (with its sha256 where the api could read the file). Absent on jobs made before models
   * were registered: those ran on the default.
   */
  model?: JobModel;
  media?: MediaInfo;
  /** Set when the processor has emitted every chunk: what the merger must see before the job is done. */
  plan?: { chunks: number; frames: number };
  progress: { framesDone: number; framesTotal: number };
  /** Redis' chunk count fell behind once (see JobStore.touch): completion counts the job's chunks in MongoDB. */
  progressFromStore?: boolean;
  counts?: Record<string, number>;
  /** Per label: frames with it, most in one frame, first and last seen; set when the job is done. */
  summary?: Summary;
  /** Tracking on, once done: distinct objects (confirmed tracks with stored detections) per label. */
  objects?: Record<string, number>;
  /** Tracking on, once done: how many tracks it has (collection `job_tracks`), and the highest id. */
  /** `paged`: stored in `track_pages` (track-store.ts); jobs done before have a document a track in `job_tracks`. */
  tracks?: { count: number; lastTrackId: number; paged?: boolean };
  /** A job with zones or lines, once done: what they counted. */
  zones?: ZoneReport;
  error?: FailureReason;
  /** Set once the job's callback (options.callbackUrl) is in the webhook outbox. */
  callbackQueuedAt?: Date;
  /** The label windows its frame documents carry beyond the 1024-frame one (frame-store.ts' LABEL_WINDOWS). */
  labelWindows?: number[];
  /** Once done: its rare labels' pages (label-pages.ts), in the order of their ids. */
  labelPages?: LabelPagesIndex[];
  /** When retention removes the job: set as it ends, from `options.retentionDays`. */
  expiresAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export type JobModel = ModelRef | { name: 'default'; sha256?: string };

/** The registered model version a job is pinned to; undefined for the default model. */
export function registeredModel(job: Pick<JobRecord, 'model'>): ModelRef | undefined {
  return job.model && 'version' in job.model ? job.model : undefined;
}

export interface MediaInfo {
  width: number;
  height: number;
  fps: number;
  frames: number;
  durationMs: number;
}

/** One merged chunk (collection `job_chunks`), unique per (job, chunk): progress counts these, never increments. */
export interface ChunkRecord {
  _id: string;
  jobId: string;
  chunk: number;
  frames: number;
  summary: Summary;
  mergedAt: Date;
  /** Tracking on: the frames' boxes under minScore (TrackOnlyFrame[] as JSON), kept until the chunk is tracked. */
  trackOnly?: string;
  /** Tracking on, once tracked: the chunk's track segments (TrackSegment[] as JSON). */
  tracks?: string;
}

export interface Store {
  client: MongoClient;
  db: Db;
  jobs: Collection<JobRecord>;
  /** A job's detections, one document per merged chunk (see frame-store.ts). */
  frames: Collection<FrameChunkRecord>;
  chunks: Collection<ChunkRecord>;
  /** Per job with tracking on: the next chunk to track and the tracker's state (see track-store.ts). */
  tracking: Collection<TrackingRecord>;
  /** A done job's tracks, one document per track (jobs done before track pages). */
  tracks: Collection<TrackRecord>;
  /** A done job's tracks, a bucket of ids a document (track-store.ts). */
  trackPages: Collection<TrackPageRecord>;
  /** A done job's rare labels, a page of frames a document (label-pages.ts). */
  labelPages: Collection<LabelPageRecord>;
  uploads: GridFSBucket;
  /** Annotated renderings of done jobs (filename: the job id), a cache: each can be rendered again from the above. */
  annotated: GridFSBucket;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function connectStore(config: Config['mongo']): Promise<Store> {
  const client = new MongoClient(config.url, {
    serverSelectionTimeoutMS: 10_000,
    // A server that stops answering without closing its sockets must not hold an operation for ever. Every query
    // vdet makes is bounded (a page, a batch, one job's documents), far below this.
    socketTimeoutMS: 120_000,
    retryWrites: false, // FerretDB v1 has no retryable writes; our writes are idempotent upserts anyway.
  });
  await client.connect();
  const db = client.db(config.database);
  const store: Store = {
    client,
    db,
    jobs: db.collection<JobRecord>('jobs'),
    frames: db.collection<FrameChunkRecord>('frames'),
    chunks: db.collection<ChunkRecord>('job_chunks'),
    tracking: db.collection<TrackingRecord>('job_tracking'),
    tracks: db.collection<TrackRecord>('job_tracks'),
    trackPages: db.collection<TrackPageRecord>('track_pages'),
    labelPages: db.collection<LabelPageRecord>('label_pages'),
    uploads: new GridFSBucket(db, { bucketName: 'uploads', chunkSizeBytes: 1024 * 1024 }),
    annotated: new GridFSBucket(db, { bucketName: 'annotated', chunkSizeBytes: 1024 * 1024 }),
    ping: async () => {
      await db.command({ ping: 1 });
    },
    close: () => client.close(),
  };
  return store;
}

/** Creates the indexes every query relies on; idempotent, run by each role at start-up. */
export async function ensureIndexes(store: Store): Promise<void> {
  await store.jobs.createIndex({ tenant: 1, createdAt: -1 }, { name: 'tenant_created' });
  await store.jobs.createIndex({ status: 1, updatedAt: 1 }, { name: 'status_updated' });
  await store.jobs.createIndex({ tenant: 1, status: 1 }, { name: 'tenant_status' });
  await store.jobs.createIndex({ finishedAt: 1 }, { name: 'finished' });
  await store.jobs.createIndex({ expiresAt: 1 }, { name: 'expires', sparse: true });
  // The walks of frame-store.ts: each an equality on (tenant, job, bucket).
  await store.frames.createIndex({ tenant: 1, jobId: 1, fb: 1 }, { name: 'tenant_job_fb' });
  await store.frames.createIndex({ tenant: 1, jobId: 1, tb: 1 }, { name: 'tenant_job_tb' });
  await store.frames.createIndex({ tenant: 1, jobId: 1, lb: 1 }, { name: 'tenant_job_lb' });
  await store.chunks.createIndex({ jobId: 1, chunk: 1 }, { name: 'job_chunk', unique: true });
  // A done job's tracks, a page a bucket of track ids at a time (track-store.ts).
  await store.tracks.createIndex({ tenant: 1, jobId: 1, b: 1 }, { name: 'tenant_job_b' });
  await store.trackPages.createIndex({ tenant: 1, jobId: 1 }, { name: 'tenant_job' });
  await store.labelPages.createIndex({ tenant: 1, jobId: 1 }, { name: 'tenant_job' });
}

/**
 * Inserts documents whose content never changes once written (a frame's detections), keeping those already there: a
 * redelivery's duplicates under the unique `_id` are skipped, so it is as idempotent as an upsert. FerretDB runs a
 * plain insert of 16 frames in about 3 ms and 16 upserts in about 70 (each a find, then an insert or update).
 */
export async function insertOnce<T extends { _id: string }>(collection: Collection<T>, docs: OptionalUnlessRequiredId<T>[]): Promise<void> {
  if (docs.length === 0) return;
  try {
    await collection.insertMany(docs, { ordered: false });
  } catch (error) {
    const writeErrors = (error as Partial<MongoBulkWriteError>).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    const onlyDuplicates = list.length > 0 ? list.every((e) => e.code === 11000) : (error as { code?: unknown }).code === 11000;
    if (!onlyDuplicates) throw error;
  }
}

/** Inserts a document unless one with its id is there; true when this call inserted it. */
export async function insertedOnce<T extends { _id: string }>(collection: Collection<T>, doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 11000) return false;
    throw error;
  }
}

/**
 * An upsert whose every field must land: one that lost the race to insert the document (E11000) runs again, and is
 * then an update of the document the other inserted.
 */
export async function upsertRetried<T>(upsert: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upsert();
    } catch (error) {
      if ((error as { code?: number }).code !== 11000 || attempt >= 3) throw error;
    }
  }
}

/** Two processes upserting the same new document at once: one inserts, the other gets E11000 — which is success. */
export async function ignoringDuplicate(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if ((error as { code?: number }).code !== 11000) throw error;
  }
}

/**
 * Copies an upload out of GridFS to a private file (mode 600) for ffmpeg; VDET_UPLOAD_LOST when it is no longer
 * stored. Name the file without an extension: ffmpeg must recognise the content, never trust a name.
 */
export async function copyUpload(store: Pick<Store, 'uploads'>, uploadId: string, file: string): Promise<void> {
  try {
    await pipeline(store.uploads.openDownloadStreamByName(uploadId), createWriteStream(file, { mode: 0o600 }));
  } catch (cause) {
    if (/FileNotFound/i.test(String((cause as Error | undefined)?.message ?? cause))) {
      throw new VdetError('VDET_UPLOAD_LOST', 'The uploaded file is no longer stored.', { cause });
    }
    throw cause;
  }
}

export function chunkId(jobId: string, chunk: number): string {
  return `${jobId}:${chunk}`;
}
