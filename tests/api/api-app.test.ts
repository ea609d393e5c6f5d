import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApi } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { JobMessage } from '../../src/contracts/messages.js';
import { topicNames } from '../../src/contracts/topics.js';
import type { ApiLiveState } from '../../src/live/api-live.js';
import type { EventHub } from '../../src/live/event-hub.js';
import type { ProgressStore } from '../../src/live/progress.js';
import type { Lease } from '../../src/live/tenant-leases.js';
import { loadConfig } from '../../src/platform/config.js';
import type { ApiKeyStore } from '../../src/store/api-keys.js';
import type { JobStore } from '../../src/store/job-store.js';
import { MemoryBus } from '../helpers/memory-bus.js';
import { MemoryFileStore, MemoryIdempotencyKeys, MemoryJobResults, MemoryJobStore, partialFake } from '../helpers/memory-stores.js';
import { imagePath } from '../helpers/paths.js';

/**
 * The api as buildApi assembles it, through `app.inject`, on in-memory ports: what a request does to the stores and
 * the bus, and how it fails. The same routes against Kafka, FerretDB and Redis: tests/api/*.int.test.ts.
 */
const KEYS: Record<string, { keyId: string; tenant: string }> = {
  'vdet_key-of-tenant-a': { keyId: 'ka', tenant: 'tenant-a' },
  'vdet_key-of-tenant-b': { keyId: 'kb', tenant: 'tenant-b' },
};
const A = { authorization: 'Bearer vdet_key-of-tenant-a' };
const B = { authorization: 'Bearer vdet_key-of-tenant-b' };
const dog = readFileSync(imagePath('dog'));

function memoryLive(): ApiLiveState {
  const held = new Map<string, number>();
  return {
    openEvents: () => partialFake<EventHub>('events', { close: () => undefined }),
    leases: (what, max) => ({
      max,
      async acquire(tenant: string): Promise<Lease | null> {
        const key = `${what}:${tenant}`;
        if ((held.get(key) ?? 0) >= max) return null;
        held.set(key, (held.get(key) ?? 0) + 1);
        return { release: async () => void held.set(key, held.get(key)! - 1) };
      },
    }),
    rateLimitCounters: undefined,
  };
}

async function startApi(env: Record<string, string> = {}) {
  const config = loadConfig({ VDET_LOG_LEVEL: 'silent', VDET_MEDIA_TOKEN_KEY: 'a-media-token-key-for-tests-only-0123456789', ...env });
  const bus = new MemoryBus();
  const uploads = new MemoryFileStore();
  const jobs = new MemoryJobStore(uploads);
  const idempotencyKeys = new MemoryIdempotencyKeys();
  const results = new MemoryJobResults();
  const cancelled: string[] = [];
  const deps: ApiDeps = {
    config, log: pino({ level: 'silent' }), bus, topics: topicNames(config.kafka.topicPrefix),
    jobs: partialFake<JobStore>('jobs', jobs), uploads, renderings: new MemoryFileStore(), results, idempotencyKeys,
    apiKeys: partialFake<ApiKeyStore>('apiKeys', { verify: async (key: string) => KEYS[key] }),
    progress: partialFake<ProgressStore>('progress', {
      markCancelled: async (jobId: string) => void cancelled.push(jobId), forget: async () => undefined, framesDone: async () => undefined,
    }),
    streams: partialFake('streams'), streamTokens: partialFake('streamTokens'), cameras: partialFake('cameras'), models: partialFake('models'),
    store: { ping: async () => undefined }, live: memoryLive(), labels: ['person', 'dog', 'car'],
  };
  const app = await buildApi(deps);
  return { app, bus, uploads, jobs, idempotencyKeys, results, cancelled, topics: deps.topics };
}

/** A multipart body with `file` (and `options`), as a browser's FormData sends it. */
async function multipart(file: Buffer, filename: string, options?: object): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  form.set('file', new Blob([file]), filename);
  if (options) form.set('options', JSON.stringify(options));
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), headers: { 'content-type': encoded.headers.get('content-type')! } };
}

async function upload(app: FastifyInstance, headers: Record<string, string>, file = dog, options?: object) {
  const body = await multipart(file, 'dog.jpg', options);
  return app.inject({ method: 'POST', url: '/v1/jobs', payload: body.payload, headers: { ...body.headers, ...headers } });
}

