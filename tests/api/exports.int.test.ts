import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { annotationStyle } from '../../src/media/annotate.js';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { COCO80_LABELS } from '../../src/vision/labels.js';
import { connectStore, type Store } from '../../src/store/mongo.js';
import { allDetections, authHeaders, submitJob, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { boxDifference, countFrames, rgbFrames } from '../helpers/pixels.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/** A done job's annotated video (rendered once, cached, byte ranges) and its COCO, CSV and JSONL exports. */
describe('api: annotated video and exports', () => {
  const KEY = `vdet_exports_${Date.now()}_0123456789abcdef`;
  const workDir = path.join(os.tmpdir(), `vdet-exports-test-${process.pid}`);
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_BOOTSTRAP_TENANT: 'tenant-a', VDET_WORK_DIR: workDir });
  const roles: RunningRole[] = [];
  let a: Target;
  let b: Target;
  let store: Store;
  let tmp = '';
  let jobId = '';
  let frames: FrameItem[] = [];
  let annotated = Buffer.alloc(0);
  const W = 640;
  const H = 360;
  const get = (target: Target, suffix: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${target.base}/v1/jobs/${jobId}${suffix}`, { method, headers: authHeaders(target, headers) });
  const rendersDone = async () => {
    const text = await (await fetch(`${a.base}/metrics`)).text();
    return Number(/^vdet_annotated_renders_total\{outcome="ok"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };

  before(async () => {
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    store = await connectStore(stack.config.mongo);
    a = { base: await apiUrl(roles[3]!), key: KEY };
    b = { base: a.base, key: (await new ApiKeyStore(store.db).create('tenant-b', 'test')).key };
    tmp = await mkdtemp(path.join(os.tmpdir(), 'vdet-exports-'));
    jobId = await submitJob(a, TOUR_VIDEO);
    const job = await waitForJob(a, jobId);
    assert.equal(job.status, 'done', JSON.stringify(job.error));
    frames = await allDetections(a, jobId);
  });

  after(async () => {
    for (const role of roles) {
      const { exitCode, signalCode } = role.child;
      if (exitCode !== null || signalCode !== null) console.error(`${role.role} exited early (${exitCode ?? signalCode}):\n${role.output().slice(-4000)}`);
      await role.stop();
    }
    await store?.close();
    await stack.cleanup();
    await rm(tmp, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  test('annotated.mp4: concurrent first requests share one rendering; later ones are served from storage', async (t) => {
    assert.equal(await rendersDone(), 0);
    const started = Date.now();
    const first = await Promise.all([0, 1, 2].map(() => get(a, '/annotated.mp4')));
    const firstMs = Date.now() - started;
    const bodies = await Promise.all(first.map(async (r) => Buffer.from(await r.arrayBuffer())));
    for (const response of first) {
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'video/mp4');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('content-security-policy'), 'sandbox', 'served media is never an active document');
      assert.equal(response.headers.get('accept-ranges'), 'bytes');
      assert.equal(response.headers.get('x-vdet-cache'), 'miss');
    }
    annotated = bodies[0]!;
    assert.ok(annotated.length > 10_000);
    for (const body of bodies) assert.ok(body.equals(annotated), 'the same bytes for every request');
    assert.equal(await rendersDone(), 1, 'one rendering for three concurrent requests');

    const again = Date.now();
    const cached = await get(a, '/annotated.mp4');
    const cachedBody = Buffer.from(await cached.arrayBuffer());
    const cachedMs = Date.now() - again;
    assert.equal(cached.headers.get('x-vdet-cache'), 'hit');
    assert.ok(cachedBody.equals(annotated));
    assert.equal(await rendersDone(), 1, 'no second rendering');
    const [earliest, latest] = [await store.annotated.first(jobId), await store.annotated.last(jobId)];
    assert.ok(earliest && earliest.id === latest?.id, 'one rendering stored');
    assert.equal(earliest.length, annotated.length);
    assert.ok(cachedMs < firstMs, `cached ${cachedMs} ms vs first ${firstMs} ms`);
    assert.deepEqual((await readdir(workDir)).filter((name) => name.startsWith('annotate-')), [], 'temporary files removed');
    t.diagnostic(`first request (render + store + send) ${firstMs} ms, cached ${cachedMs} ms, ${annotated.length} bytes`);
  });

  test('annotated.mp4 decodes to the source\'s frames and differs from it only inside the boxes', async (t) => {
    const file = path.join(tmp, 'annotated.mp4');
    await writeFile(file, annotated);
    const sourceFrames = await countFrames(TOUR_VIDEO);
    assert.equal(await countFrames(file), sourceFrames);
    assert.equal(frames.length, sourceFrames, 'every frame was processed');
    const withBoxes = frames.filter((f) => f.detections.length > 0);
    assert.ok(withBoxes.length > 50);
    const sampled = [0, 0.2, 0.4, 0.6, 0.8, 1].map((q) => withBoxes[Math.round(q * (withBoxes.length - 1))]!);
    const indices = sampled.map((f) => f.frame);
    const [source, ours] = [await rgbFrames(TOUR_VIDEO, indices, W, H), await rgbFrames(file, indices, W, H)];
    const { thickness } = annotationStyle(W, H, true);
    const bands: number[] = [];
    for (const [i, frame] of sampled.entries()) {
      // Outside every box (4 px margin for chroma and codec bleed): only H.264 re-encoding noise (crf 18 measures
      // a mean of 1-2.5 and no value off by more than 30); a box drawn a frame off leaves 0.3-2 % of values off by > 64.
      const diff = boxDifference(source[i]!, ours[i]!, W, H, frame.detections.map((d) => d.box), thickness, 4);
      t.diagnostic(`frame ${frame.frame}: outside mean ${diff.outsideMean.toFixed(2)}, off by > 64: ${(diff.outsideBigShare * 100).toFixed(3)} %, box edges ${diff.bands.map((v) => v.toFixed(0)).join(' ')}`);
      assert.ok(diff.outsideMean < 3, `frame ${frame.frame}: outside the boxes differs by ${diff.outsideMean} on average`);
      assert.ok(diff.outsideBigShare < 0.0005, `frame ${frame.frame}: ${diff.outsideBigShare} of values outside the boxes changed`);
      for (const band of diff.bands) assert.ok(band > 12, `frame ${frame.frame}: a box edge differs by only ${band}`);
      bands.push(...diff.bands);
    }
    bands.sort((x, y) => x - y);
    assert.ok(bands[Math.floor(bands.length / 2)]! > 30, `box edges differ by a median of ${bands[Math.floor(bands.length / 2)]}`);
  });

  test('annotated.mp4: byte ranges, 416 outside the file, HEAD, and a signed token instead of a key', async () => {
    const size = annotated.length;
    for (const [range, start, end] of [['bytes=1000-1999', 1000, 1999], [`bytes=${size - 300}-`, size - 300, size - 1], ['bytes=-500', size - 500, size - 1]] as const) {
      const response = await get(a, '/annotated.mp4', { range });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${size}`);
      assert.equal(Number(response.headers.get('content-length')), end - start + 1);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(annotated.subarray(start, end + 1)), range);
    }
    const outside = await get(a, '/annotated.mp4', { range: `bytes=${size}-` });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get('content-range'), `bytes */${size}`);
    assert.equal(((await outside.json()) as { code: string }).code, 'VDET_RANGE_NOT_SATISFIABLE');
    const head = await get(a, '/annotated.mp4', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), size);
    const sourceHead = await get(a, '/source', {}, 'HEAD');
    assert.equal(Number(sourceHead.headers.get('content-length')), (await stat(TOUR_VIDEO)).size, 'HEAD of the source too');
    const { url } = (await (await get(a, '/source-url', {}, 'POST')).json()) as { url: string };
    const signed = await fetch(`${a.base}${url.replace('/source?', '/annotated.mp4?')}`);
    assert.equal(signed.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await signed.arrayBuffer())).digest('hex'), createHash('sha256').update(annotated).digest('hex'));
  });

  test('exports: COCO, CSV and JSONL say what GET /detections says', async () => {
    const total = frames.reduce((n, f) => n + f.detections.length, 0);
    const jsonl = await get(a, '/export?format=jsonl');
    assert.equal(jsonl.status, 200);
    assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson');
    assert.match(jsonl.headers.get('content-disposition') ?? '', /^attachment; filename="tour-640x360\.jsonl"$/);
    const lines = (await jsonl.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as FrameItem);
    assert.deepEqual(lines, frames);

    const csv = await get(a, '/export?format=csv');
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    for (const response of [jsonl, csv]) {
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('content-security-policy'), 'sandbox');
    }
    assert.match(csv.headers.get('content-disposition') ?? '', /filename="tour-640x360\.csv"/);
    const rows = (await csv.text()).split('\r\n').filter(Boolean);
    assert.equal(rows.shift(), 'frame,ms,label,class_id,score,x1,y1,x2,y2,track_id');
    assert.equal(rows.length, total);
    const expected = frames.flatMap((f) => f.detections.map((d) => [f.frame, f.ptsMs, d.label, d.classId, d.score, ...d.box, d.trackId ?? ''].join(',')));
    assert.deepEqual(rows, expected); // COCO labels hold no comma or quote, so no field is quoted

    const cocoResponse = await get(a, '/export?format=coco');
    assert.equal(cocoResponse.headers.get('content-type'), 'application/json');
    assert.match(cocoResponse.headers.get('content-disposition') ?? '', /filename="tour-640x360\.coco\.json"/);
    const coco = (await cocoResponse.json()) as {
      images: { id: number; file_name: string; width: number; height: number; frame: number; ptsMs: number }[];
      annotations: { image_id: number; category_id: number; bbox: number[]; area: number; score: number; iscrowd: number }[];
      categories: { id: number; name: string }[];
    };
    assert.equal(coco.images.length, frames.length);
    assert.deepEqual(coco.images.map((i) => [i.frame, i.ptsMs, i.width, i.height]), frames.map((f) => [f.frame, f.ptsMs, W, H]));
    assert.equal(coco.images[123]!.file_name, 'frame_000123.jpg');
    assert.deepEqual(coco.categories.map((c) => c.name), COCO80_LABELS);
    assert.equal(coco.annotations.length, total);
    const byImage = new Map(coco.images.map((i) => [i.id, i.frame]));
    const flat = frames.flatMap((f) => f.detections.map((d) => ({ frame: f.frame, d })));
    for (const [i, annotation] of coco.annotations.entries()) {
      const { frame, d } = flat[i]!;
      assert.equal(byImage.get(annotation.image_id), frame);
      assert.equal(coco.categories.find((c) => c.id === annotation.category_id)?.name, d.label);
      assert.equal(annotation.score, d.score);
      assert.equal(annotation.iscrowd, 0);
      const [x, y, w, h] = annotation.bbox as [number, number, number, number];
      assert.deepEqual([x, y], [d.box[0], d.box[1]]);
      assert.ok(Math.abs(x + w - d.box[2]) < 0.01 && Math.abs(y + h - d.box[3]) < 0.01, `bbox ${annotation.bbox.join(',')} vs box ${d.box.join(',')}`);
      assert.ok(Math.abs(annotation.area - w * h) < 0.01);
    }
  });

  test('bad format → 400, a job not done → 409, another tenant → 404 as if it did not exist', async () => {
    for (const query of ['?format=xml', '', '?format=csv&extra=1']) {
      const response = await get(a, `/export${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(((await response.json()) as { code: string }).code, 'VDET_VALIDATION');
    }
    const running = 'running-job-0001';
    const now = new Date();
    await store.jobs.insertOne({
      _id: running, tenant: 'tenant-a', status: 'running', filename: 'x.mp4', uploadId: 'tenant-a/none', uploadBytes: 1, options: {},
      progress: { framesDone: 0, framesTotal: 10 }, createdAt: now, updatedAt: now,
    });
    for (const suffix of ['/annotated.mp4', '/export?format=coco']) {
      const response = await fetch(`${a.base}/v1/jobs/${running}${suffix}`, { headers: authHeaders(a) });
      assert.equal(response.status, 409, suffix);
      assert.equal(((await response.json()) as { code: string }).code, 'VDET_JOB_NOT_DONE');
      const foreign = await get(b, suffix);
      const absent = await fetch(`${b.base}/v1/jobs/00000000-0000-4000-8000-000000000000${suffix}`, { headers: authHeaders(b) });
      assert.equal(foreign.status, 404, suffix);
      assert.deepEqual(await foreign.json(), await absent.json());
    }
  });

  test('DELETE of the job removes its annotated video too', async () => {
    assert.equal((await get(a, '', {}, 'DELETE')).status, 204);
    assert.equal(await store.annotated.first(jobId), undefined);
  });
});
