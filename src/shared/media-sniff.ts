/**
 * A first look at an upload's leading bytes: is it plausibly one of the containers or image formats vdet reads?
 * This only rejects early and cheaply (415); the processor's ffprobe, with its whitelists, remains the judge.
 */
const MOV_ATOMS = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

export function sniffMedia(head: Buffer): boolean {
  if (head.length >= 12 && MOV_ATOMS.has(head.toString('latin1', 4, 8))) return true; // MP4 / MOV / 3GP
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return true; // Matroska / WebM (EBML)
  if (sniffImage(head) !== undefined) return true;
  return head.length >= 2 && head.toString('latin1', 0, 2) === 'BM'; // BMP
}

/** The still-image formats a stream frame may be in, by their leading bytes. */
export function sniffImage(head: Buffer): 'jpeg' | 'png' | 'webp' | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && head.toString('latin1', 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}
