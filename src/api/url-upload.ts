import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Type } from '@sinclair/typebox';
import type { AddressPolicy } from '../platform/address-policy.js';
import { VdetError } from '../platform/errors.js';
import { AddressRefused, FetchFailed, guardedGet, type Resolver } from '../platform/guarded-http.js';
import type { FileStore } from '../store/file-store.js';
import type { ChooseModel } from './model-choice.js';
import { parseOptions, storeStream, uploadError, type StoredUpload } from './upload.js';

/** `POST /v1/jobs` with a JSON body: a video by URL instead of an upload. */
export const UrlJobBody = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 4096, description: 'An http(s) URL vdet downloads (redirects followed, each checked)' }),
  options: Type.Optional(Type.Unknown({ description: 'Job options, as in the multipart `options` field' })),
}, { additionalProperties: false });
const checkBody = TypeCompiler.Compile(UrlJobBody);

export interface FetchSettings {
  policy: AddressPolicy;
  maxBytes: number;
  answerTimeoutMs: number;
  totalTimeoutMs: number;
  resolve?: Resolver;
}

/**
 * Downloads a video named by URL into the store, as if it had been uploaded: the same sniff and size limit, the
 * processor reads it from the store (ffmpeg never opens the URL). The fetch follows the callback rules: every address
 * the name resolves to is checked when connecting, every redirect again, loopback/private/link-local/metadata refused
 * unless VDET_FETCH_ALLOW_HOSTS allows them; an answer within the answer timeout, the whole body within the total.
 * A failed fetch leaves nothing stored.
 */
export async function receiveFromUrl(
  body: unknown, uploads: FileStore, tenant: string, chooseModel: ChooseModel, settings: FetchSettings, callbacks: AddressPolicy | boolean = false,
): Promise<StoredUpload & { host: string }> {
  if (!checkBody.Check(body)) {
    const first = checkBody.Errors(body).First();
    throw new VdetError('VDET_VALIDATION', `Invalid request: ${first?.path || 'body'} ${first?.message ?? 'is invalid'}; send {"url": "https://…", "options": {…}}.`);
  }
  const { options, model } = await parseOptions(body.options === undefined ? undefined : JSON.stringify(body.options), chooseModel, callbacks);
  const uploadId = `${tenant}/${randomUUID()}`;
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), settings.totalTimeoutMs);
  try {
    const { response, url } = await guardedGet(body.url, { ...settings, signal: abort.signal });
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      response.resume();
      throw new VdetError('VDET_FETCH_FAILED', `The URL answered HTTP ${status}; vdet needs a 200 with the video.`);
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > settings.maxBytes) {
      response.destroy();
      throw new VdetError('VDET_UPLOAD_TOO_LARGE', `The URL's file is ${declared} bytes; this server accepts at most ${settings.maxBytes}.`);
    }
    const stored = await storeStream(response, { uploads, uploadId, tenant, filename: fileName(url), maxBytes: settings.maxBytes });
    if (stored.bytes === 0) throw new VdetError('VDET_UPLOAD_EMPTY', 'The URL\'s file is empty.');
    return { uploadId, ...stored, options, model, host: new URL(url).host };
  } catch (error) {
    await uploads.deleteNamed(uploadId).catch(() => undefined); // a failed write removed its own part already
    throw fetchError(error, abort.signal.aborted, settings.totalTimeoutMs);
  } finally {
    clearTimeout(deadline);
  }
}

/** The file's name from the URL's last path segment (never its query, which may hold a signature). */
function fileName(url: string): string {
  const last = path.posix.basename(new URL(url).pathname);
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // kept as sent
  }
  return name.replace(/[\u0000-\u001f/\\]/g, '_').slice(0, 255) || 'download';
}

function fetchError(error: unknown, timedOut: boolean, totalMs: number): unknown {
  if (error instanceof AddressRefused) return new VdetError('VDET_FETCH_REFUSED', `${error.message.replace(/\.$/, '')}: vdet fetches only public addresses unless VDET_FETCH_ALLOW_HOSTS allows others.`, { cause: error });
  if (timedOut) return new VdetError('VDET_FETCH_FAILED', `The URL's file did not arrive within ${totalMs / 1000} s.`, { cause: error });
  if (error instanceof FetchFailed) return new VdetError('VDET_FETCH_FAILED', error.message, { cause: error });
  const e = error as NodeJS.ErrnoException;
  if (e?.code && /^(ECONNRESET|EPIPE|ERR_STREAM_PREMATURE_CLOSE|ECONNREFUSED|ETIMEDOUT|ENOTFOUND)$/.test(e.code)) {
    return new VdetError('VDET_FETCH_FAILED', `The download broke off (${e.code}).`, { cause: error });
  }
  return uploadError(error);
}
