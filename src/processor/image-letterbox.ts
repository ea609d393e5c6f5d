import sharp from 'sharp';
import { VdetError } from '../shared/errors.js';
import { LETTERBOX_PAD_VALUE, letterbox } from '../shared/letterbox.js';

export interface LetterboxedImage {
  /** size × size × 3 bytes, BGR, the image top-left and grey 114 around it. */
  pixels: Buffer;
  width: number;
  height: number;
  scale: number;
}

/**
 * Decodes one pushed image (JPEG, PNG, WebP) with sharp and letterboxes it for the model, with a bilinear resize
 * like the file path's ffmpeg scaler. Pixel count is limited before decoding (no decompression bombs); a broken
 * image is a VDET_FRAME_INVALID.
 */
export async function letterboxImage(bytes: Buffer, size: number, maxPixels: number): Promise<LetterboxedImage> {
  try {
    const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    const box = letterbox(meta.width, meta.height, size);
    const { data } = await image
      .removeAlpha()
      .resize(box.width, box.height, { fit: 'fill', kernel: sharp.kernel.linear })
      .extend({ right: size - box.width, bottom: size - box.height, background: { r: LETTERBOX_PAD_VALUE, g: LETTERBOX_PAD_VALUE, b: LETTERBOX_PAD_VALUE } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (data.length !== size * size * 3) throw new Error(`decoded ${data.length} bytes`);
    for (let i = 0; i < data.length; i += 3) {
      const r = data[i]!;
      data[i] = data[i + 2]!;
      data[i + 2] = r;
    }
    return { pixels: data, width: meta.width, height: meta.height, scale: box.scale };
  } catch (cause) {
    throw new VdetError('VDET_FRAME_INVALID', `The frame could not be decoded: ${(cause as Error).message}.`, { cause });
  }
}
