/**
 * A first look at an upload's leading bytes: is it plausibly one of the containers or image formats vdet reads?
 * This only rejects early and cheaply (415); the processor's ffprobe, with its whitelists, remains the judge.
 */
const MOV_ATOMS = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

export function sniffMedia(head: Buffer): boolean {
  if (head.length >= 12 && MOV_ATOMS.has(head.toString('latin1', 4, 8))) return true; // MP4 / MOV / 3GP
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return true; // Matroska / WebM (EBML)
  if (sniffImage(head) !== undefined) return true;
  return sniffContainer(head) !== undefined || isBmp(head);
}

/**
 * The other containers vdet reads, by their leading bytes: MPEG-TS (the 0x47 sync byte every 188 bytes, or every
 * 192 in Blu-ray's M2TS), AVI (RIFF…AVI ), MPEG-PS (a pack header), FLV and GIF (animated or not). Their ffmpeg
 * demuxers read no file but the one they are given (tests/processor/hostile-media.int.test.ts).
 */
export function sniffContainer(head: Buffer): 'mpegts' | 'avi' | 'mpeg' | 'flv' | 'gif' | undefined {
  const syncEvery = (size: number, offset: number) => head.length >= offset + 2 * size + 1 && [0, 1, 2].every((k) => head[offset + k * size] === 0x47);
  if (syncEvery(188, 0) || syncEvery(192, 4)) return 'mpegts';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'AVI ') return 'avi';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x000001ba) return 'mpeg';
  if (head.length >= 4 && head.toString('latin1', 0, 3) === 'FLV' && head[3] === 1) return 'flv';
  if (head.length >= 6 && /^GIF8[79]a$/.test(head.toString('latin1', 0, 6))) return 'gif';
  return undefined;
}

const CONTAINER_TYPES = { mpegts: 'video/mp2t', avi: 'video/x-msvideo', mpeg: 'video/mpeg', flv: 'video/x-flv', gif: 'image/gif' } as const;

/** The still-image formats a stream frame may be in, by their leading bytes. */
export function sniffImage(head: Buffer): 'jpeg' | 'png' | 'webp' | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && head.toString('latin1', 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** The only Content-Types vdet serves an upload as; anything else goes out as application/octet-stream. */
export const MEDIA_CONTENT_TYPES = [
  'video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska', 'video/mp2t', 'video/x-msvideo', 'video/mpeg', 'video/x-flv',
  'image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'image/gif',
] as const;
export type MediaContentType = (typeof MEDIA_CONTENT_TYPES)[number] | 'application/octet-stream';

/** BITMAPCOREHEADER, BITMAPINFOHEADER and its later versions: the DIB header sizes a real BMP has at byte 14. */
const BMP_DIB_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);

/**
 * The Content-Type to serve an upload as, chosen by what its leading bytes are (never by what the client said):
 * one of {@link MEDIA_CONTENT_TYPES}, or application/octet-stream when the bytes are none of them.
 */
export function mediaContentType(head: Buffer): MediaContentType {
  const image = sniffImage(head);
  if (image) return `image/${image}`;
  if (head.length >= 12 && MOV_ATOMS.has(head.toString('latin1', 4, 8))) {
    return head.toString('latin1', 4, 8) === 'ftyp' && head.toString('latin1', 8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4';
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return head.includes('webm', 0, 'latin1') ? 'video/webm' : 'video/x-matroska';
  const container = sniffContainer(head);
  if (container) return CONTAINER_TYPES[container];
  if (isBmp(head)) return 'image/bmp';
  return 'application/octet-stream';
}

/** "BM", the file size, two reserved words, the pixel offset, then a DIB header of a size BMPs have. */
function isBmp(head: Buffer): boolean {
  return head.length >= 18 && head.toString('latin1', 0, 2) === 'BM' && BMP_DIB_SIZES.has(head.readUInt32LE(14));
}
