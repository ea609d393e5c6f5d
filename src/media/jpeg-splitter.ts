/** ffmpeg's MJPEG quality scale (2 best … 31) for frames on the wire (VDET_WIRE_FORMAT=jpeg; docs/topics.md says what it costs). */
export const WIRE_JPEG_QUALITY = 2;

const JPEG_END = Buffer.from([0xff, 0xd9]);

/**
 * Cuts ffmpeg's MJPEG output (whole JPEG files back to back) into files. Inside a JPEG's entropy-coded data 0xFF is
 * always followed by 0x00, and ffmpeg writes no thumbnails, so each end-of-image marker (FF D9) ends a file.
 */
export class JpegSplitter {
  private rest: Buffer = Buffer.alloc(0);

  /** Bytes not yet part of a whole file. */
  get pending(): number {
    return this.rest.length;
  }

  push(data: Buffer): Buffer[] {
    const from = Math.max(0, this.rest.length - 1); // a marker may straddle two reads
    this.rest = this.rest.length === 0 ? data : Buffer.concat([this.rest, data]);
    const files: Buffer[] = [];
    let start = 0;
    let end = this.rest.indexOf(JPEG_END, from);
    while (end >= 0) {
      files.push(Buffer.from(this.rest.subarray(start, end + 2)));
      start = end + 2;
      end = this.rest.indexOf(JPEG_END, start);
    }
    this.rest = start === 0 ? this.rest : this.rest.subarray(start);
    return files;
  }
}
