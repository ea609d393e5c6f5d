import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { JobMessage } from '../../shared/contracts/messages.js';
import { VdetError } from '../../shared/errors.js';
import type { JobRecord } from '../../shared/mongo.js';
import type { ApiDeps } from '../app.js';
import { DetectionsPageSchema, DetectionsQuery, JobAcceptedSchema, JobIdParams, JobSchema, ProblemSchema, type JobView } from '../schemas.js';
import { deleteUpload, receiveUpload } from '../upload.js';

const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ProblemSchema]));

export const jobRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  const { store, jobs, bus, topics, progress } = deps;

  app.post('/v1/jobs', {
    schema: {
      summary: 'Upload a video or image and start a detection job',
      description: 'multipart/form-data with one `file` (MP4/MOV, Matroska/WebM, JPEG, PNG, WebP) and an optional '
        + '`options` field holding JSON: `{"fps": 5, "minScore": 0.5}`. Answers 202 with the job id; poll '
        + '`GET /v1/jobs/{id}` (the `Location` header) for its progress.',
      consumes: ['multipart/form-data'],
      tags: ['jobs'],
      response: { 202: JobAcceptedSchema, ...problems(400, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const tenant = request.tenant;
    const upload = await receiveUpload(request, store, tenant);
    const id = randomUUID();
    try {
      await jobs.create({
        _id: id, tenant, filename: upload.filename, uploadId: upload.uploadId, uploadBytes: upload.bytes, options: upload.options,
      });
      await bus.send(topics.jobs, [{
        key: id,
        value: JobMessage.encode({ v: 1, jobId: id, tenant, uploadId: upload.uploadId, options: upload.options }),
      }]);
    } catch (cause) {
      // Nothing is accepted that cannot be enqueued: undo what was stored and ask the client to retry.
      await store.jobs.deleteOne({ _id: id }).catch(() => undefined);
      await deleteUpload(store, upload.uploadId).catch(() => undefined);
      throw new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'The job could not be queued right now; retry in a few seconds.', { cause });
    }
    request.log.info({ jobId: id, bytes: upload.bytes, options: upload.options }, 'job accepted');
    return reply.status(202).header('location', `/v1/jobs/${id}`).send({ id, status: 'queued' as const });
  });

  app.get('/v1/jobs/:id', {
    schema: {
      summary: 'A job: status, progress, media, counts per label',
      tags: ['jobs'],
      params: JobIdParams,
      response: { 200: JobSchema, ...problems(404) },
    },
  }, async (request) => {
    const job = await jobs.get(request.tenant, request.params.id);
    if (!job) throw notFound();
    let framesDone = job.progress.framesDone;
    if (job.status === 'running') framesDone = Math.max(framesDone, (await progress.framesDone(job._id).catch(() => undefined)) ?? 0);
    return toView(job, framesDone);
  });

  app.get('/v1/jobs/:id/detections', {
    schema: {
      summary: 'Detections of a job, frame by frame, in frame order',
      tags: ['jobs'],
      params: JobIdParams,
      querystring: DetectionsQuery,
      response: { 200: DetectionsPageSchema, ...problems(400, 404) },
    },
  }, async (request) => {
    const job = await jobs.get(request.tenant, request.params.id);
    if (!job) throw notFound();
    const after = request.query.cursor === undefined ? -1 : decodeCursor(request.query.cursor);
    const limit = request.query.limit;
    const rows = await store.frames
      .find({ tenant: job.tenant, jobId: job._id, frame: { $gt: after } }, { projection: { _id: 0, frame: 1, ptsMs: 1, detections: 1 } })
      .sort({ frame: 1 })
      .limit(limit + 1)
      .toArray();
    const items = rows.slice(0, limit).map(({ frame, ptsMs, detections }) => ({ frame, ptsMs, detections }));
    const next = rows.length > limit ? encodeCursor(items[items.length - 1]!.frame) : null;
    return { items, next };
  });
};

function notFound(): VdetError {
  return new VdetError('VDET_JOB_NOT_FOUND', 'There is no job with this id.');
}

function encodeCursor(frame: number): string {
  return Buffer.from(`f:${frame}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^f:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new VdetError('VDET_CURSOR_INVALID', 'The cursor is not one this api returned.');
  return Number(match[1]);
}

function toView(job: JobRecord, framesDone: number): JobView {
  return {
    id: job._id,
    status: job.status,
    filename: job.filename,
    progress: { framesDone, framesTotal: job.plan?.frames ?? job.progress.framesTotal },
    media: job.media ?? null,
    counts: job.counts ?? {},
    ...(job.error ? { error: job.error } : {}),
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

