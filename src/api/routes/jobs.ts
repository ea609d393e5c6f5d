import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { JobMessage } from '../../contracts/messages.js';
import { tracksObjects } from '../../contracts/job-options.js';
import { buildAddressPolicy } from '../../platform/address-policy.js';
import { VdetError } from '../../platform/errors.js';
import { cursorInteger, pageCursor } from '../../platform/page-cursor.js';
import type { JobModel, JobRecord } from '../../store/job-record.js';
import type { JobStatus } from '../../store/job-state.js';
import type { JobStore } from '../../store/job-store.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import { JobAcceptedSchema, JobIdParams, JobListQuery, JobListSchema, JobSchema, type JobView } from '../schemas.js';
import { deleteJobData } from '../job-lifecycle.js';
import type { TenantQuotas } from '../tenant-quotas.js';
import { modelChooser } from '../model-choice.js';
import { receiveUpload } from '../upload.js';
import { receiveFromUrl, type FetchSettings } from '../url-upload.js';

/** What the jobs routes use: the job records, the uploads, the queue, progress and the tenant's caps. */
export type JobRouteDeps = Pick<ApiDeps, 'config' | 'jobs' | 'uploads' | 'idempotencyKeys' | 'bus' | 'topics' | 'progress' | 'models' | 'labels' | 'defaultModel'>
  & { quotas: Pick<TenantQuotas, 'admitJob' | 'admitUpload'> };

