import type { Config } from '../shared/config.js';
import { VdetError } from '../shared/errors.js';
import type { MediaInfo } from '../shared/mongo.js';
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
  expectedFrames: number;
  /** Whether expectedFrames comes from the container's own frame count (else from duration × rate). */
  framesDeclared: boolean;
}

export function planMedia(probe: ProbeResult, requestedFps: number | undefined, limits: Config['processor']): MediaPlan {
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
      sampleFps: undefined,
      expectedFrames: 1,
      framesDeclared: true,
    };
  }
  if (!(probe.fps > 0) || probe.fps > 1000) {
    throw new VdetError('VDET_MEDIA_UNREADABLE', 'The video does not declare a usable frame rate.');
  }
  const sourceFrames = probe.declaredFrames || Math.round((probe.durationMs / 1000) * probe.fps);
  const sampleFps = requestedFps !== undefined && requestedFps < probe.fps ? requestedFps : probe.fps;
  const expectedFrames = sampleFps === probe.fps ? sourceFrames : Math.ceil((probe.durationMs / 1000) * sampleFps);
  if (expectedFrames > limits.maxFrames) {
    throw new VdetError('VDET_MEDIA_LIMIT', `The media has about ${expectedFrames} frames to process; at most ${limits.maxFrames} are accepted.`);
  }
  return {
    media: { width: probe.width, height: probe.height, fps: round3(probe.fps), frames: sourceFrames, durationMs: probe.durationMs },
    sampleFps,
    expectedFrames,
    framesDeclared: probe.declaredFrames > 0,
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

/** Presentation time of the n-th output frame at a constant rate, in whole milliseconds. */
export function ptsMsOf(frame: number, fps: number | undefined): number {
  return fps ? Math.round((frame * 1000) / fps) : 0;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
