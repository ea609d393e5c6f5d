import sharp from 'sharp';
import { VdetError } from '../platform/errors.js';
import { letterbox, type InputSize } from './letterbox.js';
import { sniffImage } from './media-sniff.js';

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

export interface InspectedImage {
  /** The image's size, and its letterbox in the model's input. */
  width: number;
  height: number;
  contentWidth: number;
  contentHeight: number;
  scale: number;
}

/**
 * A pushed image's header, read without decoding it (the detector decodes it once, with {@link letterboxImage}):
 * its size within the pixel limit, and a whole file — a JPEG ends with its end-of-image marker, a PNG with IEND, a
 * WebP is as long as its RIFF header says. What the header cannot show (corrupt coded data) the detector's decode
 * finds; that frame is counted as failed.
 */
export async function inspectImage(bytes: Buffer, input: InputSize, maxPixels: number): Promise<InspectedImage> {
  try {
    const truncated = incomplete(bytes);
    if (truncated) throw new Error(truncated);
    const meta = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    if (meta.width * meta.height > maxPixels) throw new Error(`Input image exceeds pixel limit (${meta.width}x${meta.height})`);
    const box = letterbox(meta.width, meta.height, input);
    return { width: meta.width, height: meta.height, contentWidth: box.width, contentHeight: box.height, scale: box.scale };
  } catch (cause) {
    throw new VdetError('VDET_FRAME_INVALID', `The frame could not be decoded: ${(cause as Error).message}.`, { cause });
  }
}

/** Why the file is not whole, or undefined. */
function incomplete(bytes: Buffer): string | undefined {
  const tail = bytes.subarray(Math.max(0, bytes.length - 64));
  switch (sniffImage(bytes.subarray(0, 16))) {
    case 'jpeg': return tail.includes(Buffer.from([0xff, 0xd9])) ? undefined : 'the JPEG is truncated (no end-of-image marker)';
    case 'png': return tail.includes(Buffer.from('IEND', 'latin1')) ? undefined : 'the PNG is truncated (no IEND chunk)';
    case 'webp': return bytes.length >= 12 && bytes.readUInt32LE(4) + 8 <= bytes.length ? undefined : 'the WebP is truncated (shorter than its RIFF header says)';
    default: return 'not a JPEG, PNG or WebP image';
  }
}
