import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VdetError } from '../../shared/errors.js';
import type { JobRecord } from '../../shared/mongo.js';
import type { ApiDeps } from '../app.js';
import { problems } from '../problem.js';
import { JobIdParams } from '../schemas.js';
import { sendStoredFile } from '../stored-file.js';
import type { AnnotatedVideos } from '../annotated-video.js';
import { jobNotFound } from './jobs.js';

/** How long a signed source URL stays valid. */
export const SOURCE_TOKEN_TTL_MS = 15 * 60_000;
/** Used when a tenant's own secret cannot be read; per process, so such a token works only on the api that made it. */
const PROCESS_SECRET = randomBytes(32).toString('base64url');

const security: { [label: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }];
const SourceQuery = Type.Object({
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A token from `POST /v1/jobs/{id}/source-url`, instead of an API key' })),
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

const MEDIA_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.mov': 'video/quicktime', '.webm': 'video/webm', '.mkv': 'video/x-matroska',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.bmp': 'image/bmp',
};

/** The token of a signed source URL: base64url(expiry ms) "." HMAC-SHA256(jobId + expiry, secret) in base64url. */
export function signSourceToken(jobId: string, expiresAtMs: number, secret: string): string {
  const expiry = String(expiresAtMs);
  return `${Buffer.from(expiry).toString('base64url')}.${createHmac('sha256', secret).update(jobId + expiry).digest('base64url')}`;
}

/** Whether `token` was signed for this job with this secret and has not expired. */
export function verifySourceToken(jobId: string, token: string, secret: string, now = Date.now()): boolean {
  const [head, signature, ...rest] = token.split('.');
  if (!head || !signature || rest.length > 0) return false;
  const expiry = Buffer.from(head, 'base64url').toString('utf8');
  if (!/^\d{1,15}$/.test(expiry) || Number(expiry) <= now) return false;
  const expected = createHmac('sha256', secret).update(jobId + expiry).digest();
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A job's videos: its original upload, for the viewer's <video>, and its annotated rendering; byte ranges (206/416)
 * so a player can seek, and a short-lived signed URL because a media element cannot send an Authorization header.
 */
export const jobSourceRoutes: FastifyPluginAsyncTypebox<ApiDeps & { annotated: AnnotatedVideos }> = async (app, deps) => {
  const { store, jobs } = deps;
  const secretOf = (tenant: string) => deps.apiKeys.webhookSecret(tenant).catch(() => PROCESS_SECRET);

  /** The tenant's job; or, for a request the auth hook let through without a key, the job its token was signed for. */
  const jobFor = async (tenant: string, id: string, token: string | undefined): Promise<JobRecord> => {
    if (tenant) {
      const job = await jobs.get(tenant, id);
      if (!job) throw jobNotFound();
      return job;
    }
    if (!token) throw new VdetError('VDET_UNAUTHORIZED', 'Send an API key, or a token from POST /v1/jobs/{id}/source-url.');
    const found = await store.jobs.findOne({ _id: id });
    if (!found || !verifySourceToken(found._id, token, await secretOf(found.tenant))) {
      throw new VdetError('VDET_UNAUTHORIZED', 'The source token is not valid for this job or has expired.');
    }
    return found;
  };

  app.post('/v1/jobs/:id/source-url', {
    schema: {
      summary: 'A short-lived URL of the original upload that needs no key (for a <video> element)',
      description: `The URL carries a signed token for this job, valid for ${SOURCE_TOKEN_TTL_MS / 60_000} minutes.`,
      tags: ['jobs'],
      security,
      params: JobIdParams,
      response: { 200: SourceUrlSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await jobs.get(request.tenant, request.params.id);
    if (!job) throw jobNotFound();
    const expiresAtMs = Date.now() + SOURCE_TOKEN_TTL_MS;
    const token = signSourceToken(job._id, expiresAtMs, await secretOf(job.tenant));
    return { url: `/v1/jobs/${encodeURIComponent(job._id)}/source?token=${token}`, expiresAt: new Date(expiresAtMs).toISOString() };
  });

  app.get('/v1/jobs/:id/source', {
    schema: {
      summary: 'The original upload of a job, with byte ranges',
      description: 'Needs an API key, or instead the `token` of a URL from `POST /v1/jobs/{id}/source-url`. '
        + 'Honours one `Range: bytes=…` (206, or 416 when it lies outside the file).',
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
    const [file] = await store.uploads.find({ filename: job.uploadId }).sort({ uploadDate: -1 }).limit(1).toArray();
    if (!file) throw new VdetError('VDET_JOB_NOT_FOUND', 'The upload of this job is no longer stored.');
    const stored = (file.metadata as { contentType?: string } | undefined)?.contentType;
    const type = stored && stored !== 'application/octet-stream'
      ? stored
      : MEDIA_TYPES[path.extname(job.filename).toLowerCase()] ?? 'application/octet-stream';
    void reply.header('cache-control', 'private, max-age=300');
    return sendStoredFile(request, reply, store.uploads, file, type);
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
    void reply.header('x-vdet-cache', cached ? 'hit' : 'miss').header('cache-control', 'private, max-age=300')
      .header('content-disposition', `inline; filename="${downloadStem(job.filename)}.annotated.mp4"`);
    return sendStoredFile(request, reply, store.annotated, file, 'video/mp4');
  });
};

/** A file name's stem that is safe in a quoted Content-Disposition filename: ASCII letters, digits, `.`, `_`, `-`. */
export function downloadStem(filename: string): string {
  const stem = path.basename(filename, path.extname(filename)).replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '').slice(0, 100);
  return stem || 'job';
}
