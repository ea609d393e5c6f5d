import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * A tracker's whole state as plain JSON: what a {@link ByteTracker} needs to go on exactly where it stopped, on
 * another machine too (the service keeps it in MongoDB between chunks). Numbers are doubles, which JSON carries
 * exactly, so a restored tracker computes what one that never stopped would.
 */
const Finite = Type.Number();
const Score = Type.Number({ minimum: 0, maximum: 1 });

export const TrackStateSchema = Type.Object({
  /** 0 while tentative; from 1 once confirmed. */
  id: Type.Integer({ minimum: 0 }),
  label: Type.String(),
  status: Type.Union([Type.Literal('tentative'), Type.Literal('tracked'), Type.Literal('lost')]),
  /** Frames it was matched in (in a row, while tentative). */
  hits: Type.Integer({ minimum: 1 }),
  firstMs: Finite,
  lastSeenMs: Finite,
  score: Score,
  /** Kalman mean: cx, cy, aspect, height and their velocities. */
  mean: Type.Array(Finite, { minItems: 8, maxItems: 8 }),
  /** Kalman covariance, 8 × 8 row by row. */
  covariance: Type.Array(Finite, { minItems: 64, maxItems: 64 }),
}, { additionalProperties: false });
export type TrackState = Static<typeof TrackStateSchema>;

export const TrackerStateSchema = Type.Object({
  v: Type.Literal(1),
  options: Type.Object({
    highThreshold: Finite,
    trackThreshold: Finite,
    newTrackThreshold: Finite,
    matchIou: Finite,
    lowMatchIou: Finite,
    confirmFrames: Type.Integer(),
    lostTrackMs: Finite,
  }, { additionalProperties: false }),
  /** The id the next confirmed track gets. */
  nextId: Type.Integer({ minimum: 1 }),
  /** Frames seen so far. */
  frames: Type.Integer({ minimum: 0 }),
  /** The last frame's time; null before the first. */
  lastPtsMs: Type.Union([Finite, Type.Null()]),
  /** The shortest time seen between two frames: one prediction step. */
  stepMs: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
  tracks: Type.Array(TrackStateSchema),
}, { additionalProperties: false });
export type TrackerState = Static<typeof TrackerStateSchema>;

const checkState = TypeCompiler.Compile(TrackerStateSchema);

/** Checks a stored state; throws a TypeError saying what is wrong. (The options are checked by the tracker.) */
export function checkTrackerState(value: unknown): TrackerState {
  if (!checkState.Check(value)) {
    const first = checkState.Errors(value).First();
    throw new TypeError(`tracker state: ${first ? `${first.path || '/'}: ${first.message}` : 'does not match'}`);
  }
  const problems: string[] = [];
  const ids = new Set<number>();
  for (const [i, t] of value.tracks.entries()) {
    if ((t.status === 'tentative') !== (t.id === 0)) problems.push(`/tracks/${i}: a ${t.status} track with id ${t.id}`);
    if (t.id >= value.nextId) problems.push(`/tracks/${i}: id ${t.id} is not below nextId ${value.nextId}`);
    if (t.id > 0 && ids.has(t.id)) problems.push(`/tracks/${i}: id ${t.id} twice`);
    ids.add(t.id);
  }
  if (value.frames === 0 && (value.lastPtsMs !== null || value.tracks.length > 0)) problems.push('no frames seen, yet a last frame time or tracks');
  if (problems.length > 0) throw new TypeError(`tracker state: ${problems.join('; ')}`);
  return value;
}
