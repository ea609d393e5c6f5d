import type { ByteTracker } from '../vision/tracking/byte-tracker.js';
import type { Detection, FrameDetections } from '../contracts/messages.js';
import type { JobOptions } from '../contracts/job-options.js';
import { VdetError } from '../platform/errors.js';
import { resolveTrackerOptions } from '../contracts/tracker-options.js';
import { ZoneCounter, type ZoneCounterState, type ZoneReport, type ZoneSettings } from '../vision/zones.js';

/**
 * A job's tracks, pure: the tracker run over one chunk's frames (stored detections and the boxes kept for the
 * tracker alone), what each chunk says of each track (a segment), and the job's tracks and objects from them.
 * Results stage: the merger tracks and completes with these, the api answers a running job's summary with them.
 */

/** A frame's boxes under minScore, seen by the tracker only (kept on the chunk's record until it is tracked). */
export interface TrackOnlyFrame {
  frame: number;
  trackOnly: Detection[];
}

/** What one chunk's stored detections say of one track (the job's track is all its chunks' segments together). */
export interface TrackSegment {
  trackId: number;
  label: string;
  firstFrame: number;
  lastFrame: number;
  firstMs: number;
  lastMs: number;
  /** Frames with a stored detection of the track. */
  frames: number;
  bestScore: number;
  firstBox: Detection['box'];
  lastBox: Detection['box'];
}

/** A job's track: the same fields, over every chunk. */
export type TrackSummary = TrackSegment;

/**
 * Runs `tracker` over a chunk's frames in frame order: every stored detection and tracker-only box of a frame goes
 * in (stored first, each best first: the order `vdet detect` feeds), and the stored detections come out with the
 * `trackId` of their confirmed track (an id already on them is replaced, so running again from the same state
 * writes the same). Returns the frames and the chunk's segments, by track id.
 */
export function trackChunkFrames(
  tracker: ByteTracker, frames: readonly FrameDetections[], trackOnly: readonly TrackOnlyFrame[] = [],
): { frames: FrameDetections[]; segments: TrackSegment[] } {
  const below = new Map(trackOnly.map((f) => [f.frame, f.trackOnly]));
  const segments = new Map<number, TrackSegment>();
  const tracked = [...frames].sort((a, b) => a.frame - b.frame).map((f): FrameDetections => {
    const stored = f.detections.map(withoutTrackId);
    const ids = tracker.update(f.ptsMs, [...stored, ...(below.get(f.frame) ?? [])]);
    const detections = stored.map((d, i): Detection => {
      const trackId = ids[i];
      if (trackId === undefined) return d;
      const s = segments.get(trackId);
      if (!s) {
        segments.set(trackId, {
          trackId, label: d.label, firstFrame: f.frame, lastFrame: f.frame, firstMs: f.ptsMs, lastMs: f.ptsMs, frames: 1, bestScore: d.score, firstBox: d.box, lastBox: d.box,
        });
      } else {
        s.lastFrame = f.frame;
        s.lastMs = f.ptsMs;
        s.frames++;
        s.bestScore = Math.max(s.bestScore, d.score);
        s.lastBox = d.box;
      }
      return { ...d, trackId };
    });
    return { frame: f.frame, ptsMs: f.ptsMs, detections };
  });
  return { frames: tracked, segments: [...segments.values()].sort((a, b) => a.trackId - b.trackId) };
}

/** The job's tracks from its chunks' segments (any order), by track id. */
export function combineSegments(segments: Iterable<TrackSegment>): TrackSummary[] {
  const tracks = new Map<number, TrackSummary>();
  for (const s of segments) {
    const t = tracks.get(s.trackId);
    if (!t) {
      tracks.set(s.trackId, { ...s });
      continue;
    }
    if (s.firstFrame < t.firstFrame) Object.assign(t, { firstFrame: s.firstFrame, firstMs: s.firstMs, firstBox: s.firstBox });
    if (s.lastFrame > t.lastFrame) Object.assign(t, { lastFrame: s.lastFrame, lastMs: s.lastMs, lastBox: s.lastBox });
    t.frames += s.frames;
    t.bestScore = Math.max(t.bestScore, s.bestScore);
  }
  return [...tracks.values()].sort((a, b) => a.trackId - b.trackId);
}

/** Distinct objects (track ids) per label. */
export function objectsPerLabel(segments: Iterable<Pick<TrackSegment, 'trackId' | 'label'>>): Record<string, number> {
  const ids = new Map<string, Set<number>>();
  for (const s of segments) ids.set(s.label, (ids.get(s.label) ?? new Set<number>()).add(s.trackId));
  return Object.fromEntries([...ids].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, set]) => [label, set.size]));
}

/** A job's zones and lines to count in, undefined when it has none; an object is let go a second after its track ends. */
export function zoneSettingsOf(options: Pick<JobOptions, 'zones' | 'lines' | 'tracking'>): ZoneSettings | undefined {
  if (!options.zones?.length && !options.lines?.length) return undefined;
  return { zones: options.zones ?? [], lines: options.lines ?? [], forgetMs: resolveTrackerOptions(options.tracking ?? {}).lostTrackMs + 1000 };
}

/** The job's zone counter after the chunks tracked so far (none yet: a new one). */
export function restoreZones(state: string | undefined, settings: ZoneSettings): ZoneCounter {
  if (state === undefined) return new ZoneCounter(settings);
  try {
    return ZoneCounter.fromJSON(settings, JSON.parse(state) as ZoneCounterState);
  } catch (cause) {
    throw new VdetError('VDET_TRACKING_FAILED', `The stored zone counts are unusable: ${(cause as Error).message}`, { cause });
  }
}

/**
 * What zones and lines counted so far, from the counter state `stored` reads (only when there are zones or lines);
 * empty lists without any. The api's view of a job's or a stream's.
 */
export async function countedSoFar(settings: ZoneSettings | undefined, stored: () => Promise<string | undefined>): Promise<ZoneReport> {
  return settings ? restoreZones(await stored(), settings).report() : { zones: [], lines: [] };
}

/** A detection without its track id (tracking writes the ids again, so a re-run writes the same). */
export function withoutTrackId(d: Detection): Detection {
  if (d.trackId === undefined) return d;
  const { trackId: _trackId, ...rest } = d;
  return rest;
}
