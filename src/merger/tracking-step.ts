import { VdetError } from '../platform/errors.js';
import type { ChunkToTrack, TrackingStore } from '../store/track-store.js';
import { restoreZones, trackChunkFrames } from '../results/tracks.js';
import { ByteTracker, type TrackerOptions } from '../vision/tracking/index.js';
import type { ZoneCounter, ZoneSettings } from '../vision/zones.js';

/** Chunks one step tracks at most (a chunk is at most 256 frames; the tracker takes well under 1 ms a frame). */
export const MAX_CHUNKS_PER_STEP = 8;

export interface TrackingJob {
  jobId: string;
  tenant: string;
  options: TrackerOptions;
  /** Zones and lines to count the tracked objects in, chunk by chunk (their state saved with the tracker's). */
  zones?: ZoneSettings | undefined;
}

export interface StepResult {
  /** The record's nextChunk after the step, as far as this step knows. */
  nextChunk: number;
  /** Chunks this step tracked. */
  tracked: number;
  /** Stopped at its bound with the next chunk merged: someone must go on (the merger sends itself a `track` message). */
  more: boolean;
}

/**
 * One tracking step of a job, in chunk order, from the state in the store: while the record's next chunk is merged,
 * track its frames, write them, advance the record by one (a conditional update), drop the chunk's tracker-only
 * boxes, and look at the next, at most `maxChunks` chunks. `onlyAt`: go on only when the record is at or past this
 * chunk (the chunk just merged: an earlier one still missing means its merge will do it). `known`: chunks already in
 * memory (the one just merged), read from the store otherwise.
 *
 * Redelivery and crashes change nothing: a step re-run from a saved state computes and writes what the first run
 * did; a step that finds another ahead of it (the record moved, a chunk tracked with other ids) stops.
 */
export async function trackingStep(
  store: TrackingStore,
  job: TrackingJob,
  options: { onlyAt?: number; known?: ReadonlyMap<number, ChunkToTrack>; maxChunks?: number } = {},
): Promise<StepResult> {
  const maxChunks = options.maxChunks ?? MAX_CHUNKS_PER_STEP;
  let record = await store.record(job.jobId);
  if (!record) {
    await store.create(job.jobId, job.tenant);
    record = (await store.record(job.jobId)) ?? { nextChunk: 0, state: null };
  }
  let next = record.nextChunk;
  // Behind onlyAt: an earlier chunk is not merged yet, and its merge goes on from there. Past it: this chunk was
  // tracked already (a retry of a step that failed after it advanced, a redelivery), and the chunks after it may be
  // merged and waiting for no one else: go on from where the record stands.
  if (options.onlyAt !== undefined && next < options.onlyAt) return { nextChunk: next, tracked: 0, more: false };
  let tracker: ByteTracker | undefined;
  let counter: ZoneCounter | undefined;
  let tracked = 0;
  for (;;) {
    const chunk = options.known?.get(next) ?? (await store.chunk(job.jobId, next));
    if (!chunk) return { nextChunk: next, tracked, more: false };
    if (tracked >= maxChunks) return { nextChunk: next, tracked, more: true };
    tracker ??= restore(record.state, job);
    if (job.zones) counter ??= restoreZones(record.zones, job.zones);
    const result = (() => {
      try {
        return trackChunkFrames(tracker, chunk.frames, chunk.trackOnly);
      } catch (cause) {
        throw new VdetError('VDET_TRACKING_FAILED', `Tracking chunk ${next} failed: ${(cause as Error).message}`, { cause });
      }
    })();
    for (const frame of result.frames) counter?.update(frame.ptsMs, frame.detections);
    if (!(await store.saveChunk(job.jobId, next, result.frames, result.segments))) return { nextChunk: next, tracked, more: false };
    const zones = counter ? JSON.stringify(counter.toJSON()) : undefined;
    if (!(await store.advance(job.jobId, next, JSON.stringify(tracker.toJSON()), zones))) return { nextChunk: next, tracked, more: false };
    await store.dropTrackOnly(job.jobId, next);
    next++;
    tracked++;
  }
}

function restore(state: string | null, job: TrackingJob): ByteTracker {
  if (state === null) return new ByteTracker(job.options);
  try {
    return ByteTracker.fromJSON(JSON.parse(state));
  } catch (cause) {
    throw new VdetError('VDET_TRACKING_FAILED', `The stored tracker state of the job is unusable: ${(cause as Error).message}`, { cause });
  }
}
