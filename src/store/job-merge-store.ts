import type { FrameDetections } from '../contracts/messages.js';
import type { Summary } from '../contracts/summary.js';
import type { TrackSummary } from '../results/tracks.js';
import { chunkId, insertedOnce } from './documents.js';
import { frameChunkRecord } from './frame-store.js';
import type { JobRecord } from './job-record.js';
import { indexRareLabels } from './label-pages.js';
import type { Store } from './mongo.js';
import { storeTracks } from './track-store.js';

/** A chunk's results as the merger writes them, under the job's own tenant. */
export interface ChunkToMerge {
  jobId: string;
  tenant: string;
  chunk: number;
  frames: readonly FrameDetections[];
  summary: Summary;
  /** Tracking on: the frames' boxes under minScore, as JSON, kept until the chunk is tracked. */
  trackOnly?: string | undefined;
}

/** A merged chunk's share of its job: frames, summary and (once tracked) its track segments as JSON. */
export interface MergedPart {
  frames: number;
  summary: Summary;
  tracks?: string | undefined;
}

/**
 * The merger's side of a job's results: each chunk written once whatever the redeliveries, the counts a job completes
 * by, and what a done job gets (its tracks, its rare labels' pages).
 */
export interface JobMergeStore {
  /**
   * Writes the chunk's frames, then its record (a job completes by counting records, so a record never stands for
   * frames that were not stored), each at most once. `first`: this call wrote both, so the chunk in hand is what is
   * stored; `storedFrames`: the frames as stored (JSON), when it has any.
   */
  writeChunk(chunk: ChunkToMerge): Promise<{ first: boolean; storedFrames: string | undefined }>;
  /** How many of the job's chunks are merged. */
  mergedChunks(jobId: string): Promise<number>;
  /** The job's merged chunks (with their track segments when asked). */
  parts(jobId: string, withTracks: boolean): Promise<MergedPart[]>;
  /** A done job's tracks, stored before the job is marked done. */
  storeTracks(job: Pick<JobRecord, '_id' | 'tenant'>, tracks: readonly TrackSummary[]): Promise<void>;
  /** A done job's rare labels get their pages; returns how many labels. */
  indexRareLabels(jobId: string): Promise<number>;
}

export function mongoJobMergeStore(store: Store): JobMergeStore {
  return {
    async writeChunk(chunk) {
      const record = frameChunkRecord(chunk);
      const framesFirst = record ? await insertedOnce(store.frames, record) : true;
      const written = await store.chunks.updateOne(
        { _id: chunkId(chunk.jobId, chunk.chunk) },
        {
          $setOnInsert: {
            jobId: chunk.jobId, chunk: chunk.chunk, frames: chunk.frames.length, summary: chunk.summary, mergedAt: new Date(),
            ...(chunk.trackOnly !== undefined ? { trackOnly: chunk.trackOnly } : {}),
          },
        },
        { upsert: true },
      );
      return { first: framesFirst && written.upsertedCount === 1, storedFrames: record?.data };
    },
    mergedChunks: (jobId) => store.chunks.countDocuments({ jobId }),
    parts: (jobId, withTracks) =>
      store.chunks.find({ jobId }, { projection: { _id: 0, frames: 1, summary: 1, ...(withTracks ? { tracks: 1 } : {}) } }).toArray(),
    storeTracks: (job, tracks) => storeTracks(store, job, tracks),
    indexRareLabels: (jobId) => indexRareLabels(store, jobId),
  };
}
