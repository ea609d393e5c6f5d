/**
 * What a {@link ByteTracker} is told: ByteTrack's thresholds (Zhang et al., 2022), with the lost-track buffer in
 * milliseconds instead of frames so that a sampled video (fps, stride) keeps its tracks as long as a full one.
 */
export interface TrackerOptions {
  /** Detections scoring at least this are associated first, against every track (ByteTrack's track_thresh). */
  readonly highThreshold: number;
  /** Detections from this up to highThreshold only continue tracks that were tracked in the last frame. */
  readonly trackThreshold: number;
  /** A detection left unmatched starts a track only if it scores at least this (ByteTrack's det_thresh). */
  readonly newTrackThreshold: number;
  /** Least IoU between a track's predicted box and a high-score detection for them to be paired. */
  readonly matchIou: number;
  /** Least IoU for a low-score detection: stricter, as in ByteTrack's second association. */
  readonly lowMatchIou: number;
  /** Frames in a row a new track must be seen before it gets an id (the video's first frame confirms at once). */
  readonly confirmFrames: number;
  /** How long a track that lost its object waits for it to come back before it ends, in ms of video time. */
  readonly lostTrackMs: number;
}

/** ByteTrack's published settings; 1 s of lost-track buffer is its 30 frames at 30 frames/s. */
export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = Object.freeze({
  highThreshold: 0.5,
  trackThreshold: 0.1,
  newTrackThreshold: 0.6,
  matchIou: 0.2,
  lowMatchIou: 0.5,
  confirmFrames: 2,
  lostTrackMs: 1000,
});

const OPTION_NAMES = Object.keys(DEFAULT_TRACKER_OPTIONS) as (keyof TrackerOptions)[];

/** Most frames a confirmation may ask for: beyond this no track would ever be seen. */
export const MAX_CONFIRM_FRAMES = 100;

/** A set of tracker options that cannot work; `problems` lists every one. */
export class TrackerOptionsError extends RangeError {
  constructor(readonly problems: readonly string[]) {
    super(`tracker options: ${problems.join('; ')}`);
    this.name = 'TrackerOptionsError';
  }
}

/** The defaults with `given` over them, checked: every problem is reported at once. The result is frozen. */
export function resolveTrackerOptions(given: Partial<TrackerOptions> = {}): TrackerOptions {
  const options = Object.fromEntries(OPTION_NAMES.map((name) => [name, given[name] ?? DEFAULT_TRACKER_OPTIONS[name]])) as unknown as TrackerOptions;
  const problems: string[] = [];
  const inRange = (name: keyof TrackerOptions, min: number, max: number, minOpen = false) => {
    const v = options[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || (minOpen ? v <= min : v < min) || v > max) {
      problems.push(`${name} must be a number ${minOpen ? 'above' : 'from'} ${min} ${minOpen ? 'up ' : ''}to ${max} (got ${String(v)})`);
    }
  };
  inRange('highThreshold', 0, 1, true);
  inRange('trackThreshold', 0, 1, true);
  inRange('newTrackThreshold', 0, 1, true);
  inRange('matchIou', 0, 1, true);
  inRange('lowMatchIou', 0, 1, true);
  inRange('lostTrackMs', 0, 24 * 3600 * 1000);
  if (!Number.isInteger(options.confirmFrames) || options.confirmFrames < 1 || options.confirmFrames > MAX_CONFIRM_FRAMES) {
    problems.push(`confirmFrames must be a whole number from 1 to ${MAX_CONFIRM_FRAMES} (got ${String(options.confirmFrames)})`);
  }
  if (problems.length === 0) {
    if (options.trackThreshold > options.highThreshold) problems.push(`trackThreshold (${options.trackThreshold}) must not exceed highThreshold (${options.highThreshold})`);
    if (options.newTrackThreshold < options.highThreshold) problems.push(`newTrackThreshold (${options.newTrackThreshold}) must not be below highThreshold (${options.highThreshold}): new tracks start from high-score detections`);
  }
  if (problems.length > 0) throw new TrackerOptionsError(problems);
  return Object.freeze(options);
}
