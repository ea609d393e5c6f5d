import type { FrameDetections } from '../contracts/messages.js';
import { chunkId, insertOnce } from './documents.js';
import type { Collection } from 'mongodb';
import type { FrameChunkRecord } from './frame-store.js';
import type { ChunkRecord, JobRecord } from './job-record.js';
import type { TrackOnlyFrame, TrackSegment, TrackSummary } from '../results/tracks.js';

/**
 * Where a job's tracking stands, in MongoDB, so that any merger on any machine goes on with it. Owner: the merger.
 *
 * - `job_tracking`, one per job: `nextChunk` (every chunk below it is tracked) and the tracker's state after them
 *   (ByteTracker.toJSON() as JSON). Only a conditional update moves it, `nextChunk: k → k + 1`.
 * - A chunk's tracker-only boxes wait on its `job_chunks` record (`trackOnly`) until it is tracked; tracking writes
 *   the track ids into its `frames` document once (`tracked`), its segments onto its chunk record, advances the
 *   record, and only then drops the boxes. Tracking is a function of the state and the chunk, so a step re-run from
 *   the saved state (a crash, a redelivery, two mergers at once) writes exactly what is there.
 * - `track_pages`, once the job is done: its tracks {@link TRACK_BUCKET} ids a document (`_id` = `{jobId}:{bucket}`,
 *   the tracks as JSON), so a page of tracks is a document or two (FerretDB spends about a millisecond a document,
 *   whatever its size). Jobs done before it have one document per track in `job_tracks` (read as before).
 * Every read is an equality on an id or an indexed bucket (FerretDB runs only those by index).
 */
export interface TrackingRecord {
  _id: string;
  tenant: string;
  nextChunk: number;
  /** ByteTracker state as JSON; null before the first chunk. */
  state: string | null;
  /** A job with zones or lines: its ZoneCounter state after the same chunks, as JSON. */
  zones?: string;
  updatedAt: Date;
}

export interface TrackRecord extends TrackSummary {
  /** `${jobId}:${trackId}` */
  _id: string;
  tenant: string;
  jobId: string;
  /** floor(trackId / TRACK_BUCKET): a page's equality. */
  b: number;
}

/** A done job's tracks with ids in one bucket (collection `track_pages`). */
export interface TrackPageRecord {
  /** `${jobId}:${b}` */
  _id: string;
  tenant: string;
  jobId: string;
  b: number;
  /** TrackSummary[] by id, as JSON. */
  data: string;
}

export const TRACK_BUCKET = 100;

/** What a done job's record says of its tracks. */
type JobTracks = Pick<JobRecord, '_id' | 'tenant' | 'tracks'>;

/** A merged chunk as the tracker needs it. */
export interface ChunkToTrack {
  frames: FrameDetections[];
  trackOnly: TrackOnlyFrame[];
}

/** The collections tracking reads and writes (src/store/mongo.ts' Store has them). */
interface TrackCollections {
  tracking: Collection<TrackingRecord>;
  chunks: Collection<ChunkRecord>;
  frames: Collection<FrameChunkRecord>;
  tracks: Collection<TrackRecord>;
  trackPages: Collection<TrackPageRecord>;
}

/** The tracking step's port (src/merger/tracking-step.ts); {@link mongoTrackingStore} is the real one. */
export interface TrackingStore {
  /** The job's record; undefined before it is created. */
  record(jobId: string): Promise<{ nextChunk: number; state: string | null; zones?: string | undefined } | undefined>;
  /** Creates the record at chunk 0 unless it exists. */
  create(jobId: string, tenant: string): Promise<void>;
  /** A merged chunk; undefined when it is not merged (yet). */
  chunk(jobId: string, chunk: number): Promise<ChunkToTrack | undefined>;
  /**
   * Writes a tracked chunk: its frames with their track ids, then its segments. Answers false, writing nothing
   * more, when its frames were tracked before with other ids (a step that is not the current one).
   */
  saveChunk(jobId: string, chunk: number, frames: readonly FrameDetections[], segments: readonly TrackSegment[]): Promise<boolean>;
  /** nextChunk `from` → `from + 1` with `state` (and `zones`); false when it is not at `from` (another step moved it). */
  advance(jobId: string, from: number, state: string, zones?: string): Promise<boolean>;
  /** Drops a tracked chunk's tracker-only boxes. */
  dropTrackOnly(jobId: string, chunk: number): Promise<void>;
}

