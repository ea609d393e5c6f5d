import sharp from 'sharp';
import { VdetError } from '../platform/errors.js';

/**
 * Decodes the JPEG frames of a `jpeg` chunk (src/contracts/chunk.ts) into packed RGB, all at once on
 * libvips' threads (the event loop only hands them over). A chunk comes from Kafka, so it is untrusted: each file
 * must be a colour JPEG of exactly the chunk's content size (a larger one is refused before it is decoded).
 */
export async function decodeJpegFrames(files: readonly Buffer[], width: number, height: number): Promise<Buffer[]> {
  return Promise.all(files.map(async (file, i) => {
    try {
      // One libvips call: the pixel limit refuses a larger image before decoding, the size check a smaller one after.
      if (file[0] !== 0xff || file[1] !== 0xd8) throw new Error('no JPEG start-of-image marker');
      const { data, info } = await sharp(file, { limitInputPixels: width * height, failOn: 'truncated', sequentialRead: true })
        .raw().toBuffer({ resolveWithObject: true });
      if (info.width !== width || info.height !== height || info.channels !== 3) {
        throw new Error(`an image of ${info.width}x${info.height} with ${info.channels} channels, not a ${width}x${height} colour JPEG`);
      }
      return data;
    } catch (cause) {
      throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: frame ${i} is not a readable JPEG: ${(cause as Error).message}`, { cause });
    }
  }));
}
