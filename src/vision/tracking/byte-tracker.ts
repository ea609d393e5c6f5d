import { solveAssignment } from './assignment.js';
import { boxIou, boxOfState, measurementOf, type Box } from './box.js';
import { initiateKalman, predictKalman, updateKalman, type KalmanState } from './kalman.js';
import { resolveTrackerOptions, type TrackerOptions } from '../../contracts/tracker-options.js';
import { checkTrackerState, type TrackerState } from './state.js';

/** What the tracker reads of a detection. */
export interface TrackableDetection {
  readonly label: string;
  readonly score: number;
  readonly box: Box;
}

type TrackStatus = 'tentative' | 'tracked' | 'lost';

interface Track {
  /** 0 while tentative. */
  id: number;
  readonly label: string;
  status: TrackStatus;
  hits: number;
  readonly firstMs: number;
  lastSeenMs: number;
  score: number;
  readonly kalman: KalmanState;
  /** The predicted box of the frame being tracked (not state: recomputed each frame). */
  predicted: Box;
}

/**
 * A multi-object tracker after ByteTrack (Zhang et al., ECCV 2022), pure and deterministic: feed it each frame's
 * detections in time order, it answers each detection's track id.
 *
 * Per frame: every track's Kalman filter predicts its box; detections scoring ≥ highThreshold are paired with tracked
 * and lost tracks (optimal assignment on 1 − IoU, gated at matchIou, a label only ever continuing its own label's
 * tracks); detections from trackThreshold up to highThreshold are paired with the tracks still unmatched that were
 * tracked in the last frame (gated at lowMatchIou), so that a low-score box carries a track through a blur or an
 * occlusion but never starts one. Tentative tracks take the high-score detections left; the rest start new tracks
 * (from newTrackThreshold up). A new track gets its id once it has been seen in confirmFrames frames in a row (on
 * the first frame at once); until then it answers no id and a miss ends it. A tracked track that misses becomes
 * lost, keeps predicting, and ends when it has not been seen for more than lostTrackMs.
 *
 * Ids are integers from 1, unique within one tracker. {@link ByteTracker.toJSON} and {@link ByteTracker.fromJSON}
 * carry its whole state as plain JSON: a restored tracker answers exactly what one that never stopped would.
 */