export function mongoTrackingStore(store: Pick<TrackCollections, 'tracking' | 'chunks' | 'frames'>): TrackingStore {
  return {
    async record(jobId) {
      const found = await store.tracking.findOne({ _id: jobId }, { projection: { nextChunk: 1, state: 1, zones: 1 } });
      return found ? { nextChunk: found.nextChunk, state: found.state, ...(found.zones !== undefined ? { zones: found.zones } : {}) } : undefined;
    },
    async create(jobId, tenant) {
      await insertOnce(store.tracking, [{ _id: jobId, tenant, nextChunk: 0, state: null, updatedAt: new Date() }]);
    },
    async chunk(jobId, chunk) {
      const id = chunkId(jobId, chunk);
      const record = await store.chunks.findOne({ _id: id }, { projection: { trackOnly: 1 } });
      if (!record) return undefined;
      const frames = await store.frames.findOne({ _id: id }, { projection: { data: 1 } });
      return {
        frames: frames ? (JSON.parse(frames.data) as FrameDetections[]) : [],
        trackOnly: record.trackOnly ? (JSON.parse(record.trackOnly) as TrackOnlyFrame[]) : [],
      };
    },
    async saveChunk(jobId, chunk, frames, segments) {
      const id = chunkId(jobId, chunk);
      const data = JSON.stringify(frames.map(({ frame, ptsMs, detections }) => ({ frame, ptsMs, detections })));
      if (frames.length > 0) {
        const written = await store.frames.updateOne({ _id: id, tracked: { $ne: true } }, { $set: { data, tracked: true } });
        if (written.matchedCount === 0) {
          const stored = await store.frames.findOne({ _id: id }, { projection: { data: 1 } });
          if (!stored || stored.data !== data) return false; // deleted, or tracked from another state
        }
      }
      await store.chunks.updateOne({ _id: id }, { $set: { tracks: JSON.stringify(segments) } });
      return true;
    },
    async advance(jobId, from, state, zones) {
      const moved = await store.tracking.updateOne({ _id: jobId, nextChunk: from }, { $set: { nextChunk: from + 1, state, ...(zones !== undefined ? { zones } : {}), updatedAt: new Date() } });
      return moved.modifiedCount === 1;
    },
    async dropTrackOnly(jobId, chunk) {
      await store.chunks.updateOne({ _id: chunkId(jobId, chunk) }, { $unset: { trackOnly: '' } });
    },
  };
}

/** The tracker-only boxes of a chunk's frames, for its record; undefined when it has none. */
export function trackOnlyOf(frames: readonly { frame: number; trackOnly?: FrameDetections['detections'] | undefined }[]): string | undefined {
  const kept = frames.filter((f) => f.trackOnly && f.trackOnly.length > 0).map((f) => ({ frame: f.frame, trackOnly: f.trackOnly! }));
  return kept.length > 0 ? JSON.stringify(kept) : undefined;
}

/**
 * Stores a done job's tracks (idempotent: each document's content is fixed by the tracks), a page of a bucket's ids a
 * document; the job's record then says `tracks.paged`.
 */
export async function storeTracks(store: Pick<TrackCollections, 'trackPages'>, job: Pick<JobRecord, '_id' | 'tenant'>, tracks: readonly TrackSummary[]): Promise<void> {
  const buckets = new Map<number, TrackSummary[]>();
  for (const t of [...tracks].sort((x, y) => x.trackId - y.trackId)) {
    const b = Math.floor(t.trackId / TRACK_BUCKET);
    buckets.set(b, [...(buckets.get(b) ?? []), t]);
  }
  const docs = [...buckets].map(([b, page]): TrackPageRecord => ({ _id: `${job._id}:${b}`, tenant: job.tenant, jobId: job._id, b, data: JSON.stringify(page) }));
  for (let i = 0; i < docs.length; i += 100) await insertOnce(store.trackPages, docs.slice(i, i + 100));
}

/** The tracks with ids in bucket `b`, by id. */
async function bucketOf(store: Pick<TrackCollections, 'tracks' | 'trackPages'>, job: JobTracks, b: number): Promise<TrackSummary[]> {
  if (job.tracks?.paged) {
    const page = await store.trackPages.findOne({ _id: `${job._id}:${b}`, tenant: job.tenant });
    return page ? (JSON.parse(page.data) as TrackSummary[]) : [];
  }
  const docs = await store.tracks.find({ tenant: job.tenant, jobId: job._id, b }).toArray();
  return docs.sort((x, y) => x.trackId - y.trackId).map(summaryOf);
}

/** A done job's tracks after `afterId`, by id, a bucket at a time: at most `limit` + 1 of them (the extra says more). */
export async function readTracks(
  store: Pick<TrackCollections, 'tracks' | 'trackPages'>, job: JobTracks, afterId: number, limit: number, keep: (t: TrackSummary) => boolean = () => true,
): Promise<TrackSummary[]> {
  const found: TrackSummary[] = [];
  const last = job.tracks?.lastTrackId ?? 0;
  for (let b = Math.floor((afterId + 1) / TRACK_BUCKET); b <= Math.floor(last / TRACK_BUCKET) && found.length <= limit; b++) {
    for (const track of await bucketOf(store, job, b)) {
      if (track.trackId <= afterId || !keep(track)) continue;
      found.push(track);
      if (found.length > limit) break;
    }
  }
  return found;
}

/** One track of a done job, or undefined. */
export async function readTrack(store: Pick<TrackCollections, 'tracks' | 'trackPages'>, job: JobTracks, trackId: number): Promise<TrackSummary | undefined> {
  if (job.tracks?.paged) return (await bucketOf(store, job, Math.floor(trackId / TRACK_BUCKET))).find((t) => t.trackId === trackId);
  const doc = await store.tracks.findOne({ _id: `${job._id}:${trackId}`, tenant: job.tenant });
  return doc ? summaryOf(doc) : undefined;
}

function summaryOf(doc: TrackRecord): TrackSummary {
  const { trackId, label, firstFrame, lastFrame, firstMs, lastMs, frames, bestScore, firstBox, lastBox } = doc;
  return { trackId, label, firstFrame, lastFrame, firstMs, lastMs, frames, bestScore, firstBox, lastBox };
}
