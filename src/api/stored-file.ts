import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FileStore, StoredFile } from '../store/file-store.js';
import { VdetError } from '../platform/errors.js';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` over a file of `size` bytes: the inclusive range, or 'invalid' (answer 416). */
export function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return header.trim().startsWith('bytes=') ? 'invalid' : undefined; // multiple ranges: not supported
  const [, a, b] = match;
  if (a === '' && b === '') return 'invalid';
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

/**
 * Sends a stored file as it is, honouring one `Range: bytes=…` (206, or 416 with `Content-Range: bytes *\/size`
 * when it lies outside the file). HEAD sends the headers only.
 */
export function sendStoredFile(
  request: FastifyRequest, reply: FastifyReply, files: Pick<FileStore, 'open'>, file: StoredFile, type: string,
): FastifyReply {
  const size = file.length;
  void reply.header('accept-ranges', 'bytes').type(type);
  const rangeHeader = request.headers.range;
  const range = typeof rangeHeader === 'string' && size > 0 ? parseRange(rangeHeader, size) : undefined;
  if (range === 'invalid') {
    void reply.header('content-range', `bytes */${size}`);
    throw new VdetError('VDET_RANGE_NOT_SATISFIABLE', `The range "${String(rangeHeader)}" is outside the file's ${size} bytes.`);
  }
  if (range) {
    void reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      .header('content-length', String(range.end - range.start + 1));
    if (request.method === 'HEAD') return reply.send(nothing());
    return reply.send(files.open(file.id, { start: range.start, end: range.end + 1 }));
  }
  void reply.status(200).header('content-length', String(size));
  if (request.method === 'HEAD') return reply.send(nothing());
  return reply.send(files.open(file.id));
}

/** An empty stream: Fastify's HEAD routes keep the Content-Length set for a stream, but set 0 for no payload. */
function nothing(): Readable {
  return Readable.from([]);
}
