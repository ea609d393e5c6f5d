import { Type, type Static } from '@sinclair/typebox';
import { jsonContract } from './json-contract.js';
import { LinesSchema, MODEL_NAME_PATTERN, TrackingOptionsSchema, ZonesSchema } from './job-options.js';
import { DetectionSchema } from './messages.js';

/**
 * Live streams: cameras and apps push frames to `vdet.frames` (key = stream id, value = one JPEG, PNG or WebP image,
 * headers below, the ingest token among them); vdet publishes each frame's detections to `vdet.results` (key = stream id), in order per stream.
 */
export const FRAME_HEADERS = {
  /** Capture time, ms since the epoch; the broker timestamp when absent. */
  ts: 'vdet-ts',
  /** Optional sequence number; the message offset when absent (monotonic per stream, which keeps one partition). */
  seq: 'vdet-seq',
  /** The stream's ingest token (POST /v1/streams/{id}/tokens); required unless VDET_STREAM_TOKENS=off. */
  token: 'vdet-token',
} as const;

/** What a stream may be called: letters, digits, `_ . : -`, at most 128 (it is a Kafka key and part of URLs). */
export const STREAM_NAME = /^[\w.:-]{1,128}$/;

export const STREAM_POLICIES = ['lossless', 'drop-oldest'] as const;
export type StreamPolicy = (typeof STREAM_POLICIES)[number];

/** Per-stream settings, set through the api, applied by the processor and detector without a restart. */
export const StreamSettingsSchema = Type.Object({
  model: Type.Optional(Type.String({
    minLength: 1, maxLength: 64, pattern: MODEL_NAME_PATTERN,
    description: 'The registered model the stream\'s frames run on (`GET /v1/models`): pinned to its current version (sha256) when the settings are put; put them again to move to a newer version. Default: `default`, the service\'s own model (VDET_MODEL).',
  })),
  policy: Type.Optional(Type.Unsafe<StreamPolicy>(Type.String({ enum: [...STREAM_POLICIES], description: '`lossless` (every frame, lag may grow) or `drop-oldest` (skip frames older than maxLagMs)' }))),
  maxLagMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 600_000, description: 'drop-oldest: frames older than this are dropped. Default 500.' })),
  fpsCap: Type.Optional(Type.Number({ minimum: 0.01, maximum: 240, description: 'Process at most this many frames a second (the rest are dropped).' })),
  minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  classes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true })),
  retentionDays: Type.Optional(Type.Number({ minimum: 0.00001, maximum: 36500, description: 'Remove this stream\'s stored detections captured longer ago (VDET_RETENTION_DAYS, when set and shorter, still applies).' })),
  track: Type.Optional(Type.Boolean({ description: 'Track objects from frame to frame (ByteTrack, in sequence order): each result\'s detections of a confirmed track carry its `trackId` (1, 2, … within the stream), kept across merger restarts. false: no tracking. Default: true.' })),
  tracking: Type.Optional(TrackingOptionsSchema),
  zones: Type.Optional(ZonesSchema),
  lines: Type.Optional(LinesSchema),
}, { additionalProperties: false, $id: 'StreamSettings' });
export type StreamSettings = Static<typeof StreamSettingsSchema>;

const Who = { label: Type.String(), trackId: Type.Integer({ minimum: 1 }) };
/** What a frame changed in the stream's zones and lines (src/vision/zones.ts ZoneEvent). */
export const ZoneEventSchema = Type.Union([
  Type.Object({ type: Type.Literal('entered'), zone: Type.String(), ...Who }),
  Type.Object({ type: Type.Literal('left'), zone: Type.String(), ...Who, dwellMs: Type.Number({ description: 'Its time inside, summed over its visits' }) }),
  Type.Object({ type: Type.Literal('crossed'), line: Type.String(), direction: Type.Union([Type.Literal('in'), Type.Literal('out')]), ...Who }),
]);

/** `vdet.results`: one frame's detections (key = the stream's id). */
export const StreamResult = jsonContract('StreamResult', Type.Object({
  /** The stream's id in its tenant's namespace: two tenants may both have a `cam-1`. */
  stream: Type.String(),
  tenant: Type.String(),
  seq: Type.Integer({ minimum: 0 }),
  ts: Type.Number(),
  width: Type.Integer({ minimum: 1 }),
  height: Type.Integer({ minimum: 1 }),
  detections: Type.Array(DetectionSchema),
  /** From the frame's capture time (vdet-ts) to this result being produced. */
  latencyMs: Type.Number(),
  /** With zones or lines set: what this frame changed in them (absent when nothing). */
  events: Type.Optional(Type.Array(ZoneEventSchema)),
}));
export type StreamResult = Static<typeof StreamResult.schema>;
