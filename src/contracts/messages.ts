import { Type, type Static } from '@sinclair/typebox';
import { ERROR_CODES, type ErrorCode } from '../platform/errors.js';
import { jsonContract } from './json-contract.js';
import { JobOptionsSchema, LinesSchema, TrackingOptionsSchema, ZonesSchema } from './job-options.js';

const Id = Type.String({ minLength: 1, maxLength: 128 });
const FrameIndex = Type.Integer({ minimum: 0 });

export const FailureSchema = Type.Object({
  code: Type.Unsafe<ErrorCode>(Type.String({ enum: Object.keys(ERROR_CODES) })),
  message: Type.String(),
});

/** `vdet.jobs`: the api asks a processor to work on an uploaded file. Key: job id. */
export const JobMessage = jsonContract('JobMessage', Type.Object({
  v: Type.Literal(1),
  jobId: Id,
  tenant: Id,
  uploadId: Id,
  options: JobOptionsSchema,
}));
export type JobMessage = Static<typeof JobMessage.schema>;

export const BoxSchema = Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()]);

export const DetectionSchema = Type.Object({
  label: Type.String(),
  classId: Type.Integer({ minimum: 0 }),
  score: Type.Number({ minimum: 0, maximum: 1 }),
  box: BoxSchema,
  /** The detection's track (a job with tracking on, once the merger has tracked its frame and the track is confirmed). */
  trackId: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type Detection = Static<typeof DetectionSchema>;

export const FrameDetectionsSchema = Type.Object({
  frame: FrameIndex,
  ptsMs: Type.Number({ minimum: 0 }),
  detections: Type.Array(DetectionSchema),
});
export type FrameDetections = Static<typeof FrameDetectionsSchema>;

/**
 * A frame of a chunk's outcome: `detections` are what is stored (score ≥ the job's minScore, after its filters);
 * `trackOnly` (tracking on) the boxes from the tracker's trackThreshold up to minScore, after the label and region
 * filters, best first: the tracker sees them, nothing stores or returns them.
 */
export const ChunkFrameSchema = Type.Object({
  frame: FrameIndex,
  ptsMs: Type.Number({ minimum: 0 }),
  detections: Type.Array(DetectionSchema),
  trackOnly: Type.Optional(Type.Array(DetectionSchema)),
});
export type ChunkFrame = Static<typeof ChunkFrameSchema>;

const ChunkDone = Type.Object({
  v: Type.Literal(1),
  kind: Type.Literal('chunk'),
  jobId: Id,
  tenant: Id,
  chunk: Type.Integer({ minimum: 0 }),
  frames: Type.Array(ChunkFrameSchema),
});

/**
 * Sent by the merger to itself: a job's tracking stopped at its bound per message with chunk `chunk` next and
 * already merged; whichever merger takes this goes on from the state stored in MongoDB.
 */
const TrackMore = Type.Object({
  v: Type.Literal(1),
  kind: Type.Literal('track'),
  jobId: Id,
  tenant: Id,
  chunk: Type.Integer({ minimum: 0 }),
});

const ChunkFailed = Type.Object({
  v: Type.Literal(1),
  kind: Type.Literal('chunk-failed'),
  jobId: Id,
  tenant: Id,
  chunk: Type.Integer({ minimum: 0 }),
  error: FailureSchema,
});

/** Sent by the processor after a job's last chunk: how many chunks and frames the merger must see. */
const JobPlan = Type.Object({
  v: Type.Literal(1),
  kind: Type.Literal('plan'),
  jobId: Id,
  tenant: Id,
  chunks: Type.Integer({ minimum: 0 }),
  frames: Type.Integer({ minimum: 0 }),
});

/** A stream chunk's detections (detector → merger), one entry per frame, in sequence order. */
const StreamFramesDone = Type.Object({
  v: Type.Literal(1),
  kind: Type.Literal('stream'),
  stream: Id,
  tenant: Id,
  frames: Type.Array(Type.Object({
    seq: Type.Integer({ minimum: 0 }),
    ts: Type.Number(),
    receivedAt: Type.Number(),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
    detections: Type.Array(DetectionSchema),
    /**
     * Skipped: by the drop-oldest policy (it waited past its deadline before reaching a device), or, with `failed`, as
     * an image that did not decode. Either way not stored and no result.
     */
    dropped: Type.Optional(Type.Boolean()),
    failed: Type.Optional(Type.Boolean()),
    /** With tracking on: the boxes from the tracker's threshold up to minScore, for the tracker only (never stored). */
    trackOnly: Type.Optional(Type.Array(DetectionSchema)),
  })),
  /** The stream tracks its objects, with these tracker settings (defaults for what they leave out). */
  tracking: Type.Optional(TrackingOptionsSchema),
  /** A tracked stream's zones and lines: the merger counts its objects in them. */
  zones: Type.Optional(ZonesSchema),
  lines: Type.Optional(LinesSchema),
});

/** `vdet.detections`: what became of a chunk (detector) or of a job's plan (processor). Key: job or stream id. */
export const ChunkOutcome = jsonContract('ChunkOutcome', Type.Union([ChunkDone, ChunkFailed, JobPlan, StreamFramesDone, TrackMore]));
export type ChunkOutcome = Static<typeof ChunkOutcome.schema>;
export type ChunkDone = Static<typeof ChunkDone>;
export type JobPlan = Static<typeof JobPlan>;
export type StreamFramesDone = Static<typeof StreamFramesDone>;
export type TrackMore = Static<typeof TrackMore>;
