import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { TenantLeases } from '../../src/live/tenant-leases.js';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { connectStore } from '../../src/store/mongo.js';
import { authHeaders, submitJob, uploadFile, waitForJob, type Target } from '../helpers/client.js';
import { imagePath, TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * Per-tenant caps over two api replicas on one stack, no other role: the jobs stay queued, their event streams open.
 */
describe('tenant quotas: jobs in flight, open event streams; one tenant at its cap does not stop another', () => {
  const KEY = `vdet_quotas_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TENANT_MAX_JOBS_IN_FLIGHT: '3', VDET_TENANT_MAX_EVENT_STREAMS: '2',
  });
  const apis: RunningRole[] = [];
  let a: Target[] = [];
  let other: Target;
  const jobIds: string[] = [];

  before(async () => {
    apis.push(startRole('api', stack.env), startRole('api', stack.env));
    await waitStarted(apis);
    const bases = await Promise.all(apis.map((api) => apiUrl(api)));
    a = bases.map((base) => ({ base, key: KEY }));
    const store = await connectStore(stack.config.mongo);
    other = { base: bases[1]!, key: (await new ApiKeyStore(store.db).create('quota-other', 'test')).key };
    await store.close();
  });

  after(async () => {
    for (const api of apis) await api.stop();
    await stack.cleanup();
  });

  test('a tenant with 3 jobs queued gets 429 on the 4th upload, on either replica; another tenant does not', async () => {
    for (let i = 0; i < 3; i++) jobIds.push(await submitJob(a[i % 2]!, imagePath('dog')));
    for (const target of a) {
      const refused = await uploadFile(target, imagePath('dog'));
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      const body = (await refused.json()) as { code: string; detail: string };
      assert.equal(body.code, 'VDET_QUOTA_EXCEEDED');
      assert.match(body.detail, /3 jobs queued or running, the most it may \(VDET_TENANT_MAX_JOBS_IN_FLIGHT\)/);
    }
    const theirs = await uploadFile(other, imagePath('dog'));
    assert.equal(theirs.status, 202);
    await theirs.body?.cancel();
    const cancel = await fetch(`${a[0]!.base}/v1/jobs/${jobIds.pop()}`, { method: 'DELETE', headers: authHeaders(a[0]!) });
    assert.equal(cancel.status, 204);
    jobIds.push(await submitJob(a[1]!, imagePath('dog')));
  });

  test('a tenant holds at most 2 event streams over both replicas; closing one frees its place at once', async () => {
    const open = (target: Target, id: string) => fetch(`${target.base}/v1/jobs/${id}/events`, { headers: authHeaders(target) });
    const first = await open(a[0]!, jobIds[0]!);
    const second = await open(a[1]!, jobIds[1]!);
    assert.deepEqual([first.status, second.status], [200, 200]);
    const third = await open(a[0]!, jobIds[2]!);
    assert.equal(third.status, 429);
    assert.match(((await third.json()) as { detail: string }).detail, /2 event streams open, the most it may/);
    const theirs = await open(other, (await (await fetch(`${other.base}/v1/jobs`, { headers: authHeaders(other) })).json() as { items: { id: string }[] }).items[0]!.id);
    assert.equal(theirs.status, 200, 'another tenant\'s streams are counted apart');
    await theirs.body?.cancel();
    await first.body!.cancel();
    let reopened: Response | undefined;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
      reopened = await open(a[1]!, jobIds[2]!);
      if (reopened.status === 200) break;
      await reopened.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(reopened?.status, 200, 'a closed stream\'s place is free again');
    await reopened!.body?.cancel();
    await second.body!.cancel();
  });

  test('a lease whose holder died lapses on its own', async () => {
    const redis = new Redis(stack.config.redis.url, { keyPrefix: stack.config.redis.keyPrefix });
    try {
      const leases = new TenantLeases(redis, 'test-lapse', 1, 300);
      const held = await leases.acquire('t');
      assert.ok(held);
      assert.equal(await leases.acquire('t'), null);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await leases.acquire('t'), null, 'renewed while held');
      // What a replica that died leaves: a lease nobody renews, due to lapse in 300 ms.
      const dead = new TenantLeases(redis, 'test-lapse-2', 1, 300);
      await redis.zadd('quota:test-lapse-2:t', Date.now() + 300, 'lease-of-a-dead-replica');
      assert.equal(await dead.acquire('t'), null, 'still counted before it lapses');
      await new Promise((r) => setTimeout(r, 400));
      const taken = await dead.acquire('t');
      assert.ok(taken, 'the lapsed lease no longer counts');
      await taken.release();
      await held!.release();
      assert.ok(await leases.acquire('t'));
    } finally {
      redis.disconnect();
    }
  });
});

/**
 * The renders cap needs done jobs, so the whole pipeline runs here. A render is the synchronous first GET of
 * annotated.mp4: its lease in Redis is held from before the render starts until its response is sent, so seeing the
 * lease there (not a sleep) says the render is under way. Each job is sampled at 1 fps (quick to detect), yet its render
 * encodes all 400 frames of the source, long enough for the requests made meanwhile.
 */
describe('tenant quotas: renders of annotated videos; one tenant at its cap does not stop another', () => {
  const KEY = `vdet_quotas_renders_${Date.now()}_0123456789abcdef`;
  const TENANT = 'quota-renders';
  const workDir = path.join(os.tmpdir(), `vdet-quotas-test-${process.pid}`);
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_BOOTSTRAP_TENANT: TENANT, VDET_WORK_DIR: workDir, VDET_TENANT_MAX_RENDERS: '1',
  });
  const roles: RunningRole[] = [];
  let a: Target;
  let other: Target;
  let redis: Redis;
  const jobIds: string[] = [];
  let theirJob = '';
  const render = (target: Target, id: string) => fetch(`${target.base}/v1/jobs/${id}/annotated.mp4`, { headers: authHeaders(target) });

  before(async () => {
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    const base = await apiUrl(roles[3]!);
    a = { base, key: KEY };
    const store = await connectStore(stack.config.mongo);
    other = { base, key: (await new ApiKeyStore(store.db).create('quota-renders-other', 'test')).key };
    await store.close();
    redis = new Redis(stack.config.redis.url, { keyPrefix: stack.config.redis.keyPrefix });
    for (let i = 0; i < 2; i++) jobIds.push(await submitJob(a, TOUR_VIDEO, { fps: 1 }));
    theirJob = await submitJob(other, TOUR_VIDEO, { fps: 1 });
    for (const [target, id] of [[a, jobIds[0]!], [a, jobIds[1]!], [other, theirJob]] as const) {
      const job = await waitForJob(target, id);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
    }
  });

  after(async () => {
    for (const role of roles) {
      const { exitCode, signalCode } = role.child;
      if (exitCode !== null || signalCode !== null) console.error(`${role.role} exited early (${exitCode ?? signalCode}):\n${role.output().slice(-4000)}`);
      await role.stop();
    }
    redis?.disconnect();
    await stack.cleanup();
    await rm(workDir, { recursive: true, force: true });
  });

  test('with VDET_TENANT_MAX_RENDERS=1, a second render while one is under way gets 429; another tenant renders meanwhile', async () => {
    let firstEnded = false;
    const first = render(a, jobIds[0]!).finally(() => { firstEnded = true; });
    await until('the first render to hold its lease', async () => (await redis.zcard(`quota:renders:${TENANT}`)) === 1 || firstEnded);
    assert.equal(firstEnded, false, 'the first render ended before the test saw its lease');
    const [refused, theirs] = await Promise.all([render(a, jobIds[1]!), render(other, theirJob)]);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const body = (await refused.json()) as { code: string; detail: string };
    assert.equal(body.code, 'VDET_QUOTA_EXCEEDED');
    assert.match(body.detail, /1 annotated videos rendering, the most it may \(VDET_TENANT_MAX_RENDERS\)/);
    assert.equal(theirs.status, 200, 'another tenant\'s renders are counted apart');
    assert.equal(theirs.headers.get('x-vdet-cache'), 'miss');
    await theirs.body?.cancel();
    const done = await first;
    assert.equal(done.status, 200);
    await done.body?.cancel();
    // The lease is released before the first response is sent, on the connection the next acquire uses.
    const freed = await render(a, jobIds[1]!);
    assert.equal(freed.status, 200, 'an ended render\'s place is free again');
    assert.equal(freed.headers.get('x-vdet-cache'), 'miss');
    await freed.body?.cancel();
  });
});

/** Caps on what a tenant keeps: bytes of uploads stored, streams registered (one api, no other role). */
describe('tenant quotas: stored upload bytes and streams; changing what a tenant has is never refused', () => {
  const KEY = `vdet_storage_${Date.now()}_0123456789abcdef`;
  // Room for two dog.jpg uploads (163 759 bytes each), not three.
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TENANT_MAX_STORED_BYTES: String(400_000), VDET_TENANT_MAX_STREAMS: '2' });
  let api: RunningRole;
  let own: Target;
  let other: Target;
  const put = (target: Target, path: string, body: object) => fetch(`${target.base}${path}`, { method: 'PUT', headers: authHeaders(target, { 'content-type': 'application/json' }), body: JSON.stringify(body) });

  before(async () => {
    api = startRole('api', stack.env);
    await waitStarted([api]);
    const base = await apiUrl(api);
    own = { base, key: KEY };
    const store = await connectStore(stack.config.mongo);
    other = { base, key: (await new ApiKeyStore(store.db).create('storage-other', 'test')).key };
    await store.close();
  });

  after(async () => {
    await api.stop();
    await stack.cleanup();
  });

  test('an upload that would pass VDET_TENANT_MAX_STORED_BYTES is refused and not kept; deleting a job makes room', async () => {
    const first = await submitJob(own, imagePath('dog'));
    await submitJob(own, imagePath('dog'));
    const refused = await uploadFile(own, imagePath('dog'));
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { code: string; detail: string };
    assert.equal(body.code, 'VDET_QUOTA_EXCEEDED');
    assert.match(body.detail, /keeps 327518 bytes of uploads and this one has 163759, over the 400000 it may \(VDET_TENANT_MAX_STORED_BYTES\)/);
    const store = await connectStore(stack.config.mongo);
    try {
      assert.equal(await store.db.collection('uploads.files').countDocuments({}), 2, 'the refused upload is not kept');
    } finally {
      await store.close();
    }
    const theirs = await uploadFile(other, imagePath('dog'));
    assert.equal(theirs.status, 202, 'another tenant\'s bytes are counted apart');
    await theirs.body?.cancel();
    assert.equal((await fetch(`${own.base}/v1/jobs/${first}`, { method: 'DELETE', headers: authHeaders(own) })).status, 204);
    const room = await uploadFile(own, imagePath('dog'));
    assert.equal(room.status, 202, await room.text());
  });

  test('a third stream is refused with VDET_TENANT_MAX_STREAMS=2; the two may still change; removing one makes room', async () => {
    assert.equal((await put(own, '/v1/streams/cam-1/settings', {})).status, 200);
    assert.equal((await put(own, '/v1/streams/cam-2/source', { url: 'rtsp://8.8.8.8:1/cam' })).status, 200);
    for (const path of ['/v1/streams/cam-3/settings', '/v1/streams/cam-3/source']) {
      const refused = await put(own, path, path.endsWith('source') ? { url: 'rtsp://8.8.8.8:1/cam' } : {});
      assert.equal(refused.status, 429, path);
      assert.match(((await refused.json()) as { detail: string }).detail, /2 streams, the most it may \(VDET_TENANT_MAX_STREAMS\)/);
    }
    assert.equal((await put(own, '/v1/streams/cam-1/settings', { fpsCap: 5 })).status, 200, 'an existing stream may change');
    assert.equal((await put(other, '/v1/streams/cam-3/settings', {})).status, 200, 'another tenant\'s streams are counted apart');
    assert.equal((await fetch(`${own.base}/v1/streams/cam-2`, { method: 'DELETE', headers: authHeaders(own) })).status, 204);
    assert.equal((await put(own, '/v1/streams/cam-3/settings', {})).status, 200);
  });
});