describe('api app (buildApi on in-memory ports, app.inject)', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await api.app.close();
  });

  test('an upload is stored as its tenant\'s, recorded queued, and its job message published with the stored ids', async () => {
    const response = await upload(api.app, A, dog, { minScore: 0.4, classes: ['dog'] });
    assert.equal(response.statusCode, 202, response.body);
    const { id, status } = response.json<{ id: string; status: string }>();
    assert.equal(status, 'queued');
    assert.equal(response.headers.location, `/v1/jobs/${id}`);
    const job = api.jobs.jobs.get(id)!;
    assert.equal(job.tenant, 'tenant-a');
    assert.equal(job.status, 'queued');
    assert.deepEqual(job.options, { minScore: 0.4, classes: ['dog'] });
    assert.ok(job.uploadId.startsWith('tenant-a/'), job.uploadId);
    const stored = api.uploads.named(job.uploadId)[0]!;
    assert.ok(stored.bytes.equals(dog), 'the upload\'s bytes are stored as sent');
    assert.equal(stored.metadata.mediaType, 'image/jpeg');
    assert.equal(stored.metadata.tenant, 'tenant-a');
    const sent = api.bus.sent(api.topics.jobs).filter((m) => m.key === id);
    assert.equal(sent.length, 1);
    assert.deepEqual(JobMessage.decode(sent[0]!.value), { v: 1, jobId: id, tenant: 'tenant-a', uploadId: job.uploadId, options: job.options });
  });

  test('another tenant\'s job is not found, for reading and for deleting; its own tenant deletes it and cancels its work', async () => {
    const id = (await upload(api.app, A)).json<{ id: string }>().id;
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await api.app.inject({ method, url: `/v1/jobs/${id}`, headers: B });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json<{ code: string }>().code, 'VDET_JOB_NOT_FOUND');
    }
    assert.ok(api.jobs.jobs.has(id), 'still there');
    assert.equal((await api.app.inject({ url: `/v1/jobs/${id}`, headers: A })).json<{ status: string }>().status, 'queued');
    const uploadId = api.jobs.jobs.get(id)!.uploadId;
    assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: A })).statusCode, 204);
    assert.ok(!api.jobs.jobs.has(id));
    assert.deepEqual(api.uploads.named(uploadId), []);
    assert.ok(api.cancelled.includes(id), 'workers are told to skip what is left of it');
    assert.ok(!(await api.app.inject({ url: '/v1/jobs', headers: A })).json<{ items: { id: string }[] }>().items.some((j) => j.id === id));
  });

  test('without a key, or with an unknown one: 401, and nothing is stored', async () => {
    const before = api.uploads.files.size;
    for (const headers of [{}, { authorization: 'Bearer vdet_not-a-key-anyone-has' }] as Record<string, string>[]) {
      const response = await upload(api.app, headers);
      assert.equal(response.statusCode, 401);
      assert.equal(response.json<{ code: string }>().code, 'VDET_UNAUTHORIZED');
    }
    assert.equal(api.uploads.files.size, before);
  });

  test('a file that is no media vdet reads: 415 VDET_UNSUPPORTED_MEDIA, and nothing is stored or queued', async () => {
    const [files, sent] = [api.uploads.files.size, api.bus.sent(api.topics.jobs).length];
    const response = await upload(api.app, A, Buffer.from('<html><script>alert(1)</script></html>'.repeat(20)));
    assert.equal(response.statusCode, 415);
    assert.equal(response.json<{ code: string }>().code, 'VDET_UNSUPPORTED_MEDIA');
    assert.equal(api.uploads.files.size, files);
    assert.equal(api.bus.sent(api.topics.jobs).length, sent);
  });

  test('options the schema refuses: 400 VDET_OPTIONS_INVALID naming the option, and nothing is stored', async () => {
    const files = api.uploads.files.size;
    const response = await upload(api.app, A, dog, { minScore: 7 });
    assert.equal(response.statusCode, 400);
    const problem = response.json<{ code: string; detail: string }>();
    assert.equal(problem.code, 'VDET_OPTIONS_INVALID');
    assert.match(problem.detail, /minScore/);
    assert.equal(api.uploads.files.size, files);
  });

  test('Kafka away: 503, and the job, its upload and its Idempotency-Key are undone (nothing accepted is lost)', async () => {
    const jobsBefore = api.jobs.jobs.size;
    api.bus.sendError = new Error('the broker went away');
    try {
      const response = await upload(api.app, { ...A, 'idempotency-key': 'retry-me' });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json<{ code: string }>().code, 'VDET_DEPENDENCY_UNAVAILABLE');
    } finally {
      api.bus.sendError = undefined;
    }
    assert.equal(api.jobs.jobs.size, jobsBefore);
    assert.equal(await api.idempotencyKeys.find('tenant-a', 'retry-me'), undefined, 'the key is free for the retry');
    const retry = await upload(api.app, { ...A, 'idempotency-key': 'retry-me' });
    assert.equal(retry.statusCode, 202);
    const id = retry.json<{ id: string }>().id;
    assert.equal(api.uploads.named(api.jobs.jobs.get(id)!.uploadId).length, 1);
  });

  test('an Idempotency-Key repeated answers the same job and stores nothing more; another tenant\'s same key is its own', async () => {
    const first = (await upload(api.app, { ...A, 'idempotency-key': 'once' })).json<{ id: string }>().id;
    const [files, sent] = [api.uploads.files.size, api.bus.sent(api.topics.jobs).length];
    const again = await upload(api.app, { ...A, 'idempotency-key': 'once' });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json<{ id: string }>().id, first);
    assert.equal(api.uploads.files.size, files);
    assert.equal(api.bus.sent(api.topics.jobs).length, sent);
    const other = (await upload(api.app, { ...B, 'idempotency-key': 'once' })).json<{ id: string }>().id;
    assert.notEqual(other, first);
  });

  test('detections: pages follow the cursor in frame order, narrowed by label and score, only the tenant\'s', async () => {
    const id = (await upload(api.app, A)).json<{ id: string }>().id;
    api.results.framesOf.set(id, [0, 1, 2, 3, 4].map((frame) => ({
      frame, ptsMs: frame * 40,
      detections: [
        { label: 'dog', classId: 16, score: 0.5 + frame / 10, box: [frame, 0, frame + 10, 10] as [number, number, number, number] },
        ...(frame % 2 === 0 ? [{ label: 'person', classId: 0, score: 0.8, box: [0, 0, 5, 5] as [number, number, number, number] }] : []),
      ],
    })));
    const page = async (query: string, headers = A) => api.app.inject({ url: `/v1/jobs/${id}/detections?${query}`, headers });
    const first = (await page('limit=2')).json<{ items: { frame: number }[]; next: string | null }>();
    assert.deepEqual(first.items.map((f) => f.frame), [0, 1]);
    const second = (await page(`limit=2&cursor=${first.next!}`)).json<{ items: { frame: number }[]; next: string | null }>();
    assert.deepEqual(second.items.map((f) => f.frame), [2, 3]);
    const people = (await page('label=person')).json<{ items: { frame: number; detections: { label: string }[] }[] }>();
    assert.deepEqual(people.items.map((f) => f.frame), [0, 2, 4]);
    assert.ok(people.items.every((f) => f.detections.every((d) => d.label === 'person')));
    const sure = (await page('label=dog&minScore=0.75')).json<{ items: { frame: number }[] }>();
    assert.deepEqual(sure.items.map((f) => f.frame), [3, 4]);
    assert.equal((await page('limit=2&cursor=not-a-cursor')).json<{ code: string }>().code, 'VDET_CURSOR_INVALID');
    assert.equal((await page('limit=2', B)).statusCode, 404);
  });

  test('a tenant at its jobs-in-flight cap: 429 VDET_QUOTA_EXCEEDED with Retry-After, before the upload is read', async () => {
    const capped = await startApi({ VDET_TENANT_MAX_JOBS_IN_FLIGHT: '2' });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await upload(capped.app, A)).statusCode, 202);
      const refused = await upload(capped.app, A);
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.json<{ code: string }>().code, 'VDET_QUOTA_EXCEEDED');
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal(capped.uploads.files.size, 2);
      assert.equal((await upload(capped.app, B)).statusCode, 202, 'another tenant is not held back');
    } finally {
      await capped.app.close();
    }
  });
});