export const jobRoutes: FastifyPluginAsyncTypebox<JobRouteDeps> = async (app, deps) => {
  const { jobs, bus, topics, progress, uploads, idempotencyKeys } = deps;
  const callbacks = buildAddressPolicy(deps.config.http.webhookAllowPrivate, deps.config.http.webhookAllowHosts).policy;
  const fetching: FetchSettings = {
    policy: buildAddressPolicy(false, deps.config.http.fetchAllowHosts).policy,
    maxBytes: deps.config.http.uploadMaxBytes,
    answerTimeoutMs: deps.config.http.fetchAnswerTimeoutS * 1000,
    totalTimeoutMs: deps.config.http.fetchTimeoutS * 1000,
  };
  const chooseModel = modelChooser(deps.models, { labels: deps.labels, described: deps.defaultModel });

  app.post('/v1/jobs', {
    schema: {
      summary: 'Upload a video or image and start a detection job',
      description: 'multipart/form-data with one `file` (MP4/MOV, Matroska/WebM, MPEG-TS, AVI, MPEG-PS, FLV, animated GIF, JPEG, PNG, WebP, BMP) and an optional '
        + '`options` field holding JSON, e.g. `{"fps": 5, "minScore": 0.5, "classes": ["person"]}`; or application/json '
        + '`{"url": "https://…/video.mp4", "options": {…}}`: vdet downloads the file (public addresses only, unless '
        + 'VDET_FETCH_ALLOW_HOSTS allows more; redirects checked; the same size limit) and answers once it is stored. Answers 202 with '
        + 'the job id; `GET /v1/jobs/{id}` (the `Location` header) tells its progress. With an `Idempotency-Key` header, '
        + 'a repeat within 24 h answers with the same job and stores nothing.',
      consumes: ['multipart/form-data', 'application/json'],
      tags: ['jobs'],
      security: [{ bearer: [] }, { apiKey: [] }],
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 202: JobAcceptedSchema, ...problems(400, 401, 413, 415, 422, 429, 502, 503) },
    },
  }, async (request, reply) => {
    const tenant = request.tenant;
    const idempotencyKey = typeof request.headers['idempotency-key'] === 'string' ? request.headers['idempotency-key'] : undefined;
    const id = randomUUID();
    if (idempotencyKey !== undefined) {
      const existing = await idempotencyKeys.find(tenant, idempotencyKey) ?? await idempotencyKeys.claim(tenant, idempotencyKey, id);
      if (existing !== id) return reply.status(202).header('location', `/v1/jobs/${existing}`).send({ id: existing, status: 'queued' as const });
    }
    await deps.quotas.admitJob(tenant); // before a byte of the upload is read
    await deps.quotas.admitUpload(tenant);
    const forgetKey = async () => {
      if (idempotencyKey !== undefined) await idempotencyKeys.release(tenant, idempotencyKey).catch(() => undefined);
    };
    const byUrl = request.headers['content-type']?.startsWith('application/json') === true;
    const receive = byUrl ? receiveFromUrl(request.body, uploads, tenant, chooseModel, fetching, callbacks) : receiveUpload(request, uploads, tenant, chooseModel, callbacks);
    const upload = await receive.catch(async (error: unknown) => {
      await forgetKey();
      throw error;
    });
    await deps.quotas.admitUpload(tenant, upload.bytes).catch(async (error: unknown) => {
      await uploads.deleteNamed(upload.uploadId).catch(() => undefined);
      await forgetKey();
      throw error;
    });
    try {
      await jobs.create({
        _id: id, tenant, filename: upload.filename, uploadId: upload.uploadId, uploadBytes: upload.bytes, options: upload.options, model: upload.model,
      });
      // Bounded: a client waits seconds, not the Kafka client's full retry schedule, to hear that Kafka is away.
      await withTimeout(bus.send(topics.jobs, [{
        key: id,
        value: JobMessage.encode({ v: 1, jobId: id, tenant, uploadId: upload.uploadId, options: upload.options }),
      }]), ENQUEUE_TIMEOUT_MS);
    } catch (cause) {
      // Nothing is accepted that cannot be enqueued: undo what was stored and ask the client to retry.
      await jobs.delete({ _id: id, tenant, uploadId: upload.uploadId, status: 'queued' }).catch(() => undefined); // and its upload
      await forgetKey();
      throw new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'The job could not be queued right now; retry in a few seconds.', { cause });
    }
    request.log.info({ jobId: id, bytes: upload.bytes, options: upload.options, model: upload.model, ...('host' in upload ? { fetchedFrom: upload.host } : {}) }, 'job accepted');
    return reply.status(202).header('location', `/v1/jobs/${id}`).send({ id, status: 'queued' as const });
  });

  app.get('/v1/jobs', {
    schema: {
      summary: "The tenant's jobs, newest first",
      tags: ['jobs'],
      security: [{ bearer: [] }, { apiKey: [] }],
      querystring: JobListQuery,
      response: { 200: JobListSchema, ...problems(400, 401, 429) },
    },
  }, async (request) => {
    const { status, createdFrom, createdTo, limit, cursor } = request.query;
    const { jobs: page, more } = await jobs.list(request.tenant, {
      status: status as JobStatus | undefined, limit, createdFrom: createdFrom ? new Date(createdFrom) : undefined, createdTo: createdTo ? new Date(createdTo) : undefined,
      after: cursor ? decodeJobCursor(cursor) : undefined,
    });
    const last = page[page.length - 1];
    return {
      items: page.map((job) => toView(job, job.progress.framesDone)),
      next: more && last ? encodeJobCursor(last) : null,
    };
  });

  app.get('/v1/jobs/:id', {
    schema: {
      summary: 'A job: status, progress, media, counts per label',
      tags: ['jobs'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      response: { 200: JobSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    let framesDone = job.progress.framesDone;
    if (job.status === 'running') framesDone = Math.max(framesDone, (await progress.framesDone(job._id).catch(() => undefined)) ?? 0);
    return toView(job, framesDone);
  });

  app.delete('/v1/jobs/:id', {
    schema: {
      summary: 'Cancel a job and delete its upload, results and record',
      tags: ['jobs'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      response: { 204: { type: 'null', description: 'Deleted' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    await deleteJobData(deps, job);
    request.log.info({ jobId: job._id }, 'job deleted');
    return reply.status(204).send(null);
  });
};

const ENQUEUE_TIMEOUT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function jobNotFound(): VdetError {
  return new VdetError('VDET_JOB_NOT_FOUND', 'There is no job with this id.');
}

/** The tenant's job of this id, or VDET_JOB_NOT_FOUND (another tenant's job is not found either). */
export async function ownedJob(jobs: Pick<JobStore, 'get'>, tenant: string, id: string): Promise<JobRecord> {
  const job = await jobs.get(tenant, id);
  if (!job) throw jobNotFound();
  return job;
}

/** After this job in the newest-first listing: its creation time and id (untagged, as this cursor has always been). */
const jobCursor = pageCursor('', 2);

function encodeJobCursor(job: JobRecord): string {
  return jobCursor.encode(job.createdAt.getTime(), job._id);
}

function decodeJobCursor(cursor: string): { createdAt: Date; id: string } {
  const [createdAt, id] = jobCursor.decode(cursor) as [string, string];
  return { createdAt: new Date(cursorInteger(createdAt)), id };
}

/** What a job (or a stream) says of its model: name, the sha256 it is pinned to, and a registered model's version. */
export function modelView(model: JobModel | undefined): JobView['model'] {
  if (!model) return { name: 'default' }; // a job from before models were registered
  return { name: model.name, ...(model.sha256 ? { sha256: model.sha256 } : {}), ...('version' in model ? { version: model.version } : {}) };
}

export function toView(job: JobRecord, framesDone: number): JobView {
  return {
    id: job._id,
    status: job.status,
    filename: job.filename,
    options: job.options,
    model: modelView(job.model),
    progress: { framesDone, framesTotal: job.plan?.frames ?? job.progress.framesTotal },
    media: job.media ?? null,
    counts: job.counts ?? {},
    ...(tracksObjects(job.options) ? { objects: job.objects ?? {} } : {}),
    ...(job.error ? { error: job.error } : {}),
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}
