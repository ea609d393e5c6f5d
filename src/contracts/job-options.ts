import { Type, type Static } from '@sinclair/typebox';
import { PUBLIC_ONLY, urlProblem, type AddressPolicy } from '../platform/address-policy.js';
import { DEFAULT_TRACKER_OPTIONS as T, TrackerOptionsError, resolveTrackerOptions } from './tracker-options.js';

const Unit = Type.Number({ minimum: 0, maximum: 1 });

/** A region of interest in normalised coordinates (0–1 of the frame's width and height). */
export const RoiSchema = Type.Union([
  Type.Object({ rect: Type.Tuple([Unit, Unit, Unit, Unit], { description: '[x1, y1, x2, y2]' }) }, { additionalProperties: false }),
  Type.Object({ polygon: Type.Array(Type.Tuple([Unit, Unit]), { minItems: 3, maxItems: 64, description: '[[x, y], …]' }) }, { additionalProperties: false }),
], { description: 'Only detections whose box centre lies inside are kept' });
export type Roi = Static<typeof RoiSchema>;

// Shares in (0, 1]: written as minimum 0.001, since OpenAPI 3.0 (the api's document) has no numeric exclusiveMinimum.
const Share = (description: string) => Type.Optional(Type.Number({ minimum: 0.001, maximum: 1, description }));

/** The tracker's thresholds (ByteTrack's, src/contracts/tracker-options.ts); each defaults to ByteTrack's value. */
export const TrackingOptionsSchema = Type.Object({
  highThreshold: Share(`Detections scoring at least this are matched first, against every track. Default: ${T.highThreshold}.`),
  trackThreshold: Share(`Detections from this up to highThreshold only carry on tracks seen in the last frame (through a blur or an occlusion); the tracker sees boxes down to this even below minScore, which are never stored. Default: ${T.trackThreshold}.`),
  newTrackThreshold: Share(`An unmatched detection starts a track only from this score; at least highThreshold. Default: ${T.newTrackThreshold}.`),
  matchIou: Share(`Least IoU of a track's predicted box and a high-score detection to pair them. Default: ${T.matchIou}.`),
  lowMatchIou: Share(`Least IoU for a low-score detection. Default: ${T.lowMatchIou}.`),
  confirmFrames: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Frames in a row a new track is seen before it gets an id (the video's first frame confirms at once). Default: ${T.confirmFrames}.` })),
  lostTrackMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 * 3600 * 1000, description: `How long a track that lost its object waits for it, in ms of video time. Default: ${T.lostTrackMs}.` })),
}, { additionalProperties: false, description: 'The tracker\'s settings (with track on).' });
export type TrackingOptions = Static<typeof TrackingOptionsSchema>;

const Pixel = Type.Number({ minimum: 0, maximum: 32768 });
/** [x, y]: an array of two, not a tuple schema (`items` as a list), which OpenAPI 3.0 documents cannot hold. */
const PointSchema = Type.Unsafe<[number, number]>(Type.Array(Pixel, { minItems: 2, maxItems: 2, description: '[x, y] in source pixels' }));
const RegionName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w .:-]+$' });

/** Zones and lines over tracked objects (src/vision/zones.ts); positions are each box's bottom centre. */
export const ZonesSchema = Type.Array(Type.Object({
  name: RegionName,
  polygon: Type.Array(PointSchema, { minItems: 3, maxItems: 64 }),
}, { additionalProperties: false }), { maxItems: 32, description: 'Areas in source pixels: per zone and label, the objects that entered and how long they stayed (GET /v1/jobs/{id}/zones, GET /v1/streams/{id}/zones; a stream\'s results carry `entered` and `left` events). Needs track.' });
export const LinesSchema = Type.Array(Type.Object({
  name: RegionName,
  from: PointSchema,
  to: PointSchema,
}, { additionalProperties: false }), { maxItems: 32, description: 'Lines in source pixels: per line and label, crossings `in` (from the right of from → to, as seen on screen, to its left: for a line drawn left to right, moving up) and `out` (a stream\'s results carry `crossed` events). Needs track.' });

/** A registered model's name (src/vision/model-registry.ts); `default` names VDET_MODEL. */
export const MODEL_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';
export const ModelNameSchema = Type.String({
  minLength: 1, maxLength: 64, pattern: MODEL_NAME_PATTERN,
  description: 'The registered model to run (`GET /v1/models` lists them; `vdet models add` registers one): the job is pinned to its current version (sha256) at submission. Default: `default`, the service\'s own model (VDET_MODEL).',
});

