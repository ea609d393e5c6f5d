import { Type, type Static } from '@sinclair/typebox';

const Unit = Type.Number({ minimum: 0, maximum: 1 });

/** A region of interest in normalised coordinates (0–1 of the frame's width and height). */
export const RoiSchema = Type.Union([
  Type.Object({ rect: Type.Tuple([Unit, Unit, Unit, Unit], { description: '[x1, y1, x2, y2]' }) }, { additionalProperties: false }),
  Type.Object({ polygon: Type.Array(Type.Tuple([Unit, Unit]), { minItems: 3, maxItems: 64, description: '[[x, y], …]' }) }, { additionalProperties: false }),
], { description: 'Only detections whose box centre lies inside are kept' });
export type Roi = Static<typeof RoiSchema>;

/** What a user may ask of a job; validated by the api, stored on the job, carried in the job message. */
export const JobOptionsSchema = Type.Object(
  {
    fps: Type.Optional(Type.Number({ minimum: 0.01, maximum: 240, description: 'Sample frames at this rate (frames per second). Default: every frame.' })),
    stride: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Process every n-th frame (instead of fps).' })),
    startMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Start of the time range to process.' })),
    endMs: Type.Optional(Type.Integer({ minimum: 1, description: 'End of the time range to process (exclusive).' })),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Keep detections scoring at least this. Default: 0.3.' })),
    classes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true, description: 'Keep only these labels.' })),
    maxDetections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Keep at most this many detections per frame (best first).' })),
    roi: Type.Optional(RoiSchema),
    callbackUrl: Type.Optional(Type.String({ maxLength: 2000, description: 'POSTed the job summary when it ends (signed: X-Vdet-Signature).' })),
  },
  { additionalProperties: false, $id: 'JobOptions', examples: [{ fps: 5, minScore: 0.4, classes: ['person', 'car'] }] },
);
export type JobOptions = Static<typeof JobOptionsSchema>;

/**
 * The rules one schema cannot say; returns the name of the offending option and why, or undefined when the options
 * hold together.
 */
export function crossCheckOptions(
  options: JobOptions, labels: readonly string[], allowPrivateCallbacks = false,
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
  if (options.callbackUrl !== undefined) {
    const problem = callbackProblem(options.callbackUrl, allowPrivateCallbacks);
    if (problem) return { option: 'callbackUrl', problem };
  }
  return undefined;
}

/**
 * A callback URL must be http(s); unless allowed (VDET_WEBHOOK_ALLOW_PRIVATE), it may not name loopback, private
 * or link-local addresses, so that a tenant cannot make vdet call into its own network. (Names that resolve to
 * such addresses are refused by the network policy of a deployment, not here.)
 */
function callbackProblem(url: string, allowPrivate: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL';
  if (parsed.username || parsed.password) return 'must not carry credentials';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const local = host === 'localhost' || host.endsWith('.localhost') || /^(127\.|10\.|192\.168\.|169\.254\.|0\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host)
    || host === '::1' || /^f[cd]/i.test(host) || /^fe80:/i.test(host);
  if (local && !allowPrivate) return 'must not point at a loopback or private address';
  return undefined;
}
