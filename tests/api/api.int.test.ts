import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { connectStore } from '../../src/store/mongo.js';
import { allDetections, authHeaders, getJob, submitJob, uploadFile, waitForJob, type Target } from '../helpers/client.js';
import { imagePath, TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/** The api's promises to its users, over a real socket, with the other three roles running for real. */
describe('api: keys and tenants, options, queries, live progress, lifecycle', () => {
  const KEY_A = `vdet_tenant_a_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY_A, VDET_BOOTSTRAP_TENANT: 'tenant-a', VDET_RATE_LIMIT_PER_MIN: '100000', VDET_WEBHOOK_ALLOW_PRIVATE: 'true' });
  const roles: RunningRole[] = [];
  let a: Target;
  let b: Target;
  let strict: Target; // a second api process: 1 MB uploads, 20 requests a minute
  let dogJob = '';
  let tourJob = '';

  before(async () => {
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    const strictApi = startRole('api', { ...stack.env, VDET_MAX_UPLOAD_BYTES: String(1024 * 1024), VDET_RATE_LIMIT_PER_MIN: '20' });
    roles.push(strictApi);
    await waitStarted(roles);
    const base = await apiUrl(roles[3]!);
    const store = await connectStore(stack.config.mongo);
    const keyB = await new ApiKeyStore(store.db).create('tenant-b', 'test');
    const keyC = await new ApiKeyStore(store.db).create('tenant-a', 'rate-limited'); // a counter of its own
    await store.close();
    a = { base, key: KEY_A };
    b = { base, key: keyB.key };
    strict = { base: await apiUrl(strictApi), key: keyC.key };
    dogJob = await submitJob(a, imagePath('dog'));
    tourJob = await submitJob(a, TOUR_VIDEO, { fps: 5 });
    await waitForJob(a, dogJob);
  });

  after(async () => {
    for (const role of roles) await role.stop();
    await stack.cleanup();
  });

  test('no key or a bad key → 401; probes and docs stay open', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }, { 'x-api-key': 'vdet_unknown_key' }] as Record<string, string>[]) {
      const response = await fetch(`${a.base}/v1/jobs`, { headers });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { code: string }).code, 'VDET_UNAUTHORIZED');
    }
    assert.equal((await fetch(`${a.base}/v1/jobs`, { headers: { 'x-api-key': KEY_A } })).status, 200);
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs/']) assert.equal((await fetch(`${a.base}${path}`)).status, 200, path);
  });

  test("another tenant's job is 404 on every route, exactly as a job that does not exist", async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const suffix of ['', '/detections', '/summary', '/events']) {
      const foreign = await fetch(`${b.base}/v1/jobs/${dogJob}${suffix}`, { headers: authHeaders(b) });
      const absent = await fetch(`${b.base}/v1/jobs/${missing}${suffix}`, { headers: authHeaders(b) });
      assert.equal(foreign.status, 404, suffix);
      const [foreignBody, absentBody] = [await foreign.json(), await absent.json()];
      assert.deepEqual(foreignBody, absentBody, suffix);
    }
    const deleted = await fetch(`${b.base}/v1/jobs/${dogJob}`, { method: 'DELETE', headers: authHeaders(b) });
    assert.equal(deleted.status, 404);
    const list = (await (await fetch(`${b.base}/v1/jobs`, { headers: authHeaders(b) })).json()) as { items: unknown[] };
    assert.equal(list.items.length, 0);
    assert.equal((await fetch(`${a.base}/v1/jobs/${dogJob}`, { headers: authHeaders(a) })).status, 200);
  });

  test('live progress over server-sent events ends with done', async () => {
    const id = await submitJob(a, TOUR_VIDEO, { stride: 10 });
    const response = await fetch(`${a.base}/v1/jobs/${id}/events`, { headers: authHeaders(a) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await response.text(); // the stream ends after the final event
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ type: m[1], data: JSON.parse(m[2]!) as Record<string, number> }));
    assert.equal(events[0]?.type, 'progress');
    assert.equal(events.at(-1)?.type, 'done');
    const progress = events.filter((e) => e.type === 'progress').map((e) => e.data['framesDone']!);
    assert.deepEqual([...progress].sort((x, y) => x - y), progress, 'progress never goes back');
    assert.equal((await waitForJob(a, id)).progress.framesDone, 40);
  });

  test('job options: classes, maxDetections, roi, stride and a time range are applied', async () => {
    const classes = await waitForJob(a, await submitJob(a, imagePath('dog'), { classes: ['dog', 'car'], maxDetections: 1 }));
    assert.equal(classes.status, 'done');
    const [only] = await allDetections(a, classes.id);
    assert.deepEqual(only!.detections.map((d) => d.label), ['dog']); // dog 0.83 > car 0.81; bicycle filtered
    const roi = await waitForJob(a, await submitJob(a, imagePath('dog'), { roi: { rect: [0.55, 0, 1, 0.5] } }));
    assert.deepEqual((await allDetections(a, roi.id))[0]!.detections.map((d) => d.label), ['car']);
    // The same region as a polygon: stored (FerretDB keeps no nested arrays: as JSON text) and given back as sent.
    const polygon = { polygon: [[0.55, 0], [1, 0], [1, 0.5], [0.55, 0.5]] };
    const byPolygon = await waitForJob(a, await submitJob(a, imagePath('dog'), { roi: polygon }));
    assert.equal(byPolygon.status, 'done');
    assert.deepEqual((await allDetections(a, byPolygon.id))[0]!.detections.map((d) => d.label), ['car']);
    assert.deepEqual(((await getJob(a, byPolygon.id)) as unknown as { options: { roi: unknown } }).options.roi, polygon);
    const ranged = await waitForJob(a, await submitJob(a, TOUR_VIDEO, { startMs: 4000, endMs: 8000, stride: 5 }));
    const frames = await allDetections(a, ranged.id);
    assert.equal(frames.length, 20);
    assert.deepEqual(frames.slice(0, 2).map((f) => f.ptsMs), [4000, 4200]);
    assert.ok(frames.every((f) => f.detections.some((d) => d.label === 'horse')));
  });

  test('invalid options → 400 naming the option; nothing stored', async () => {
    for (const [options, option] of [
      [{ fps: 5, stride: 2 }, 'stride'], [{ classes: ['unicorn'] }, 'classes'], [{ endMs: 0 }, 'endMs'],
      [{ roi: { rect: [0.9, 0, 0.1, 1] } }, 'roi'], [{ maxDetections: 0 }, 'maxDetections'], [{ colour: 'red' }, 'options'],
    ] as const) {
      const response = await uploadFile(a, imagePath('dog'), options);
      assert.equal(response.status, 400, JSON.stringify(options));
      const problem = (await response.json()) as { code: string; detail: string };
      assert.equal(problem.code, 'VDET_OPTIONS_INVALID');
      assert.match(problem.detail, new RegExp(option === 'options' ? 'colour|additional' : option), problem.detail);
    }
  });

  test('queries: jobs newest first with status filter and cursor; detection filters; summary', async () => {
    await waitForJob(a, tourJob);
    const page1 = (await (await fetch(`${a.base}/v1/jobs?limit=2`, { headers: authHeaders(a) })).json()) as { items: { id: string; createdAt: string }[]; next: string };
    assert.equal(page1.items.length, 2);
    assert.ok(page1.next);
    const page2 = (await (await fetch(`${a.base}/v1/jobs?limit=1000&cursor=${page1.next}`, { headers: authHeaders(a) })).json()) as { items: { id: string; createdAt: string }[] };
    const all = [...page1.items, ...page2.items];
    assert.equal(new Set(all.map((j) => j.id)).size, all.length);
    assert.deepEqual(all.map((j) => j.createdAt), [...all.map((j) => j.createdAt)].sort().reverse());
    const failed = (await (await fetch(`${a.base}/v1/jobs?status=failed`, { headers: authHeaders(a) })).json()) as { items: unknown[] };
    assert.equal(failed.items.length, 0);

    const horses = await allDetections(a, tourJob, 1000, { label: 'horse', fromMs: '4000', toMs: '8000' });
    assert.ok(horses.length >= 18 && horses.length <= 20, `${horses.length} frames`);
    assert.ok(horses.every((f) => f.ptsMs >= 4000 && f.ptsMs < 8000 && f.detections.every((d) => d.label === 'horse')));
    const confident = await allDetections(a, tourJob, 1000, { minScore: '0.8' });
    assert.ok(confident.every((f) => f.detections.length > 0 && f.detections.every((d) => d.score >= 0.8)));

    const summary = (await (await fetch(`${a.base}/v1/jobs/${tourJob}/summary`, { headers: authHeaders(a) })).json()) as { labels: Record<string, { frames: number; firstMs: number; lastMs: number; maxPerFrame: number }> };
    // The summary agrees with the detections themselves, label by label.
    const frames = await allDetections(a, tourJob);
    for (const [label, got] of Object.entries(summary.labels)) {
      const withLabel = frames.filter((f) => f.detections.some((d) => d.label === label));
      assert.equal(got.frames, withLabel.length, label);
      assert.equal(got.firstMs, withLabel[0]!.ptsMs, label);
      assert.equal(got.lastMs, withLabel.at(-1)!.ptsMs, label);
      assert.equal(got.maxPerFrame, Math.max(...withLabel.map((f) => f.detections.filter((d) => d.label === label).length)), label);
    }
    assert.equal(summary.labels['dog']!.firstMs, 0);
    assert.ok(summary.labels['bird']!.firstMs >= 11_600);
  });

  test('callbackUrl: a signed POST of the summary when the job ends, retried until a 2xx', async () => {
    const received: { body: string; signature: string; timestamp: string; keyId: string }[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (c: Buffer) => (body += c.toString()));
      request.on('end', () => {
        received.push({
          body, signature: String(request.headers['x-vdet-signature']), timestamp: String(request.headers['x-vdet-timestamp']),
          keyId: String(request.headers['x-vdet-key-id']),
        });
        response.writeHead(received.length === 1 ? 503 : 204).end(); // the first delivery fails
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const id = await submitJob(a, imagePath('kite'), { callbackUrl: url });
      for (let i = 0; i < 300 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(received.length, 2, 'delivered again after a 503');
      const store = await connectStore(stack.config.mongo);
      const secret = await new ApiKeyStore(store.db).webhookSecret('tenant-a');
      await store.close();
      for (const delivery of received) {
        // docs/security.md: v1=HMAC-SHA256(secret, timestamp "." body), a fresh timestamp per attempt, the secret's key id.
        assert.ok(Math.abs(Number(delivery.timestamp) - Date.now() / 1000) < 120, delivery.timestamp);
        assert.equal(delivery.signature, `v1=${createHmac('sha256', secret).update(`${delivery.timestamp}.${delivery.body}`).digest('hex')}`);
        assert.equal(delivery.keyId, `whk_${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`);
        const body = JSON.parse(delivery.body) as { id: string; status: string; counts: Record<string, number> };
        assert.equal(body.id, id);
        assert.equal(body.status, 'done');
        assert.ok(body.counts['kite']! > 0);
      }
    } finally {
      server.close();
    }
    const bad = await uploadFile(a, imagePath('dog'), { callbackUrl: 'ftp://example.com/x' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { detail: string }).detail, /callbackUrl/);
  });

  test('Idempotency-Key: a repeat returns the same job and stores no second upload', async () => {
    const headers = { 'idempotency-key': `k-${Date.now()}` };
    const first = await uploadFile(a, imagePath('person'), undefined, undefined, headers);
    const second = await uploadFile(a, imagePath('person'), undefined, undefined, headers);
    const [one, two] = [(await first.json()) as { id: string }, (await second.json()) as { id: string }];
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(one.id, two.id);
    const store = await connectStore(stack.config.mongo);
    try {
      const job = await store.jobs.findOne({ _id: one.id });
      const [first, last] = [await store.uploads.first(job!.uploadId), await store.uploads.last(job!.uploadId)];
      assert.ok(first && first.id === last?.id, 'one upload stored');
      assert.equal(await store.jobs.countDocuments({ filename: 'person.jpg' }), 1);
    } finally {
      await store.close();
    }
  });

  test('DELETE removes the job, its results and its upload', async () => {
    const id = await submitJob(a, imagePath('giraffe'));
    await waitForJob(a, id);
    const store = await connectStore(stack.config.mongo);
    try {
      const uploadId = (await store.jobs.findOne({ _id: id }))!.uploadId;
      assert.equal((await fetch(`${a.base}/v1/jobs/${id}`, { method: 'DELETE', headers: authHeaders(a) })).status, 204);
      assert.equal((await fetch(`${a.base}/v1/jobs/${id}`, { headers: authHeaders(a) })).status, 404);
      assert.equal(await store.frames.countDocuments({ jobId: id }), 0);
      assert.equal(await store.chunks.countDocuments({ jobId: id }), 0);
      assert.equal(await store.uploads.first(uploadId), undefined);
    } finally {
      await store.close();
    }
  });

  test('an upload over the size limit → 413, with nothing left behind', async () => {
    const store = await connectStore(stack.config.mongo);
    try {
      const before = await store.db.collection('uploads.chunks').countDocuments();
      const jobsBefore = await store.jobs.countDocuments();
      const big = Buffer.concat([readFileSync(TOUR_VIDEO), Buffer.alloc(2 * 1024 * 1024)]); // over the 1 MB limit
      const response = await uploadFile(strict, new Blob([big]), undefined, 'big.mp4');
      assert.equal(response.status, 413);
      assert.equal(((await response.json()) as { code: string }).code, 'VDET_UPLOAD_TOO_LARGE');
      assert.equal(await store.db.collection('uploads.chunks').countDocuments(), before);
      assert.equal(await store.jobs.countDocuments(), jobsBefore);
    } finally {
      await store.close();
    }
  });

  test('a client that disconnects mid-upload leaves nothing behind', async () => {
    const store = await connectStore(stack.config.mongo);
    try {
      const counts = async () => [
        await store.db.collection('uploads.files').countDocuments(), await store.db.collection('uploads.chunks').countDocuments(), await store.jobs.countDocuments(),
      ];
      const before = await counts();
      const boundary = 'vdet-boundary';
      const url = new URL(`${a.base}/v1/jobs`);
      await new Promise<void>((resolve) => {
        const request = httpRequest({
          host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
          headers: { authorization: `Bearer ${KEY_A}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(10 * 1024 * 1024) },
        });
        request.on('error', () => resolve());
        request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
        request.write(readFileSync(TOUR_VIDEO)); // 0.85 MB of the announced 10 MB, then the client goes away
        setTimeout(() => {
          request.destroy();
          resolve();
        }, 500);
      });
      for (let i = 0; i < 50 && JSON.stringify(await counts()) !== JSON.stringify(before); i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await counts(), before);
    } finally {
      await store.close();
    }
  });

  test('the rate limit per key → 429 with Retry-After', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const response = await fetch(`${strict.base}/v1/jobs?limit=1`, { headers: authHeaders(strict) });
      if (response.status === 429) limited = response;
    }
    assert.ok(limited, 'no 429 within 30 requests at 20 a minute');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { code: string }).code, 'VDET_RATE_LIMITED');
  });
});
