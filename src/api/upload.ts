import { randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MultipartFile, Multipart } from '@fastify/multipart';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyRequest } from 'fastify';
import { JobOptionsSchema, crossCheckOptions, type JobOptions } from '../contracts/job-options.js';
import type { AddressPolicy } from '../platform/address-policy.js';
import { mediaContentType, sniffMedia } from '../media/media-sniff.js';
import { VdetError, isVdetError } from '../platform/errors.js';
import type { JobModel } from '../store/job-record.js';
import type { FileStore } from '../store/file-store.js';
import type { ChooseModel } from './model-choice.js';

const checkOptions = TypeCompiler.Compile(JobOptionsSchema);

export interface StoredUpload {
  uploadId: string;
  filename: string;
  bytes: number;
  options: JobOptions;
  /** What `options.model` resolved to: the job is pinned to it. */
  model: JobModel;
}

/**
 * Streams one multipart upload into the store (readable by a processor on any machine) while reading its fields.
 * Whatever goes wrong — a second file, a size overflow, bad options, a client that disconnects — the partial upload
 * is deleted before the error is thrown, so a failed request leaves nothing behind.
 */
export async function receiveUpload(
  request: FastifyRequest, uploads: FileStore, tenant: string, chooseModel: ChooseModel, callbacks: AddressPolicy | boolean = false,
): Promise<StoredUpload> {
  if (!request.isMultipart()) {
    throw new VdetError('VDET_UPLOAD_NOT_MULTIPART', 'Send the video as multipart/form-data with a "file" field.');
  }
  const uploadId = `${tenant}/${randomUUID()}`;
  let stored: { filename: string; bytes: number } | undefined;
  let optionsText: string | undefined;
  try {
    for await (const part of request.parts() as AsyncIterable<Multipart>) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') throw new VdetError('VDET_VALIDATION', `Unexpected file field "${part.fieldname}"; send the video as "file".`);
        if (stored) throw new VdetError('VDET_UPLOAD_TOO_MANY_FILES', 'Send exactly one file per job.');
        stored = await storeFile(part, uploads, uploadId, tenant);
      } else if (part.fieldname === 'options') {
        // A part sent as application/json arrives parsed by @fastify/multipart; any other as text.
        optionsText = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
      } else {
        throw new VdetError('VDET_VALIDATION', `Unknown field "${part.fieldname}"; the fields are "file" and "options".`);
      }
    }
    if (!stored) throw new VdetError('VDET_UPLOAD_MISSING_FILE', 'The request has no "file" field with the video or image.');
    if (stored.bytes === 0) throw new VdetError('VDET_UPLOAD_EMPTY', 'The uploaded file is empty.');
    return { uploadId, ...stored, ...(await parseOptions(optionsText, chooseModel, callbacks)) };
  } catch (error) {
    await uploads.deleteNamed(uploadId).catch(() => undefined); // a failed write removed its own part already
    throw uploadError(error);
  }
}

/** Enough leading bytes to see an MPEG-TS file's sync bytes three packets in (M2TS packets are 192 bytes). */
const SNIFF_BYTES = 400;
const UNSUPPORTED = 'The file is not a video or image vdet reads (MP4/MOV, Matroska/WebM, MPEG-TS, AVI, MPEG-PS, FLV, GIF, JPEG, PNG, WebP, BMP).';

async function storeFile(part: MultipartFile, uploads: FileStore, uploadId: string, tenant: string) {
  const stored = await storeStream(part.file, { uploads, uploadId, tenant, filename: part.filename });
  if (part.file.truncated) throw new VdetError('VDET_UPLOAD_TOO_LARGE', 'The file is larger than this server accepts.');
  return stored;
}

/**
 * Streams a file's bytes into the store as `uploadId`, refusing at once what its first bytes say is no media vdet
 * reads, and (with `maxBytes`) what grows past that; records the type its bytes say it is. A write that fails leaves
 * nothing stored.
 */
export async function storeStream(
  source: NodeJS.ReadableStream,
  target: { uploads: FileStore; uploadId: string; tenant: string; filename: string | undefined; maxBytes?: number },
): Promise<{ filename: string; bytes: number }> {
  const { uploads, uploadId, tenant, maxBytes } = target;
  let bytes = 0;
  let head = Buffer.alloc(0);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (maxBytes !== undefined && bytes + chunk.length > maxBytes) {
        callback(new VdetError('VDET_UPLOAD_TOO_LARGE', `The file is larger than this server accepts (${maxBytes} bytes).`));
        return;
      }
      if (head.length < SNIFF_BYTES) {
        head = Buffer.concat([head, chunk]).subarray(0, SNIFF_BYTES);
        if (head.length >= SNIFF_BYTES && !sniffMedia(head)) {
          callback(new VdetError('VDET_UNSUPPORTED_MEDIA', UNSUPPORTED));
          return;
        }
      }
      bytes += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (bytes > 0 && head.length < SNIFF_BYTES && !sniffMedia(head)) {
        callback(new VdetError('VDET_UNSUPPORTED_MEDIA', UNSUPPORTED));
        return;
      }
      callback();
    },
  });
  const filename = (target.filename || 'upload').slice(0, 255);
  // The client's part Content-Type is not kept: what the upload is served as is decided by its bytes.
  // The source's failures reach the write through `counter` (pipeline destroys it with them), and the write's reach back.
  const [id] = await Promise.all([uploads.write(uploadId, counter, { tenant, filename }), pipeline(source, counter)]);
  await uploads.annotate(id, { mediaType: mediaContentType(head) });
  return { filename, bytes };
}

/**
 * A job's options from their JSON text, checked against their schema and against the model they name (its labels):
 * the options, and the model version the job is pinned to.
 */
export async function parseOptions(
  text: string | undefined, chooseModel: ChooseModel, callbacks: AddressPolicy | boolean = false,
): Promise<{ options: JobOptions; model: JobModel }> {
  const options = checkedOptions(text);
  const { model, labels } = await chooseModel(options.model);
  const conflict = crossCheckOptions(options, labels, callbacks);
  if (conflict) throw new VdetError('VDET_OPTIONS_INVALID', `Option "${conflict.option}" ${conflict.problem}.`);
  return { options, model };
}

function checkedOptions(text: string | undefined): JobOptions {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new VdetError('VDET_OPTIONS_INVALID', 'The "options" field must be a JSON object, e.g. {"fps": 5}.');
  }
  if (!checkOptions.Check(value)) {
    const first = checkOptions.Errors(value).First();
    const option = first?.path.replace(/^\//, '') || 'options';
    throw new VdetError('VDET_OPTIONS_INVALID', `Option "${option}": ${first?.message ?? 'is invalid'}.`);
  }
  return value;
}

/**
 * What went wrong with an upload, in vdet's terms: our own errors and the multipart plugin's (FST_…) as they are,
 * the store being away as 503, and anything else the multipart parser threw (no boundary, a malformed part) as 400.
 */
export function uploadError(error: unknown): unknown {
  if (isVdetError(error)) return error;
  const e = error as { name?: string; code?: unknown; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('FST_')) return error;
  if (e.name?.startsWith('Mongo')) return new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'The upload could not be stored right now; retry in a few seconds.', { cause: error });
  return new VdetError('VDET_VALIDATION', `The multipart body could not be read: ${e.message ?? 'malformed'}.`, { cause: error });
}
