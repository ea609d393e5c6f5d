import type { Detection, StreamFramesDone } from '../contracts/messages.js';
import { VdetError } from '../platform/errors.js';
import type { StreamTrackingStore } from '../store/stream-track-store.js';
import { restoreZones, withoutTrackId } from '../results/tracks.js';
import type { ZoneCounter, ZoneEvent, ZoneSettings } from '../vision/zones.js';
import { ByteTracker, resolveTrackerOptions, type TrackerState } from '../vision/tracking/index.js';

type StreamFrame = StreamFramesDone['frames'][number];

/**
 * Shortest tracker time between two frames of a stream, in ms (a 60 frames/s camera's). Capture times come from the
 * camera and are untrusted: a frame stamped at or before the last one (a burst, a clock that went back) is tracked
 * this long after it, so the tracker's clock only moves forward and its motion steps keep a sane size.
 */
export const MIN_FRAME_GAP_MS = 1000 / 60;

export interface TrackedStreamChunk {
  /** The chunk's frames with their track ids (dropped frames as they came). */
  frames: StreamFrame[];
  /** With zones or lines: what each newly tracked frame (by seq) changed in them; frames with no change are left out. */
  events: ReadonlyMap<number, ZoneEvent[]>;
  /** Saves the tracker's state after this chunk (a conditional update): call once the frames are stored. */
  save(): Promise<void>;
}

/**
 * Tracks a stream chunk's frames in sequence order, from the stream's tracker state in the store, so any merger on
 * any machine goes on with the same ids. Frames the state has already seen (a redelivery after the state was saved)
 * get the ids stored with them; a chunk tracked again from the same state (a crash before the save) gets the same
 * ids, since tracking is a function of the state and the frames. With `regions` (the stream's zones and lines), the
 * tracked frames are counted in them too, from the counter saved with the tracker, and say what they changed.
 */
export async function trackStreamChunk(store: StreamTrackingStore, key: string, tenant: string, chunk: StreamFramesDone, regions?: ZoneSettings): Promise<TrackedStreamChunk> {
  let where = await whereTrackingStands(store, key, chunk);
  if (where.stored.size < where.seen.length && store.forget) {
    // Frames the record says were tracked are not stored: a record kept in memory that no longer fits (the stream
    // was deleted and registered again, its sequence numbers start anew). Once more, from MongoDB's record.
    store.forget(key);
    where = await whereTrackingStands(store, key, chunk);
  }
  const { record, fresh, stored } = where;
  const ids = new Map<number, Detection[]>();
  const events = new Map<number, ZoneEvent[]>();
  let tracker: ByteTracker | undefined;
  let counter: ZoneCounter | undefined;
  let time: number | null = null;
  if (fresh.length > 0) {
    const state = record ? parseState(record.state, chunk) : null;
    tracker = restore(state, chunk);
    counter = regions ? restoreZones(record?.zones, regions) : undefined;
    time = state?.lastPtsMs ?? null; // the tracker's clock: the time of the last frame it tracked
    for (const f of fresh) {
      time = time === null ? f.ts : Math.max(f.ts, time + MIN_FRAME_GAP_MS);
      const kept = f.detections.map(withoutTrackId);
      const found = tracker.update(time, [...kept, ...(f.trackOnly ?? [])]);
      const tracked = kept.map((d, i) => (found[i] === undefined ? d : { ...d, trackId: found[i] }));
      ids.set(f.seq, tracked);
      const changed = counter?.update(time, tracked) ?? [];
      if (changed.length > 0) events.set(f.seq, changed);
    }
  }
  const frames = chunk.frames.map((f): StreamFrame => {
    const { trackOnly: _trackOnly, ...frame } = f;
    const detections = ids.get(f.seq) ?? stored.get(f.seq);
    return detections ? { ...frame, detections } : frame;
  });
  return {
    frames,
    events,
    async save() {
      if (!tracker) return;
      const zones = counter ? JSON.stringify(counter.toJSON()) : record?.zones;
      await store.advance(key, tenant, record?.lastSeq, { lastSeq: fresh.at(-1)!.seq, state: JSON.stringify(tracker.toJSON()), ...(zones !== undefined ? { zones } : {}) });
    },
  };
}

/** The stream's tracking record, the chunk's frames it has not tracked yet (in order) and the stored ids of those it has. */
async function whereTrackingStands(store: StreamTrackingStore, key: string, chunk: StreamFramesDone) {
  const record = await store.record(key);
  const lastSeq = record?.lastSeq ?? -1;
  const fresh = chunk.frames.filter((f) => !f.dropped && f.seq > lastSeq).sort((a, b) => a.seq - b.seq);
  const seen = chunk.frames.filter((f) => !f.dropped && f.seq <= lastSeq);
  const stored = seen.length > 0 ? await store.storedDetections(key, seen.map((f) => f.seq)) : new Map<number, Detection[]>();
  return { record, fresh, seen, stored };
}

/** The stream's tracker from its state, with the settings the chunk carries (a settings change applies from the next chunk on, tracks kept). */
function restore(state: TrackerState | null, chunk: StreamFramesDone): ByteTracker {
  const options = resolveTrackerOptions(chunk.tracking ?? {});
  if (state === null) return new ByteTracker(options);
  try {
    return ByteTracker.fromJSON({ ...state, options });
  } catch (cause) {
    throw unusable(chunk, cause);
  }
}

function parseState(state: string, chunk: StreamFramesDone): TrackerState {
  try {
    return JSON.parse(state) as TrackerState;
  } catch (cause) {
    throw unusable(chunk, cause);
  }
}

function unusable(chunk: StreamFramesDone, cause: unknown): VdetError {
  return new VdetError('VDET_TRACKING_FAILED', `The stored tracker state of stream ${chunk.stream} is unusable: ${(cause as Error).message}`, { cause });
}
