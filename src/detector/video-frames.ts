import type { Chunk } from '../contracts/chunk.js';
import type { MediaLimits } from '../media/ffmpeg.js';
import { decodeSegment } from '../media/segment-ffmpeg.js';

export interface VideoFrameOptions {
  limits: MediaLimits;
  /** ffmpeg decoder threads (VDET_DETECTOR_DECODE_THREADS). */
  threads: number;
  /** Most of the chunk's frames waiting for the model at once: decoding pauses beyond it (memory stays bounded). */
  window: number;
}

/**
 * Decodes a `video` chunk (src/contracts/chunk.ts) in ffmpeg and hands each model frame to `submit` as soon as
 * it is decoded, while earlier ones are still in the model: decode and inference overlap, and only `window` frames
 * of the chunk are held at once. `submit` returns the frame's result; resolves once every frame was submitted.
 */
export async function submitVideoFrames(chunk: Chunk, options: VideoFrameOptions, submit: (index: number, pixels: Buffer) => Promise<unknown>): Promise<void> {
  const { header } = chunk;
  const wanted = header.frames;
  let next = 0;
  let waiting = 0;
  let wake: (() => void) | undefined;
  const settled = () => {
    waiting--;
    wake?.();
    wake = undefined;
  };
  let decoded = 0;
  for await (const pixels of decodeSegment({
    segment: chunk.pixels, codec: header.video!.codec, frames: header.video!.frames,
    width: header.content!.width, height: header.content!.height, limits: options.limits, threads: options.threads,
  })) {
    // A frame the model sees twice (a rate above the video's in places) is submitted twice; one it skips, never.
    while (next < wanted.length && wanted[next]!.source === decoded) {
      while (waiting >= options.window) await new Promise<void>((resolve) => (wake = resolve));
      waiting++;
      submit(next++, pixels).then(settled, settled);
    }
    decoded++;
  }
}
