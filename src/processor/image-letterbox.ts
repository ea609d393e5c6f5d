import sharp from 'sharp';
import { VdetError } from '../shared/errors.js';
import { letterbox, type InputSize } from '../shared/letterbox.js';

export interface LetterboxedImage {
  /** The letterboxed image only: width × height × 3 bytes, RGB; the detector pads it to the model's square. */
  pixels: Buffer;
  /** Size of `pixels`' image, the top-left of the model input. */
  contentWidth: number;
  contentHeight: number;
  /** The decoded image's size. */
  width: number;
  height: number;
  scale: number;
}

/**
 * Decodes one pushed image (JPEG, PNG, WebP) with sharp and scales it for the model's letterbox, with a bilinear
 * resize like the file path's ffmpeg scaler. It leaves out what the detector does for free while filling its input
 * tensor (the grey padding, the RGB → BGR swap): 44 % fewer bytes on `vdet.chunks` for a 16:9 picture. Pixel count
 * is limited before decoding (no decompression bombs); a broken image is a VDET_FRAME_INVALID.
 */
export async function letterboxImage(bytes: Buffer, input: InputSize, maxPixels: number): Promise<LetterboxedImage> {
  try {
    const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    const box = letterbox(meta.width, meta.height, input);
    const { data } = await image
      .removeAlpha()
      .toColourspace('srgb') // a grey or CMYK image still gives three channels
      .resize(box.width, box.height, { fit: 'fill', kernel: sharp.kernel.linear })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (data.length !== box.width * box.height * 3) throw new Error(`decoded ${data.length} bytes`);
    return { pixels: data, contentWidth: box.width, contentHeight: box.height, width: meta.width, height: meta.height, scale: box.scale };
  } catch (cause) {
    throw new VdetError('VDET_FRAME_INVALID', `The frame could not be decoded: ${(cause as Error).message}.`, { cause });
  }
}