/** What a user may ask of a job; validated by the api, stored on the job, carried in the job message. */
export const JobOptionsSchema = Type.Object(
  {
    model: Type.Optional(ModelNameSchema),
    fps: Type.Optional(Type.Number({ minimum: 0.01, maximum: 240, description: 'Sample frames at this rate (frames per second). Default: every frame.' })),
    stride: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Process every n-th frame (instead of fps).' })),
    startMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Start of the time range to process.' })),
    endMs: Type.Optional(Type.Integer({ minimum: 1, description: 'End of the time range to process (exclusive).' })),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Keep detections scoring at least this. Default: 0.3.' })),
    classes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true, description: 'Keep only these labels.' })),
    maxDetections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Keep at most this many detections per frame (best first).' })),
    roi: Type.Optional(RoiSchema),
    track: Type.Optional(Type.Boolean({ description: 'Track objects from frame to frame (ByteTrack): the detections of a confirmed track carry its `trackId` (1, 2, … within the job), `GET /v1/jobs/{id}/tracks` lists the tracks and the summary counts distinct objects per label. false: no tracking, no `trackId`. Default: true.' })),
    tracking: Type.Optional(TrackingOptionsSchema),
    zones: Type.Optional(ZonesSchema),
    lines: Type.Optional(LinesSchema),
    retentionDays: Type.Optional(Type.Number({ minimum: 0.00001, maximum: 36500, description: 'Remove the job with its results, upload and renders this many days after it ends (VDET_RETENTION_DAYS, when set and shorter, still applies).' })),
    callbackUrl: Type.Optional(Type.String({ maxLength: 2000, description: 'POSTed the job summary when it ends (signed: X-Vdet-Timestamp, X-Vdet-Key-Id, X-Vdet-Signature; docs/security.md). Public addresses only.' })),
  },
  { additionalProperties: false, $id: 'JobOptions', examples: [{ fps: 5, minScore: 0.4, classes: ['person', 'car'] }] },
);
export type JobOptions = Static<typeof JobOptionsSchema>;

/**
 * The rules one schema cannot say; returns the name of the offending option and why, or undefined when the options
 * hold together.
 */
export function crossCheckOptions(
  options: JobOptions, labels: readonly string[], callbacks: AddressPolicy | boolean = false,
): { option: string; problem: string } | undefined {
  if (options.fps !== undefined && options.stride !== undefined) return { option: 'stride', problem: 'cannot be combined with fps' };
  if (options.startMs !== undefined && options.endMs !== undefined && options.endMs <= options.startMs) {
    return { option: 'endMs', problem: 'must be greater than startMs' };
  }
  const unknown = options.classes?.find((c) => !labels.includes(c));
  if (unknown !== undefined) return { option: 'classes', problem: `"${unknown}" is not a label of the model` };
  if (options.roi && 'rect' in options.roi) {
    const [x1, y1, x2, y2] = options.roi.rect;
    if (x2 <= x1 || y2 <= y1) return { option: 'roi', problem: 'rect must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1' };
  }
  const tracking = trackingProblem(options.tracking);
  if (tracking) return { option: 'tracking', problem: tracking };
  const regions = regionsProblem(options);
  if (regions) return regions;
  if (options.callbackUrl !== undefined) {
    const problem = callbackProblem(options.callbackUrl, callbacks);
    if (problem) return { option: 'callbackUrl', problem };
  }
  return undefined;
}

/**
 * A callback URL must be http(s), without credentials, and (unless the operator allows it: VDET_WEBHOOK_ALLOW_PRIVATE,
 * VDET_WEBHOOK_ALLOW_HOSTS) may not name a loopback, private, link-local or otherwise non-public address or a
 * localhost name, so that a tenant cannot make vdet call into its own network. What a name resolves to is checked
 * again on every delivery (src/merger/webhooks.ts), where the connection goes to the checked address.
 */
function callbackProblem(url: string, policy: AddressPolicy | boolean): string | undefined {
  return urlProblem(url, typeof policy === 'boolean' ? (policy ? ALLOW_ALL : PUBLIC_ONLY) : policy);
}

const ALLOW_ALL: AddressPolicy = Object.freeze({ ...PUBLIC_ONLY, allowPrivate: true });

/** What is wrong with zones and lines (of a job or a stream) beyond their schema. */
export function regionsProblem(options: Pick<JobOptions, 'zones' | 'lines' | 'track'>): { option: 'zones' | 'lines'; problem: string } | undefined {
  if ((options.zones?.length || options.lines?.length) && options.track === false) {
    return { option: options.zones?.length ? 'zones' : 'lines', problem: 'counts tracked objects: it cannot be combined with track: false' };
  }
  for (const [option, regions] of [['zones', options.zones ?? []], ['lines', options.lines ?? []]] as const) {
    const names = regions.map((r) => r.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) return { option, problem: `the name "${twice}" is used twice` };
  }
  const flat = options.lines?.find((l) => l.from[0] === l.to[0] && l.from[1] === l.to[1]);
  if (flat) return { option: 'lines', problem: `"${flat.name}" starts where it ends` };
  return undefined;
}

/** What is wrong with tracker settings (of a job or a stream) beyond their schema: thresholds that cannot work together. */
export function trackingProblem(tracking: TrackingOptions | undefined): string | undefined {
  if (tracking === undefined) return undefined;
  try {
    resolveTrackerOptions(tracking);
    return undefined;
  } catch (error) {
    if (error instanceof TrackerOptionsError) return error.problems.join('; ');
    throw error;
  }
}

/** Whether a job tracks its objects: on unless its options say `track: false`. */
export function tracksObjects(options: Pick<JobOptions, 'track'>): boolean {
  return options.track !== false;
}
