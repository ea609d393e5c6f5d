import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { boxIou } from '../../src/vision/yolox.js';
import { groupId, topicNames } from '../../src/contracts/topics.js';
import { allDetections, authHeaders, submitJob, uploadFile, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { imagePath, TOUR_VIDEO } from '../helpers/paths.js';
import { compareToReference, loadReference, type VideoReference } from '../helpers/reference.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { consumerLag, createTestEnv } from '../helpers/stack.js';

/**
 * The pipeline's acceptance, end to end: the four roles as four processes on the real local stack (Kafka, the
 * MongoDB-protocol server, Redis), driven through the api over a real socket.
 */
describe('pipeline: upload → processor → detector → merger', () => {
  const KEY = `vdet_test_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_CPU_BATCH_MAX: '4' }); // batches form (the CPU's default is 1)
  const roles: RunningRole[] = [];
  let base = '';
  let api: Target;

  before(async () => {
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    base = await apiUrl(roles.find((r) => r.role === 'api')!);
    api = { base, key: KEY };
    // Wait until readiness says every dependency answers.
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${base}/readyz`).catch(() => undefined);
      if (response?.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    for (const role of roles) {
      const code = await role.stop();
      if (code !== 0) console.error(`${role.role} exited ${code}:\n${role.output().slice(-3000)}`);
    }
    await stack.cleanup();
  });

  test('the tour video: every frame, in order, with the reference detections', async (t) => {
    const started = Date.now();
    const id = await submitJob(api, TOUR_VIDEO);
    const job = await waitForJob(api, id);
    const wallMs = Date.now() - started;
    assert.equal(job.status, 'done', JSON.stringify(job.error));
    assert.deepEqual(job.media, { width: 640, height: 360, fps: 25, frames: 400, durationMs: 16_000 });
    assert.deepEqual(job.progress, { framesDone: 400, framesTotal: 400 });
    t.diagnostic(`tour-640x360.mp4: 400 frames in ${wallMs} ms end to end = ${(400 / (wallMs / 1000)).toFixed(1)} frames/s`);

    const frames = await allDetections(api, id, 137); // an odd page size exercises the cursor
    assert.deepEqual(frames.map((f) => f.frame), Array.from({ length: 400 }, (_, i) => i));
    assert.deepEqual(frames.map((f) => f.ptsMs), Array.from({ length: 400 }, (_, i) => i * 40));

    // In each 4-second segment its main labels appear on at least 90% of its frames.
    const segments: [number, string[]][] = [[0, ['dog', 'bicycle']], [1, ['horse']], [2, ['person']], [3, ['bird']]];
    for (const [segment, labels] of segments) {
      const inSegment = frames.slice(segment * 100, segment * 100 + 100);
      for (const label of labels) {
        const seen = inSegment.filter((f) => f.detections.some((d) => d.label === label)).length;
        assert.ok(seen >= 90, `${label} on ${seen}/100 frames of segment ${segment}`);
      }
    }
    const agreement = agreeWithReference(frames, loadReference<VideoReference>('tour-640x360'));
    t.diagnostic(`boxes ≥ 0.6 agreeing with the reference: ${(agreement * 100).toFixed(2)}%`);
    assert.ok(agreement >= 0.95, `agreement ${agreement}`);

    const counts = Object.values(job.counts).reduce((a, b) => a + b, 0);
    assert.equal(counts, frames.reduce((n, f) => n + f.detections.length, 0));
  });

  test('fps: 5 samples 80 frames, 200 ms apart', async () => {
    const id = await submitJob(api, TOUR_VIDEO, { fps: 5 });
    const job = await waitForJob(api, id);
    assert.equal(job.status, 'done', JSON.stringify(job.error));
    const frames = await allDetections(api, id);
    assert.equal(frames.length, 80);
    assert.deepEqual(frames.slice(0, 3).map((f) => f.ptsMs), [0, 200, 400]);
  });

  test('still images match the reference detections', async () => {
    for (const name of ['dog', 'horses', 'person', 'eagle', 'giraffe', 'kite', 'scream']) {
      const id = await submitJob(api, imagePath(name));
      const job = await waitForJob(api, id);
      assert.equal(job.status, 'done', `${name}: ${JSON.stringify(job.error)}`);
      const [frame] = await allDetections(api, id);
      assert.equal(frame?.ptsMs, 0);
      const reference = loadReference(name);
      assert.deepEqual(job.media, { width: reference.width, height: reference.height, fps: 0, frames: 1, durationMs: 0 });
      assert.deepEqual(compareToReference(frame!.detections, reference.detections), [], name);
    }
  });

  test('bad input gets a 4xx with a stable code, or a job that fails with a reason', async () => {
    const empty = await uploadFile(api, new Blob([]), undefined, 'empty.mp4');
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { code: string }).code, 'VDET_UPLOAD_EMPTY');

    const noFile = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: authHeaders(api), body: (() => { const f = new FormData(); f.append('options', '{}'); return f; })() });
    assert.equal(noFile.status, 400);
    assert.equal(((await noFile.json()) as { code: string }).code, 'VDET_UPLOAD_MISSING_FILE');

    const badOptions = await uploadFile(api, TOUR_VIDEO, { fps: -3 });
    assert.equal(badOptions.status, 400);
    const problem = (await badOptions.json()) as { code: string; detail: string };
    assert.equal(problem.code, 'VDET_OPTIONS_INVALID');
    assert.match(problem.detail, /fps/);

    const unknown = await fetch(`${base}/v1/jobs/00000000-0000-0000-0000-000000000000`, { headers: authHeaders(api) });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'VDET_JOB_NOT_FOUND');

    const text = await uploadFile(api, new Blob(['this is not a video\n'.repeat(50)]), undefined, 'notes.mp4');
    assert.equal(text.status, 415);
    assert.equal(((await text.json()) as { code: string }).code, 'VDET_UNSUPPORTED_MEDIA');

    // A file that looks like an MP4 at first sight but is not one gets past the upload and fails in the processor.
    const fake = Buffer.concat([readFileSync(TOUR_VIDEO).subarray(0, 32), Buffer.alloc(4096, 0x41)]);
    const fakeJob = await waitForJob(api, await submitJob(api, new Blob([fake]), undefined, 'fake.mp4'));
    assert.equal(fakeJob.status, 'failed');
    assert.equal(fakeJob.error?.code, 'VDET_MEDIA_UNREADABLE');

    const truncated = await submitJob(api, new Blob([readFileSync(TOUR_VIDEO).subarray(0, 50 * 1024)]), undefined, 'cut.mp4');
    const truncatedJob = await waitForJob(api, truncated);
    assert.equal(truncatedJob.status, 'failed', 'the first 50 KB of an MP4 lack its index (moov at the end)');
    assert.match(truncatedJob.error?.code ?? '', /^VDET_MEDIA_/);
    assert.ok((truncatedJob.error?.message.length ?? 0) > 10);
  });

  test('afterwards: no consumer lag, one stored result per frame, no job left unfinished', async () => {
    const topics = topicNames(stack.config.kafka.topicPrefix);
    const prefix = stack.config.kafka.topicPrefix;
    const groups: [string, string][] = [
      [groupId(prefix, 'processor'), topics.jobs],
      [groupId(prefix, 'detector'), topics.chunks],
      [groupId(prefix, 'merger'), topics.detections],
    ];
    for (let attempt = 0; ; attempt++) {
      const lags = await Promise.all(groups.map(([g, t]) => consumerLag(stack.config, g, t)));
      if (lags.every((l) => l === 0)) break;
      if (attempt > 50) assert.fail(`consumer lag ${lags.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      const db = mongo.db(stack.config.mongo.database);
      const jobs = await db.collection('jobs').find({}).toArray();
      assert.ok(jobs.length >= 10);
      for (const job of jobs) {
        assert.ok(job['status'] === 'done' || job['status'] === 'failed', `job ${job['_id']} is ${job['status']}`);
        if (job['status'] !== 'done') continue;
        const frames = (await db.collection('frames').find({ jobId: job['_id'] }, { projection: { data: 1 } }).toArray())
          .flatMap((c) => (JSON.parse(c['data'] as string) as { frame: number }[]).map((f) => f.frame));
        assert.equal(frames.length, job['progress'].framesDone);
        assert.equal(new Set(frames).size, frames.length);
      }
    } finally {
      await mongo.close();
    }
  });

  test("every role serves /healthz, /readyz and /metrics with the pipeline's figures", async () => {
    const scrape = async (role: string) => {
      const url = /"url":"(http:\/\/[^"]+)","msg":"(?:metrics|api) listening"/.exec(roles.find((r) => r.role === role)!.output())![1]!;
      assert.equal((await fetch(`${url}/healthz`)).status, 200, role);
      assert.equal((await fetch(`${url}/readyz`)).status, 200, role);
      const text = await (await fetch(`${url}/metrics`)).text();
      const value = (pattern: string) => Number(new RegExp(`^${pattern} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
      return { text, value };
    };
    let processor = await scrape('processor');
    const lagLine = /vdet_consumer_lag\{group="[^"]+processor",topic="[^"]+jobs",partition="0"\} 0/;
    for (let i = 0; i < 40 && !lagLine.test(processor.text); i++) { // the lag is polled every 5 s
      await new Promise((r) => setTimeout(r, 250));
      processor = await scrape('processor');
    }
    assert.ok(processor.value('vdet_frames_decoded_total\\{source="job"\\}') >= 400 + 80 + 7);
    // The tour's 400 frames travel as runs of whole GOPs (50-frame GOPs gathered to ≥ 96 frames: 4 chunks), the
    // fps job's as 1, each image as 1.
    assert.ok(processor.value('vdet_chunks_produced_total\\{source="job"\\}') >= 4 + 1 + 7);
    assert.match(processor.text, lagLine);
    const detector = await scrape('detector');
    const total = (metric: string) => [...detector.text.matchAll(new RegExp(`^${metric}\\{device="[^"]+"\\} ([0-9.e+]+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const batches = total('vdet_batch_size_count');
    const frames = total('vdet_batch_size_sum');
    assert.ok(batches > 0 && frames >= 487 && frames / batches > 1, `${frames} frames in ${batches} batches`);
    assert.equal(total('vdet_inference_seconds_count'), batches);
    assert.equal(detector.value('vdet_frames_in_flight'), 0);
    const merger = await scrape('merger');
    assert.ok(merger.value('vdet_jobs_finished_total\\{status="done"\\}') >= 9);
    const failedBy = (r: { value(p: string): number }) => r.value('vdet_jobs_finished_total\\{status="failed"\\}') || 0;
    assert.ok(failedBy(merger) + failedBy(processor) >= 2, 'the truncated and the fake video failed'); // whoever failed them counts
    assert.ok(merger.value('vdet_job_duration_seconds_count') >= 9);
    const api = await scrape('api');
    assert.ok(api.value('vdet_errors_total\\{code="VDET_UPLOAD_EMPTY"\\}') >= 1);
  });
});

/** Share of boxes scoring ≥ 0.6, ours and the reference's, found in the other with the same label at IoU ≥ 0.8. */
function agreeWithReference(frames: FrameItem[], reference: VideoReference): number {
  let matched = 0;
  let total = 0;
  for (const ref of reference.frames) {
    const ours = frames[ref.frame]?.detections ?? [];
    const directions = [[ref.detections, ours], [ours, ref.detections]] as const;
    for (const [from, to] of directions) {
      for (const d of from.filter((x) => x.score >= 0.6)) {
        total++;
        if (to.some((o) => o.label === d.label && boxIou(o.box, d.box) >= 0.8)) matched++;
      }
    }
  }
  return total === 0 ? 0 : matched / total;
}
