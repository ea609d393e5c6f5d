import { MAX_SEGMENT_FRAMES } from '../contracts/chunk.js';

/**
 * Encoded video on the wire: which whole GOPs of an upload travel together as one chunk, and which of their
 * decoded frames the model sees. Pure: the packet list comes from ffprobe (segment-ffmpeg.ts), nothing is read here.
 *
 * The frames chosen are exactly the ones the decoded path (`decodeFrames`: `fps=…:round=up`, constant rate) gives,
 * so a job's detections do not depend on how its frames travelled. That is only proven for the media this plan
 * accepts: H.264 at a constant frame rate, closed GOPs, every frame or a constant rate below the video's, no time
 * range. Anything else gets a reason and takes the decoded path.
 */

/** One packet of the video stream, in decode order, as ffprobe lists it. */
export interface VideoPacket {
  /** Presentation time, in the stream's time base. */
  readonly pts: number;
  readonly size: number;
  readonly key: boolean;
}

export interface PacketProbe {
  readonly codec: string;
  /** Seconds per pts tick. */
  readonly timeBase: number;
  /** The container's start time (s): the decoded path's time zero. */
  readonly formatStartS: number;
  readonly packets: readonly VideoPacket[];
}

export interface SegmentRequest {
  /** The video's frame rate (the probe's) and the rate frames are taken at (MediaPlan.sampleFps). */
  readonly fps: number;
  readonly sampleFps: number;
  /** A time range (MediaPlan.startMs / durationMs) takes the decoded path. */
  readonly ranged: boolean;
  /** A chunk gathers whole GOPs until it holds at least this many frames for the model. */
  readonly minFrames: number;
  /** The encoded bytes one chunk may hold (its message must fit Kafka's limit). */
  readonly maxBytes: number;
}

/** One chunk: a run of whole GOPs, and the model's frames among their decoded frames. */
export interface VideoSegment {
  /** Decode-order index of its first packet (a key frame) and how many packets it holds. */
  readonly firstPacket: number;
  readonly packets: number;
  /** The packets' bytes (the container adds a little). */
  readonly bytes: number;
  /**
   * Each model frame: its number in the job, and which of the segment's decoded frames (display order) it is. Empty
   * when the model sees none of them (a sparse sampling rate): the segment is cut, never sent.
   */
  readonly frames: readonly { frame: number; source: number }[];
}

export type SegmentPlan =
  | { readonly ok: true; readonly codec: string; readonly segments: readonly VideoSegment[]; readonly frames: number }
  | { readonly ok: false; readonly reason: string };

/** Codecs whose key frames start a GOP that decodes on its own (an H.264 IDR). */
export const SEGMENT_CODECS = ['h264'];


/**
 * Bytes a chunk's container and message header may add to its packets: Matroska's headers and a few bytes a packet,
 * and the chunk header's entry for each model frame (about 40 bytes of JSON; at most one a packet).
 */
export function segmentOverhead(packets: number): number {
  return 64 * 1024 + 96 * packets;
}

export function planSegments(probe: PacketProbe, request: SegmentRequest): SegmentPlan {
  const refuse = (reason: string): SegmentPlan => ({ ok: false, reason });
  const { packets } = probe;
  if (!SEGMENT_CODECS.includes(probe.codec)) return refuse(`its codec is ${probe.codec || 'unknown'}`);
  if (request.ranged) return refuse('the job takes a time range');
  if (packets.length === 0) return refuse('the video stream has no packets');
  if (!packets[0]!.key) return refuse('the first packet is not a key frame');
  if (packets.some((p) => !Number.isFinite(p.pts) || !(p.size > 0))) return refuse('a packet has no timestamp or size');

  // A constant frame rate: the display times, sorted, are evenly spaced at the probed rate.
  const sorted = packets.map((p) => p.pts).sort((a, b) => a - b);
  const step = packets.length > 1 ? sorted[1]! - sorted[0]! : Math.round(1 / (request.fps * probe.timeBase));
  if (!(step > 0) || Math.abs(step * probe.timeBase * request.fps - 1) > 0.01) return refuse('its frame rate is not constant');
  for (let i = 1; i < sorted.length; i++) {
    if (Math.abs(sorted[i]! - sorted[i - 1]! - step) > 1) return refuse('its frame rate is not constant');
  }
  // The decoded path counts time from the container's start; a video stream starting later would shift its frames.
  if (Math.abs(sorted[0]! * probe.timeBase - probe.formatStartS) * request.fps > 0.5) return refuse('the video starts after the container does');

  // Closed GOPs: every frame between two key frames shows between them, so a GOP decodes alone and in place.
  const gops: { first: number; count: number; display: number; bytes: number }[] = [];
  for (let i = 0; i < packets.length;) {
    let end = i + 1;
    while (end < packets.length && !packets[end]!.key) end++;
    const keyPts = packets[i]!.pts;
    const nextPts = end < packets.length ? packets[end]!.pts : Infinity;
    let bytes = 0;
    for (let j = i; j < end; j++) {
      const p = packets[j]!;
      if (p.pts < keyPts || p.pts >= nextPts) return refuse('its GOPs are open (frames show before their key frame)');
      bytes += p.size;
    }
    gops.push({ first: i, count: end - i, display: Math.round((keyPts - sorted[0]!) / step), bytes });
    i = end;
  }

  // The decoded path's frames: output n shows the frame on screen at n / sampleFps, up to the video's end.
  const total = packets.length;
  const ratio = request.fps / request.sampleFps;
  const outputs = Math.max(1, Math.ceil(total / ratio - 1e-9));
  const sourceOf = (n: number) => Math.min(total - 1, Math.floor(n * ratio + 1e-9));

  const segments: VideoSegment[] = [];
  let next = 0; // the next model frame to place
  for (let g = 0; g < gops.length;) {
    const start = g;
    let bytes = 0;
    let packetCount = 0;
    let frameCount = 0;
    do {
      const gop = gops[g]!;
      if (gop.bytes + segmentOverhead(gop.count) > request.maxBytes) {
        return refuse(`a GOP of ${gop.bytes} bytes is larger than a chunk may be`);
      }
      if (gop.count > MAX_SEGMENT_FRAMES) return refuse(`a GOP of ${gop.count} frames is longer than a chunk may be`);
      const fits = bytes + gop.bytes + segmentOverhead(packetCount + gop.count) <= request.maxBytes && packetCount + gop.count <= MAX_SEGMENT_FRAMES;
      if (packetCount > 0 && !fits) break;
      bytes += gop.bytes;
      packetCount += gop.count;
      const end = gop.display + gop.count;
      while (next + frameCount < outputs && sourceOf(next + frameCount) < end) frameCount++;
      g++;
    } while (g < gops.length && frameCount < request.minFrames);
    const display = gops[start]!.display;
    const frames = Array.from({ length: frameCount }, (_, i) => ({ frame: next + i, source: sourceOf(next + i) - display }));
    segments.push({ firstPacket: gops[start]!.first, packets: packetCount, bytes, frames });
    next += frameCount;
  }
  return { ok: true, codec: probe.codec, segments, frames: next };
}
