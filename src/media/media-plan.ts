import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import type { MediaInfo } from '../contracts/media-info.js';
import type { ProbeResult } from './ffmpeg.js';

/**
 * Pure decisions the processor takes from a probe: whether the media is within limits, what is recorded about it,
 * at which rate frames are sampled and how many frames to expect. Metadata can lie, so the decoder enforces the
 * frame limit again while it runs.
 */
export interface MediaPlan {
  media: MediaInfo;
  /** Output rate of the decoder; undefined for a still image. */
  sampleFps: number | undefined;
  /** The time range decoded: from startMs, for durationMs (undefined: to the end). */
  startMs: number;
  durationMs: number | undefined;
  expectedFrames: number;
  /** Whether expectedFrames comes from the container's own frame count (else from duration × rate). */
  framesDeclared: boolean;
}

export interface SamplingOptions {
  fps?: number | undefined;
  stride?: number | undefined;
  startMs?: number | undefined;
  endMs?: number | undefined;
}

export function planMedia(probe: ProbeResult, options: SamplingOptions, limits: Config['processor']): MediaPlan {
  if (probe.width > limits.maxWidth || probe.height > limits.maxHeight) {
    throw new VdetError('VDET_MEDIA_LIMIT',
      `The media is ${probe.width}x${probe.height}; the largest accepted is ${limits.maxWidth}x${limits.maxHeight}.`);
  }
  if (probe.durationMs > limits.maxDurationS * 1000) {
    throw new VdetError('VDET_MEDIA_LIMIT',
      `The media lasts ${Math.round(probe.durationMs / 1000)} s; the longest accepted is ${limits.maxDurationS} s.`);
  }
  if (probe.isImage) {
    return {
      media: { width: probe.width, height: probe.height, fps: 0, frames: 1, durationMs: 0 },
      sampleFps: undefined, startMs: 0, durationMs: undefined, expectedFrames: 1, framesDeclared: true,
    };
  }
  if (!(probe.fps > 0) || probe.fps > 1000) {
    throw new VdetError('VDET_MEDIA_UNREADABLE', 'The video does not declare a usable frame rate.');
  }
  const sourceFrames = probe.declaredFrames || Math.round((probe.durationMs / 1000) * probe.fps);
  const startMs = options.startMs ?? 0;
  const endMs = Math.min(options.endMs ?? probe.durationMs, probe.durationMs);
  if (startMs >= endMs) {
    throw new VdetError('VDET_MEDIA_NO_FRAMES', `The time range starts at ${startMs} ms, but the media lasts ${probe.durationMs} ms.`);
  }
  const ranged = startMs > 0 || endMs < probe.durationMs;
  let sampleFps = probe.fps;
  if (options.stride !== undefined) sampleFps = probe.fps / options.stride;
  else if (options.fps !== undefined && options.fps < probe.fps) sampleFps = options.fps;
  const everyFrame = sampleFps === probe.fps && !ranged;
  const expectedFrames = everyFrame ? sourceFrames : Math.max(1, Math.ceil(((endMs - startMs) / 1000) * sampleFps - 1e-9));
  if (expectedFrames > limits.maxFrames) {
    throw new VdetError('VDET_MEDIA_LIMIT', `The media has about ${expectedFrames} frames to process; at most ${limits.maxFrames} are accepted.`);
  }
  return {
    media: { width: probe.width, height: probe.height, fps: round3(probe.fps), frames: sourceFrames, durationMs: probe.durationMs },
    sampleFps,
    startMs,
    durationMs: ranged ? endMs - startMs : undefined,
    expectedFrames,
    framesDeclared: everyFrame && probe.declaredFrames > 0,
  };
}

/**
 * A truncated or corrupt file often decodes without an error, just short: when far fewer frames came out than the
 * container promised, the job fails instead of passing off a fragment as the whole video.
 */
export function checkDecodedFrames(plan: MediaPlan, decoded: number): void {
  if (decoded === 0) throw new VdetError('VDET_MEDIA_NO_FRAMES', 'The media has no frames that could be decoded.');
  const share = plan.framesDeclared ? 0.9 : 0.5;
  if (decoded < Math.floor(plan.expectedFrames * share)) {
    throw new VdetError('VDET_MEDIA_DECODE_FAILED',
      `Only ${decoded} of the ${plan.expectedFrames} frames the file announces could be decoded: it is truncated or corrupt.`);
  }
}

/** Presentation time of the n-th output frame at a constant rate, in whole milliseconds of the source. */
export function ptsMsOf(frame: number, plan: Pick<MediaPlan, 'sampleFps' | 'startMs'>): number {
  return plan.sampleFps ? plan.startMs + Math.round((frame * 1000) / plan.sampleFps) : 0;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
