import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VdetError } from '../../platform/errors.js';
import type { JobRecord } from '../../store/job-record.js';
import type { FileStore, StoredFile } from '../../store/file-store.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import { JobIdParams } from '../schemas.js';
import { sendStoredFile } from '../stored-file.js';
import { MEDIA_TOKEN_DEFAULT_TTL_MS, MEDIA_TOKEN_MAX_TTL_MS, mediaTokenExpiry, signMediaToken, verifyMediaToken } from '../media-token.js';
import { mediaHeaders } from '../security-headers.js';
import { MEDIA_CONTENT_TYPES, mediaContentType } from '../../media/media-sniff.js';
import type { AnnotatedVideos } from '../annotated-video.js';
import { ownedJob } from './jobs.js';

const security: { [label: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }];
const SourceQuery = Type.Object({
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A token from `POST /v1/jobs/{id}/source-url`, instead of an API key' })),
}, { additionalProperties: false });
const SourceUrlQuery = Type.Object({
  ttlS: Type.Optional(Type.Integer({
    minimum: 1, maximum: 1_000_000_000,
    description: `How long the URL should work, in seconds (default ${MEDIA_TOKEN_DEFAULT_TTL_MS / 1000}); `
      + `the server caps it at ${MEDIA_TOKEN_MAX_TTL_MS / 3600_000} h whatever is asked (\`expiresAt\` says when it ends)`,
  })),
}, { additionalProperties: false });
const SourceUrlSchema = Type.Object({
  url: Type.String({ description: 'A URL of the original upload that works without a key until `expiresAt`' }),
  expiresAt: Type.String({ format: 'date-time' }),
}, { examples: [{ url: '/v1/jobs/0b9a…/source?token=MTcx….Xk2…', expiresAt: '2025-01-01T12:15:00.000Z' }] });
/** A response whose body is the file's bytes, of `type`. */
const fileBody = (description: string, type = 'application/octet-stream') => ({
  description,
  content: { [type]: { schema: { type: 'string', format: 'binary' } } },
});

/**
 * A job's videos: its original upload, for the viewer's <video>, and its annotated rendering; byte ranges (206/416)
 * so a player can seek, and a short-lived signed URL because a media element cannot send an Authorization header.
 */
