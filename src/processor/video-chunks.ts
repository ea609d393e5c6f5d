import { readFile, rm } from 'node:fs/promises';
import type { MediaLimits, ProbeResult } from '../media/ffmpeg.js';
import { cutSegments, probePackets } from '../media/segment-ffmpeg.js';
import { planSegments, type SegmentPlan, type VideoSegment } from '../media/segment-plan.js';
import type { MediaPlan } from '../media/media-plan.js';

export interface VideoChunkOptions {
  limits: MediaLimits;
  /** A chunk gathers whole GOPs until it holds this many frames for the model (VDET_VIDEO_CHUNK_FRAMES). */
  minFrames: number;
  /** Bytes a chunk's video may take (Kafka's message limit, less the header). */
  maxBytes: number;
  maxFrames: number;
}

/** The upload's video as chunks of whole GOPs, or why it takes the decoded path: ffprobe lists packets, no decode. */
export async function planVideoChunks(file: string, probe: ProbeResult, plan: MediaPlan, options: VideoChunkOptions): Promise<SegmentPlan> {
  if (probe.isImage || plan.sampleFps === undefined) return { ok: false, reason: 'it is a still image' };
  const packets = await probePackets(file, options.limits, options.maxFrames + 1);
  return planSegments(packets, {
    fps: probe.fps, sampleFps: plan.sampleFps, ranged: plan.durationMs !== undefined || plan.startMs > 0,
    minFrames: options.minFrames, maxBytes: options.maxBytes,
  });
}

/**
 * Cuts the upload into the planned runs of GOPs (a remux into `dir`) and yields each one the model sees a frame of,
 * read into memory one at a time, its file removed once read.
 */
export async function* videoChunks(file: string, dir: string, segments: readonly VideoSegment[], limits: MediaLimits): AsyncGenerator<{ segment: VideoSegment; video: Buffer }> {
  const files = await cutSegments(file, dir, segments.slice(1).map((s) => s.firstPacket), limits);
  for (const [i, segment] of segments.entries()) {
    const video = segment.frames.length > 0 ? await readFile(files[i]!) : undefined;
    await rm(files[i]!, { force: true });
    if (video) yield { segment, video };
  }
}
