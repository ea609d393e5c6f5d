import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { inspectImage, letterboxImage } from '../../src/media/image-letterbox.js';
import { imagePath } from '../helpers/paths.js';

/**
 * A pushed frame's header check (the processor's, so that the frame is decoded once, by the detector): its size and
 * letterbox the same as the full decode's, and truncated files refused without decoding.
 */
describe('inspectImage: a frame checked by its header', () => {
  const jpeg = readFileSync(imagePath('dog'));
  const input = { width: 416, height: 416 };

  test('a whole JPEG, PNG and WebP: the size and letterbox the decode gives', async () => {
    for (const file of [jpeg, await sharp(jpeg).png().toBuffer(), await sharp(jpeg).webp().toBuffer()]) {
      const inspected = await inspectImage(file, input, 8000 * 8000);
      const decoded = await letterboxImage(file, input, 8000 * 8000);
      assert.deepEqual(inspected, { width: decoded.width, height: decoded.height, contentWidth: decoded.contentWidth, contentHeight: decoded.contentHeight, scale: decoded.scale });
    }
  });

  test('truncated files, a bomb and a non-image are refused with VDET_FRAME_INVALID', async () => {
    const png = await sharp(jpeg).png().toBuffer();
    const webp = await sharp(jpeg).webp().toBuffer();
    for (const [file, reason] of [
      [jpeg.subarray(0, 2000), /JPEG is truncated/],
      [png.subarray(0, png.length - 20), /PNG is truncated/],
      [webp.subarray(0, webp.length - 10), /WebP is truncated/],
      [Buffer.from('hello, not an image at all'), /not a JPEG/],
    ] as const) {
      await assert.rejects(inspectImage(file, input, 8000 * 8000), (error: Error & { code?: string }) => error.code === 'VDET_FRAME_INVALID' && reason.test(error.message));
    }
    await assert.rejects(inspectImage(jpeg, input, 100 * 100), { code: 'VDET_FRAME_INVALID' });
  });
});
