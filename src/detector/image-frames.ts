import { frameSlices, type Chunk } from '../contracts/chunk.js';
import { letterboxImage } from '../media/image-letterbox.js';
import type { FrameLayout } from '../vision/tensor.js';

/**
 * Decodes and letterboxes an `image` chunk's files (src/contracts/chunk.ts) on libvips' threads, side by side,
 * each handed to `submit` as soon as it is decoded. One that does not decode, or is not the size its header says,
 * goes to `failed` (the merger counts it), never a reason to lose its chunk's other frames.
 */
export async function submitImageFrames(
  chunk: Chunk, maxPixels: number,
  submit: (i: number, pixels: Uint8Array, layout: FrameLayout) => unknown, failed: (i: number, reason: string) => void,
): Promise<void> {
  const { header } = chunk;
  const input = { width: header.frameWidth, height: header.frameHeight };
  await Promise.all(frameSlices(chunk).map(async (file, i) => {
    const { stream } = header.frames[i]!;
    try {
      const image = await letterboxImage(file, input, maxPixels);
      if (image.width !== stream!.sourceWidth || image.height !== stream!.sourceHeight) {
        throw new Error(`it is ${image.width}x${image.height}, not the ${stream!.sourceWidth}x${stream!.sourceHeight} its header says`);
      }
      submit(i, image.pixels, { width: image.contentWidth, height: image.contentHeight, order: 'rgb' });
    } catch (error) {
      failed(i, (error as Error).message);
    }
  }));
}
