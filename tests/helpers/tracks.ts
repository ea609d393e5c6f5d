import { readFileSync } from 'node:fs';
import type { ByteTracker, ReferenceTrackFrame, TrackedFrame, TrackingEvaluation } from '../../src/vision/tracking/index.js';
import type { VideoReference } from './reference.js';
import { referencePath } from './paths.js';

/** The tour video's reference tracks (../shared/reference/tour-640x360.tracks.json): 25 frames/s, 400 frames. */
export function loadTourTracks(): ReferenceTrackFrame[] {
  return (JSON.parse(readFileSync(referencePath('tour-640x360.tracks'), 'utf8')) as { frames: ReferenceTrackFrame[] }).frames;
}

/** Issue 15's target: each reference object on screen ≥ 4 s keeps one id on ≥ 95 % of its found boxes, none shares one. */
export function trackingTargetProblems(e: TrackingEvaluation, minConsistency = 0.95): string[] {
  const problems: string[] = [];
  if (e.longObjects.length === 0) problems.push('no reference object on screen long enough');
  for (const o of e.longObjects) {
    if (o.consistency < minConsistency) problems.push(`object ${o.id} (${o.label}): ${(100 * o.consistency).toFixed(1)} % of ${o.matched} found boxes on track ${o.majorityTrackId}`);
  }
  for (const s of e.sharedIds) problems.push(`objects ${s.objects.join(', ')} share track ${s.trackId}`);
  return problems;
}

/** The figures, a line each, for a test's diagnostics. */
export function describeEvaluation(e: TrackingEvaluation, minBoxes = 20): string[] {
  return [
    `IDF1 ${e.idf1.toFixed(3)} (IDTP ${e.idtp}, IDFP ${e.idfp}, IDFN ${e.idfn}), ${e.idSwitches} id switches`,
    ...e.objects.filter((o) => o.boxes >= minBoxes).map((o) => `object ${o.id} ${o.label}${e.longObjects.includes(o) ? ' (≥ 4 s)' : ''}: `
      + `${(o.onScreenMs / 1000).toFixed(2)} s, ${o.matched}/${o.boxes} found, ${(100 * o.consistency).toFixed(1)} % on track ${o.majorityTrackId}, ${o.idSwitches} switches`),
  ];
}

/** A reference video's detections through a tracker, frame by frame at the video's rate: each detection with its track id. */
export function trackReferenceFrames(tracker: ByteTracker, frames: VideoReference['frames'], fps: number): TrackedFrame[] {
  return frames.map((f) => {
    const ids = tracker.update(f.frame * (1000 / fps), f.detections);
    return { frame: f.frame, detections: f.detections.map((d, i) => ({ ...d, trackId: ids[i] })) };
  });
}
