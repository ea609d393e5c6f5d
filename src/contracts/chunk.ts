import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { VdetError } from '../platform/errors.js';
import { LinesSchema, RoiSchema, TrackingOptionsSchema, ZonesSchema } from './job-options.js';

/** Most frames one chunk decodes to (a GOP longer than this takes the decoded path): bounds a chunk's decode. */
export const MAX_SEGMENT_FRAMES = 10_000;

/**
 * `vdet.chunks`: a run of letterboxed frames of one job, ready for the model. Key: job id.
 *
 * Layout of the value: the 4 bytes `VDC1`, a big-endian uint32 header length, the header as JSON, then the frames
 * back to back — raw pixels (`frameWidth × frameHeight × 3` bytes each, packed BGR, row-major) or JPEG files
 * (`pixelFormat: 'jpeg'`, VDET_WIRE_FORMAT=jpeg) — or, by default, a run of whole GOPs (`video`) or a stream's image
 * files (`image`), which the detector decodes (below). docs/topics.md and docs/benchmarks.md measure each.
 *
 * A chunk with `content` carries only the letterboxed image of each frame (`content.width × content.height × 3`
 * bytes); the detector places it in the model's input (top-left or centred, as the model wants) and adds the grey
 * padding. File chunks travel this way as BGR, live-stream chunks as RGB (as the decoder gives it), so the
 * processor neither pads nor swaps channels.
 *
 * `pixelFormat: 'jpeg'`: each frame is a JPEG file of its `content` image (`frames[i].bytes` long, back to back),
 * which the detector decodes; a twentieth of the raw bytes on the wire (docs/benchmarks.md measures both).
 *
 * `pixelFormat: 'image'` (a live stream's frames by default, VDET_STREAM_WIRE_FORMAT=image): each frame is the image
 * file as it was pushed (JPEG, PNG or WebP, `frames[i].bytes` long, back to back), its header checked by the
 * processor; the detector decodes and letterboxes it (the processor's own sharp pipeline) to the model's input, so a
 * pushed frame is decoded once. A frame that does not decode is reported `failed` and counted, never stored.
 *
 * `pixelFormat: 'video'` (a file job's default where src/media/segment-plan.ts accepts the upload): the value
 * after the header is one Matroska file of whole GOPs of the upload's video, remuxed, never re-encoded (about a
 * hundredth of the raw bytes). The detector decodes it to `video.frames` frames, letterboxes each to `content`, and
 * gives the model frame i the decoded frame `frames[i].source` (display order): the same pixels the processor's
 * decode would have sent.
 */
const StreamFrameSchema = Type.Object({
  /** Capture time (ms since the epoch) and when the processor received the frame. */
  ts: Type.Number(),
  receivedAt: Type.Number(),
  sourceWidth: Type.Integer({ minimum: 1 }),
  sourceHeight: Type.Integer({ minimum: 1 }),
  scale: Type.Number({ exclusiveMinimum: 0 }),
  /** drop-oldest streams: past this instant (ms since the epoch) the frame is skipped, counted as dropped. */
  deadline: Type.Optional(Type.Number()),
});

/**
 * A registered model version (src/vision/model-registry.ts): what a job is pinned to, and what its chunks carry so
 * that the detector runs them on that model. A chunk without one runs on the detector's own model (VDET_MODEL).
 */
export const ModelRefSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  version: Type.Integer({ minimum: 1 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
}, { additionalProperties: false });
export type ModelRef = Static<typeof ModelRefSchema>;

/** The key of a model version: one input size, one set of sessions, one batch queue. */
export function modelKey(ref: ModelRef): string {
  return `${ref.name}@${ref.version}:${ref.sha256}`;
}

/**
 * Most frames one chunk carries (VDET_CHUNK_FRAMES' limit; a run of GOPs with more model frames travels as several
 * chunks, each decoding it): the merger stores a chunk's frames as one document, read a bucket at a time.
 */
export const MAX_CHUNK_FRAMES = 256;

export const ChunkHeaderSchema = Type.Object({
  v: Type.Literal(1),
  /**
   * `stream`: frames of a live stream (jobId holds the stream id; `frame` is the sequence number, and each frame
   * carries its own size in `stream`): the detector serves them first, within their latency budget.
   */
  source: Type.Optional(Type.Union([Type.Literal('job'), Type.Literal('stream')])),
  jobId: Type.String({ minLength: 1 }),
  tenant: Type.String({ minLength: 1 }),
  chunk: Type.Integer({ minimum: 0 }),
  pixelFormat: Type.Union([Type.Literal('bgr24'), Type.Literal('rgb24'), Type.Literal('jpeg'), Type.Literal('video'), Type.Literal('image')]),
  /** `video` chunks: the codec of the run of GOPs and how many frames it decodes to. */
  video: Type.Optional(Type.Object({
    codec: Type.String({ minLength: 1, maxLength: 32 }),
    frames: Type.Integer({ minimum: 1, maximum: MAX_SEGMENT_FRAMES }),
  }, { additionalProperties: false })),
  /** The registered model version the frames are for (letterboxed to its input); absent: the detector's VDET_MODEL. */
  model: Type.Optional(ModelRefSchema),
  frameWidth: Type.Integer({ minimum: 1 }),
  frameHeight: Type.Integer({ minimum: 1 }),
  /** Only this top-left part of each frame travels (the letterboxed image); absent: the whole frame. */
  content: Type.Optional(Type.Object({ width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }) })),
  /** The original frame's size; boxes are mapped back to it. */
  sourceWidth: Type.Integer({ minimum: 1 }),
  sourceHeight: Type.Integer({ minimum: 1 }),
  /** Letterbox ratio: model pixels per source pixel. Where the image sits in the input is the model's (ModelSpec.pad): the detector pads it. */
  scale: Type.Number({ exclusiveMinimum: 0 }),
  minScore: Type.Number({ minimum: 0, maximum: 1 }),
  /**
   * A job with tracking on: the tracker's trackThreshold. The detector decodes down to it and hands the boxes below
   * minScore on separately (`trackOnly`), for the tracker only.
   */
  trackScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** A stream with tracking on: its tracker settings, handed on to the merger (which tracks streams in order). */
  tracking: Type.Optional(TrackingOptionsSchema),
  /** A tracked stream's zones and lines, handed on to the merger with its tracker settings (it counts them as it tracks). */
  zones: Type.Optional(ZonesSchema),
  lines: Type.Optional(LinesSchema),
  /** The job's detection filters, applied by the detector after decoding. */
  filter: Type.Optional(Type.Object({
    classes: Type.Optional(Type.Array(Type.String())),
    maxDetections: Type.Optional(Type.Integer({ minimum: 1 })),
    roi: Type.Optional(RoiSchema),
  })),
  frames: Type.Array(Type.Object({
    frame: Type.Integer({ minimum: 0 }),
    ptsMs: Type.Number({ minimum: 0 }),
    /** `jpeg` and `image` chunks: the length of this frame's file. */
    bytes: Type.Optional(Type.Integer({ minimum: 4 })),
    /** `video` chunks: which decoded frame (display order) this one is. */
    source: Type.Optional(Type.Integer({ minimum: 0 })),
    stream: Type.Optional(StreamFrameSchema),
  }), { minItems: 1, maxItems: MAX_CHUNK_FRAMES }),
});
export type ChunkHeader = Static<typeof ChunkHeaderSchema>;

