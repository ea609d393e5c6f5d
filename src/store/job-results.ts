import type { FrameDetections } from '../contracts/messages.js';
import type { Summary } from '../contracts/summary.js';
import type { TrackSummary } from '../results/tracks.js';
import type { FrameQuery } from './frame-store.js';
import type { JobRecord } from './job-record.js';
import { readJobFrames } from './label-pages.js';
import type { Store } from './mongo.js';
import { mongoTrackingStore, readTrack, readTracks } from './track-store.js';

/** What a reader needs of a job's record to find its results. */
export type JobRef = Parameters<typeof readJobFrames>[1] & Pick<JobRecord, 'tracks'>;

/** A merged chunk's share of a running job's summary (and, tracking on, its track segments as JSON). */
export interface ChunkPart {
  summary: Summary;
  tracks?: string | undefined;
}

/**
 * A job's results as the api reads them: its frames (through the label pages where they serve), its tracks, and,
 * while it runs, what its merged chunks say so far. Written by the merger; read-only here.
 */
export interface JobResults {
  /** The job's frames in frame order, matching `query`; the caller narrows the detections to a queried label. */
  frames(job: JobRef, query?: FrameQuery): AsyncGenerator<FrameDetections>;
  /** A done job's tracks after `afterId`, by id: at most `limit` + 1 (the extra says there are more). */
  tracks(job: JobRef, afterId: number, limit: number, keep?: (track: TrackSummary) => boolean): Promise<TrackSummary[]>;
  /** One track of a done job. */
  track(job: JobRef, trackId: number): Promise<TrackSummary | undefined>;
  /** A running job's merged chunks so far. */
  chunkParts(jobId: string, withTracks: boolean): Promise<ChunkPart[]>;
  /** A running job's zone counts so far (the tracker's, as JSON), undefined before any. */
  zonesSoFar(jobId: string): Promise<string | undefined>;
}

export function mongoJobResults(store: Store): JobResults {
  const tracking = mongoTrackingStore(store);
  return {
    frames: (job, query) => readJobFrames(store, job, query),
    tracks: (job, afterId, limit, keep) => readTracks(store, job, afterId, limit, keep),
    track: (job, trackId) => readTrack(store, job, trackId),
    chunkParts: (jobId, withTracks) =>
      store.chunks.find({ jobId }, { projection: { _id: 0, summary: 1, ...(withTracks ? { tracks: 1 } : {}) } }).toArray(),
    zonesSoFar: async (jobId) => (await tracking.record(jobId))?.zones,
  };
}