export const jobSourceRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'jobs' | 'uploads' | 'renderings'> & { annotated: Pick<AnnotatedVideos, 'get'>; mediaKey: string }> = async (app, deps) => {
  const { jobs, uploads, renderings, mediaKey } = deps;

  /** The tenant's job; or, for a request the auth hook let through without a key, the job its token was signed for. */
  const jobFor = async (tenant: string, id: string, token: string | undefined): Promise<JobRecord> => {
    if (tenant) return ownedJob(jobs, tenant, id);
    if (!token) throw new VdetError('VDET_UNAUTHORIZED', 'Send an API key, or a token from POST /v1/jobs/{id}/source-url.');
    const found = await jobs.getById(id);
    if (!found || !verifyMediaToken('job-media', found._id, token, mediaKey)) {
      throw new VdetError('VDET_UNAUTHORIZED', 'The source token is not valid for this job or has expired.');
    }
    return found;
  };

  app.post('/v1/jobs/:id/source-url', {
    schema: {
      summary: 'A short-lived URL of the original upload that needs no key (for a <video> element)',
      description: `The URL carries a token that lets its holder read this job's original upload and annotated video `
        + `(replace \`/source\` by \`/annotated.mp4\`), nothing else, for ${MEDIA_TOKEN_DEFAULT_TTL_MS / 60_000} minutes `
        + `or \`ttlS\` seconds, at most ${MEDIA_TOKEN_MAX_TTL_MS / 3600_000} h. Tokens are signed with the server's media key (docs/security.md).`,
      tags: ['jobs'],
      security,
      params: JobIdParams,
      querystring: SourceUrlQuery,
      response: { 200: SourceUrlSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    const ttlS = request.query.ttlS;
    const expiresAtMs = mediaTokenExpiry(ttlS === undefined ? undefined : ttlS * 1000);
    const token = signMediaToken({ purpose: 'job-media', jobId: job._id, expiresAtMs }, mediaKey);
    return { url: `/v1/jobs/${encodeURIComponent(job._id)}/source?token=${token}`, expiresAt: new Date(expiresAtMs).toISOString() };
  });

  app.get('/v1/jobs/:id/source', {
    schema: {
      summary: 'The original upload of a job, with byte ranges',
      description: 'Needs an API key, or instead the `token` of a URL from `POST /v1/jobs/{id}/source-url`. '
        + 'Honours one `Range: bytes=…` (206, or 416 when it lies outside the file). Served as what its bytes are '
        + `(${MEDIA_CONTENT_TYPES.join(', ')}; anything else as application/octet-stream), never as the type the upload `
        + 'was sent with, with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`.',
      tags: ['jobs'],
      security,
      params: JobIdParams,
      querystring: SourceQuery,
      headers: { type: 'object', properties: { range: { type: 'string', maxLength: 200 } } },
      response: {
        200: fileBody('The whole file'),
        206: fileBody('The requested byte range'),
        ...problems(400, 401, 404, 416, 429),
      },
    },
  }, async (request, reply) => {
    const job = await jobFor(request.tenant, request.params.id, request.query.token);
    const file = await uploads.last(job.uploadId);
    if (!file) throw new VdetError('VDET_JOB_NOT_FOUND', 'The upload of this job is no longer stored.');
    const type = await servedType(uploads, file);
    void mediaHeaders(reply).header('cache-control', 'private, max-age=300');
    return sendStoredFile(request, reply, uploads, file, type);
  });

  app.get('/v1/jobs/:id/annotated.mp4', {
    schema: {
      summary: 'The job\'s video with its boxes and labels burned in (H.264 MP4), with byte ranges',
      description: 'Rendered by ffmpeg from the stored detections (no second inference) on the first request, which '
        + 'waits for it, then kept and served from storage (`X-Vdet-Cache: miss` or `hit`). A sampled job (`fps`, `stride`) holds each frame\'s boxes '
        + 'until its next sampled frame; an image job gives a one-frame video. Answers 409 `VDET_JOB_NOT_DONE` until the '
        + 'job is done. Needs an API key, or the `token` of a URL from `POST /v1/jobs/{id}/source-url`. Honours one '
        + '`Range: bytes=…` (206, or 416 when it lies outside the file).',
      tags: ['results'],
      security,
      params: JobIdParams,
      querystring: SourceQuery,
      headers: { type: 'object', properties: { range: { type: 'string', maxLength: 200 } } },
      response: {
        200: fileBody('The whole annotated video', 'video/mp4'),
        206: fileBody('The requested byte range of the annotated video', 'video/mp4'),
        ...problems(400, 401, 404, 409, 416, 429, 500),
      },
    },
  }, async (request, reply) => {
    const job = await jobFor(request.tenant, request.params.id, request.query.token);
    if (job.status !== 'done') {
      throw new VdetError('VDET_JOB_NOT_DONE', `The job is ${job.status}; its annotated video exists once it is done.`);
    }
    const { file, cached } = await deps.annotated.get(job);
    void mediaHeaders(reply).header('x-vdet-cache', cached ? 'hit' : 'miss').header('cache-control', 'private, max-age=300')
      .header('content-disposition', `inline; filename="${downloadStem(job.filename)}.annotated.mp4"`);
    return sendStoredFile(request, reply, renderings, file, 'video/mp4');
  });
};

/**
 * What an upload is served as: the type its bytes were sniffed as when it was stored (`metadata.mediaType`, set by
 * vdet, never by the client), or, for an upload stored before vdet kept it, its first bytes sniffed now.
 */
async function servedType(files: FileStore, file: StoredFile): Promise<string> {
  const known = file.metadata.mediaType;
  if (typeof known === 'string' && (MEDIA_CONTENT_TYPES as readonly string[]).includes(known)) return known;
  const chunks: Buffer[] = [];
  for await (const chunk of files.open(file.id, { start: 0, end: Math.min(32, file.length) })) chunks.push(chunk as Buffer);
  return mediaContentType(Buffer.concat(chunks));
}

/** A file name's stem that is safe in a quoted Content-Disposition filename: ASCII letters, digits, `.`, `_`, `-`. */
export function downloadStem(filename: string): string {
  const stem = path.basename(filename, path.extname(filename)).replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '').slice(0, 100);
  return stem || 'job';
}
