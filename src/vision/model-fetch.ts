import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VdetError } from '../platform/errors.js';

export interface FetchedModel {
  path: string;
  sha256: string;
  bytes: number;
}

/**
 * Copies a model from an https URL or a local path to `out`, hashing it on the way; with `sha256` given, a mismatch
 * deletes the copy and fails. The file lands under a temporary name first, so a failed fetch never leaves a partial
 * model where VDET_MODEL points.
 */
export async function fetchModel(source: string, options: { sha256?: string | undefined; out: string }): Promise<FetchedModel> {
  const out = path.resolve(options.out);
  await mkdir(path.dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  const hash = createHash('sha256');
  let input: Readable;
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, { redirect: 'follow' });
    if (!response.ok || !response.body) throw new VdetError('VDET_MODEL_INVALID', `Fetching ${source} answered HTTP ${response.status}.`);
    input = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  } else {
    input = createReadStream(source);
  }
  try {
    await pipeline(input, async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        yield chunk;
      }
    }, createWriteStream(partial));
    const sha256 = hash.digest('hex');
    if (options.sha256 && options.sha256.toLowerCase() !== sha256) {
      throw new VdetError('VDET_MODEL_CHECKSUM', `The model's sha256 is ${sha256}, expected ${options.sha256}.`);
    }
    await rename(partial, out);
    return { path: out, sha256, bytes: (await stat(out)).size };
  } finally {
    await rm(partial, { force: true });
  }
}
