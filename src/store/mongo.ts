import { MongoClient, type Collection, type Db } from 'mongodb';
import type { Config } from '../platform/config.js';
import { gridFsFileStore, type FileStore } from './file-store.js';
import type { FrameChunkRecord } from './frame-store.js';
import type { ChunkRecord, JobRecord } from './job-record.js';
import type { LabelPageRecord } from './label-pages.js';
import type { TrackPageRecord, TrackRecord, TrackingRecord } from './track-store.js';

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
  /** The uploaded files (name: the upload's id), GridFS bucket `uploads`. */
  uploads: FileStore;
  /** Annotated renderings of done jobs (name: the job id), a cache: each can be rendered again from the above. */
  annotated: FileStore;
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
    uploads: gridFsFileStore(db, 'uploads'),
    annotated: gridFsFileStore(db, 'annotated'),
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