export class ByteTracker {
  readonly options: TrackerOptions;
  private tracks: Track[] = [];
  private nextId = 1;
  private frames = 0;
  private lastPtsMs: number | null = null;
  private stepMs: number | null = null;

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = resolveTrackerOptions(options);
  }

  /**
   * Tracks one frame at `ptsMs` (later than the last). Returns, per detection in the order given, its track's id, or
   * undefined: below trackThreshold, not matched, or on a track not yet confirmed.
   */
  update(ptsMs: number, detections: readonly TrackableDetection[]): (number | undefined)[] {
    const o = this.options;
    if (!Number.isFinite(ptsMs)) throw new RangeError(`frame time must be a finite number (got ${ptsMs})`);
    if (this.lastPtsMs !== null && ptsMs <= this.lastPtsMs) throw new RangeError(`frames must come in time order: ${ptsMs} ms after ${this.lastPtsMs} ms`);
    const dt = this.advanceClock(ptsMs);
    this.frames++;
    this.endLostTracks(ptsMs, new Set()); // a track may be found again exactly lostTrackMs after it was last seen
    for (const track of this.tracks) {
      // As ByteTrack: a track not seen last frame keeps its motion but stops growing or shrinking.
      if (track.status !== 'tracked') track.kalman.mean[7] = 0;
      if (dt > 0) predictKalman(track.kalman, dt);
      track.predicted = boxOfState(track.kalman.mean);
    }

    const ids: (number | undefined)[] = new Array<number | undefined>(detections.length).fill(undefined);
    const high: number[] = [];
    const low: number[] = [];
    detections.forEach((d, i) => {
      if (!isUsableBox(d.box) || !(d.score >= o.trackThreshold)) return;
      (d.score >= o.highThreshold ? high : low).push(i);
    });
    const matched = (track: Track, index: number) => {
      const d = detections[index]!;
      updateKalman(track.kalman, measurementOf(d.box));
      track.lastSeenMs = ptsMs;
      track.score = d.score;
      track.hits++;
      if (track.status === 'lost') track.status = 'tracked';
      if (track.status === 'tentative' && track.hits >= o.confirmFrames) this.confirm(track);
      if (track.id > 0) ids[index] = track.id;
    };

    // 1. High-score detections against every confirmed track, tracked or lost.
    const confirmed = this.tracks.filter((t) => t.status !== 'tentative');
    const first = this.associate(confirmed, high, detections, o.matchIou);
    for (const [track, index] of first.pairs) matched(track, index);
    // 2. Low-score detections against the tracks left that were tracked in the last frame.
    const wereTracked = first.tracks.filter((t) => t.status === 'tracked');
    const second = this.associate(wereTracked, low, detections, o.lowMatchIou);
    for (const [track, index] of second.pairs) matched(track, index);
    for (const track of second.tracks) track.status = 'lost';
    // 3. Tentative tracks against the high-score detections left; a tentative track that misses ends.
    const tentative = this.tracks.filter((t) => t.status === 'tentative');
    const third = this.associate(tentative, first.detections, detections, o.matchIou);
    for (const [track, index] of third.pairs) matched(track, index);
    const ended = new Set<Track>(third.tracks);
    // 4. New tracks from what is left and scores high enough.
    for (const index of third.detections) {
      const d = detections[index]!;
      if (d.score < o.newTrackThreshold) continue;
      const kalman = initiateKalman(measurementOf(d.box));
      const track: Track = {
        id: 0, label: d.label, status: 'tentative', hits: 1, firstMs: ptsMs, lastSeenMs: ptsMs, score: d.score, kalman, predicted: d.box,
      };
      if (this.frames === 1 || o.confirmFrames <= 1) {
        this.confirm(track);
        ids[index] = track.id;
      }
      this.tracks.push(track);
    }
    this.endLostTracks(ptsMs, ended);
    return ids;
  }

  /** Drops `ended` and the lost tracks not seen for more than lostTrackMs at `ptsMs`. */
  private endLostTracks(ptsMs: number, ended: Set<Track>): void {
    for (const track of this.tracks) {
      if (track.status === 'lost' && ptsMs - track.lastSeenMs > this.options.lostTrackMs) ended.add(track);
    }
    if (ended.size > 0) this.tracks = this.tracks.filter((t) => !ended.has(t));
  }

  /** Confirmed tracks (tracked or lost) the tracker holds now. */
  get confirmedTracks(): number {
    return this.tracks.reduce((n, t) => n + (t.status === 'tentative' ? 0 : 1), 0);
  }

  /** The whole state as plain JSON (see {@link TrackerState}). */
  toJSON(): TrackerState {
    return {
      v: 1,
      options: { ...this.options },
      nextId: this.nextId,
      frames: this.frames,
      lastPtsMs: this.lastPtsMs,
      stepMs: this.stepMs,
      tracks: this.tracks.map((t) => ({
        id: t.id, label: t.label, status: t.status, hits: t.hits, firstMs: t.firstMs, lastSeenMs: t.lastSeenMs, score: t.score,
        mean: Array.from(t.kalman.mean), covariance: Array.from(t.kalman.covariance),
      })),
    };
  }

  /** A tracker that goes on from a state {@link toJSON} gave; throws a TypeError or RangeError when it is not one. */
  static fromJSON(value: unknown): ByteTracker {
    const state = checkTrackerState(value);
    const tracker = new ByteTracker(state.options);
    tracker.nextId = state.nextId;
    tracker.frames = state.frames;
    tracker.lastPtsMs = state.lastPtsMs;
    tracker.stepMs = state.stepMs;
    tracker.tracks = state.tracks.map((t) => {
      const kalman = { mean: Float64Array.from(t.mean), covariance: Float64Array.from(t.covariance) };
      return {
        id: t.id, label: t.label, status: t.status, hits: t.hits, firstMs: t.firstMs, lastSeenMs: t.lastSeenMs, score: t.score,
        kalman, predicted: boxOfState(kalman.mean),
      };
    });
    return tracker;
  }

  /** Time since the last frame in prediction steps; a step is the shortest time seen between two frames. */
  private advanceClock(ptsMs: number): number {
    const last = this.lastPtsMs;
    this.lastPtsMs = ptsMs;
    if (last === null) return 0;
    const interval = ptsMs - last;
    this.stepMs = this.stepMs === null ? interval : Math.min(this.stepMs, interval);
    return interval / this.stepMs;
  }

  private confirm(track: Track): void {
    track.id = this.nextId++;
    track.status = 'tracked';
  }

  /** Optimal pairs of `tracks` and `indices` (of `detections`), same label and IoU ≥ minIou; and what is left. */
  private associate(tracks: readonly Track[], indices: readonly number[], detections: readonly TrackableDetection[], minIou: number) {
    if (tracks.length === 0 || indices.length === 0) return { pairs: [] as [Track, number][], tracks: [...tracks], detections: [...indices] };
    const cost = tracks.map((t) => indices.map((i) => {
      const d = detections[i]!;
      return d.label === t.label ? 1 - boxIou(t.predicted, d.box) : Infinity;
    }));
    const { rowToColumn, columnToRow } = solveAssignment(cost, 1 - minIou);
    const pairs: [Track, number][] = [];
    tracks.forEach((t, r) => {
      const c = rowToColumn[r]!;
      if (c >= 0) pairs.push([t, indices[c]!]);
    });
    return {
      pairs,
      tracks: tracks.filter((_, r) => rowToColumn[r]! < 0),
      detections: indices.filter((_, c) => columnToRow[c]! < 0),
    };
  }
}

function isUsableBox(box: Box): boolean {
  return box.every(Number.isFinite) && box[2] > box[0] && box[3] > box[1];
}
