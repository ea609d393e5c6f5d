import { solveAssignment } from './assignment.js';
import { boxIou, type Box } from './box.js';

/**
 * How well tracks keep to the objects of a reference, pure: per reference object, the share of its boxes found in
 * the tracked output that carry its most frequent track id, its id switches, and, over everything, IDF1 (Ristani et
 * al., 2016: the F1 score of boxes whose track is the one globally paired with their object).
 *
 * A reference box is found by a tracked detection of the same label at IoU ≥ minIou, paired one to one in each frame
 * (optimal assignment). A tracked detection counts as a prediction when it has a track id and either finds a
 * reference box or scores at least minScore (below it the reference, built from boxes scoring ≥ 0.5, cannot know).
 */
export interface ReferenceTrackFrame {
  readonly frame: number;
  readonly objects: readonly { readonly id: number; readonly label: string; readonly box: Box }[];
}

export interface TrackedFrame {
  readonly frame: number;
  readonly detections: readonly { readonly label: string; readonly score: number; readonly box: Box; readonly trackId?: number | undefined }[];
}

export interface EvaluationOptions {
  /** Frames per second of the frame numbers (for time on screen). */
  readonly fps: number;
  /** Objects on screen at least this long (from first to last frame) are the long ones the targets speak of. */
  readonly minOnScreenMs?: number;
  /** Least IoU for a tracked detection to find a reference box (default 0.5). */
  readonly minIou?: number;
  /** Least score for an unmatched tracked detection to count as a false prediction (default 0.5). */
  readonly minScore?: number;
}

export interface ObjectEvaluation {
  /** The reference's id. */
  readonly id: number;
  readonly label: string;
  /** Reference boxes. */
  readonly boxes: number;
  readonly firstFrame: number;
  readonly lastFrame: number;
  /** From the first frame's start to the last frame's end. */
  readonly onScreenMs: number;
  /** Reference boxes a tracked detection found (with a track id or not). */
  readonly matched: number;
  /** The track id most of the found boxes carry; undefined when none carries one. */
  readonly majorityTrackId: number | undefined;
  /** Found boxes carrying majorityTrackId, as a share of those found (0 when none). */
  readonly consistency: number;
  /** Times the track id on the found boxes changed from the previous one (boxes without an id left out). */
  readonly idSwitches: number;
}

export interface TrackingEvaluation {
  /** Every reference object, by id. */
  readonly objects: readonly ObjectEvaluation[];
  /** Those on screen at least minOnScreenMs. */
  readonly longObjects: readonly ObjectEvaluation[];
  /** Track ids that are the majority id of two or more long objects. */
  readonly sharedIds: readonly { readonly trackId: number; readonly objects: readonly number[] }[];
  /** Over every object. */
  readonly idSwitches: number;
  readonly idf1: number;
  readonly idtp: number;
  readonly idfp: number;
  readonly idfn: number;
}

export function evaluateTracks(reference: readonly ReferenceTrackFrame[], tracked: readonly TrackedFrame[], options: EvaluationOptions): TrackingEvaluation {
  const minIou = options.minIou ?? 0.5;
  const minScore = options.minScore ?? 0.5;
  const minOnScreenMs = options.minOnScreenMs ?? 4000;
  const byFrame = new Map(tracked.map((f) => [f.frame, f.detections]));
  interface Seen { label: string; boxes: number; first: number; last: number; ids: (number | null)[] }
  const seen = new Map<number, Seen>();
  /** Frames an object and a track were paired in, per object id, per track id. */
  const together = new Map<number, Map<number, number>>();
  let referenceBoxes = 0;
  let predictions = 0;

  for (const frame of [...reference].sort((a, b) => a.frame - b.frame)) {
    const outputs = byFrame.get(frame.frame) ?? [];
    const { rowToColumn, columnToRow } = solveAssignment(
      frame.objects.map((o) => outputs.map((d) => (d.label === o.label ? 1 - boxIou(o.box, d.box) : Infinity))),
      1 - minIou,
    );
    referenceBoxes += frame.objects.length;
    predictions += outputs.filter((d, c) => d.trackId !== undefined && (columnToRow[c]! >= 0 || d.score >= minScore)).length;
    frame.objects.forEach((o, r) => {
      const s = seen.get(o.id) ?? { label: o.label, boxes: 0, first: frame.frame, last: frame.frame, ids: [] };
      seen.set(o.id, s);
      s.boxes++;
      s.last = frame.frame;
      const c = rowToColumn[r]!;
      if (c < 0) return;
      const trackId = outputs[c]!.trackId;
      s.ids.push(trackId ?? null);
      if (trackId === undefined) return;
      const counts = together.get(o.id) ?? new Map<number, number>();
      together.set(o.id, counts);
      counts.set(trackId, (counts.get(trackId) ?? 0) + 1);
    });
  }

  const objects: ObjectEvaluation[] = [...seen].sort(([a], [b]) => a - b).map(([id, s]) => {
    const counts = together.get(id) ?? new Map<number, number>();
    let majorityTrackId: number | undefined;
    let most = 0;
    for (const [trackId, n] of counts) if (n > most || (n === most && trackId < majorityTrackId!)) [majorityTrackId, most] = [trackId, n];
    let idSwitches = 0;
    let previous: number | undefined;
    for (const trackId of s.ids) {
      if (trackId === null) continue;
      if (previous !== undefined && trackId !== previous) idSwitches++;
      previous = trackId;
    }
    return {
      id, label: s.label, boxes: s.boxes, firstFrame: s.first, lastFrame: s.last,
      onScreenMs: ((s.last - s.first + 1) * 1000) / options.fps,
      matched: s.ids.length, majorityTrackId, consistency: s.ids.length > 0 ? most / s.ids.length : 0, idSwitches,
    };
  });
  const longObjects = objects.filter((o) => o.onScreenMs >= minOnScreenMs);
  const owners = new Map<number, number[]>();
  for (const o of longObjects) if (o.majorityTrackId !== undefined) owners.set(o.majorityTrackId, [...(owners.get(o.majorityTrackId) ?? []), o.id]);
  const sharedIds = [...owners].filter(([, ids]) => ids.length > 1).map(([trackId, ids]) => ({ trackId, objects: ids }));

  const idtp = globalPairing(together);
  return {
    objects, longObjects, sharedIds,
    idSwitches: objects.reduce((n, o) => n + o.idSwitches, 0),
    idf1: referenceBoxes + predictions > 0 ? (2 * idtp) / (referenceBoxes + predictions) : 1,
    idtp, idfp: predictions - idtp, idfn: referenceBoxes - idtp,
  };
}

/** The most paired frames in all when each object keeps one track and each track one object (IDF1's IDTP). */
function globalPairing(together: ReadonlyMap<number, ReadonlyMap<number, number>>): number {
  const objectIds = [...together.keys()];
  const trackIds = [...new Set(objectIds.flatMap((id) => [...together.get(id)!.keys()]))];
  const most = Math.max(0, ...objectIds.flatMap((id) => [...together.get(id)!.values()]));
  const cost = objectIds.map((o) => trackIds.map((t) => {
    const n = together.get(o)!.get(t);
    return n === undefined ? Infinity : most - n;
  }));
  const { rowToColumn } = solveAssignment(cost, most);
  let idtp = 0;
  rowToColumn.forEach((c, r) => {
    if (c >= 0) idtp += together.get(objectIds[r]!)!.get(trackIds[c]!)!;
  });
  return idtp;
}