export interface Chunk {
  header: ChunkHeader;
  /** All frames' pixels; frame i is `pixels.subarray(i * frameBytes, (i + 1) * frameBytes)` (see {@link frameSlices}). */
  pixels: Buffer;
}

/** Each frame's bytes as it travels: equal slices of raw pixels, or the JPEG files' own lengths (not for `video`). */
export function frameSlices(chunk: Chunk): Buffer[] {
  const { header, pixels } = chunk;
  if (header.pixelFormat === 'video') throw new TypeError('a video chunk has no frame slices: it is decoded');
  if (header.pixelFormat === 'jpeg' || header.pixelFormat === 'image') {
    let offset = 0;
    return header.frames.map((f) => pixels.subarray(offset, (offset += f.bytes!)));
  }
  const size = frameBytes(header);
  return header.frames.map((_, i) => pixels.subarray(i * size, (i + 1) * size));
}

const MAGIC = Buffer.from('VDC1');
const checkHeader = TypeCompiler.Compile(ChunkHeaderSchema);

/** Bytes of one frame of the chunk as it travels. */
export function frameBytes(header: Pick<ChunkHeader, 'frameWidth' | 'frameHeight' | 'content'>): number {
  return (header.content?.width ?? header.frameWidth) * (header.content?.height ?? header.frameHeight) * 3;
}

export function encodeChunk(header: ChunkHeader, pixels: readonly Buffer[]): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(8);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(json.length, 4);
  return Buffer.concat([prefix, json, ...pixels]);
}

/** Reads a chunk without copying its pixels; throws VDET_MESSAGE_INVALID for anything malformed. */
export function decodeChunk(value: Buffer | null): Chunk {
  if (!value || value.length < 8 || !value.subarray(0, 4).equals(MAGIC)) {
    throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: missing VDC1 magic');
  }
  const headerLength = value.readUInt32BE(4);
  if (8 + headerLength > value.length) throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: header runs past the end');
  let header: unknown;
  try {
    header = JSON.parse(value.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (cause) {
    throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: header is not JSON', { cause });
  }
  if (!checkHeader.Check(header)) {
    const first = checkHeader.Errors(header).First();
    throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: ${first?.path ?? ''} ${first?.message ?? 'bad header'}`);
  }
  if (header.content && (header.content.width > header.frameWidth || header.content.height > header.frameHeight)) {
    throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: content ${header.content.width}x${header.content.height} is larger than the ${header.frameWidth}x${header.frameHeight} frame`);
  }
  const pixels = value.subarray(8 + headerLength);
  if (header.pixelFormat === 'video') {
    if (!header.content || !header.video) throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: a video chunk needs its content size and its video');
    let previous = 0;
    for (const f of header.frames) {
      if (f.source === undefined || f.source < previous || f.source >= header.video.frames) {
        throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: frame ${f.frame} names no decoded frame of the ${header.video.frames} in order`);
      }
      previous = f.source;
    }
    if (pixels.length === 0) throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: a video chunk without its video');
    return { header, pixels };
  }
  if (header.pixelFormat === 'jpeg' || header.pixelFormat === 'image') {
    if (header.pixelFormat === 'jpeg' && !header.content) throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: a jpeg chunk needs its content size');
    if (header.pixelFormat === 'image' && header.frames.some((f) => !f.stream)) throw new VdetError('VDET_MESSAGE_INVALID', 'Chunk: image frames are a stream\'s, each with its size');
    if (header.frames.some((f) => f.bytes === undefined)) throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: a ${header.pixelFormat} frame without its byte length`);
    const total = header.frames.reduce((n, f) => n + f.bytes!, 0);
    if (pixels.length !== total) throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: ${pixels.length} bytes of image files, the frames say ${total}`);
    return { header, pixels };
  }
  const expected = frameBytes(header) * header.frames.length;
  if (pixels.length !== expected) {
    throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: ${pixels.length} pixel bytes, expected ${expected}`);
  }
  return { header, pixels };
}
