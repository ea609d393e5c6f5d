import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { StreamResult } from '../../src/contracts/stream.js';
import { topicNames } from '../../src/contracts/topics.js';
import { compareToService } from '../helpers/agreement.js';
import { allDetections, authHeaders, registerStream, submitJob, uploadFile, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { END2END_MODEL_PATH, MODEL_PATH, TOUR_VIDEO, imagePath, ULTRALYTICS_MODEL_PATH } from '../helpers/paths.js';
import { apiUrl, runCli, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv, type TestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * The model registry through the service: models registered by name (`vdet models add`) while the roles run are
 * served without a restart, each job on the version it was submitted with; the Ultralytics and end-to-end layouts of
 * the YOLOX-nano weights, registered with the top-left letterbox, give exactly the default model's (yolox_nano.onnx)
 * detections on the tour video. A model jobs still use cannot be removed; a version that vanishes under a job fails
 * it with VDET_MODEL_UNAVAILABLE.
 */
const OPS_TOKEN = 'ops_registry_test_0123456789abcdef0123';
const ULTRALYTICS_SHA256 = '212d4ba6facddb24eac954ecbb5d271ee79c259dd1aa8b5fbcc3530ba9359ad7';

interface ModelItem { name: string; version: number; sha256: string; format: string; pad: string; inputWidth: number; labels: string[]; default?: boolean }
interface JobWithModel { status: string; model: { name: string; sha256?: string; version?: number }; error?: { code: string; message: string } }

describe('model registry: vdet models, GET /v1/models, options.model', () => {
  const key = `vdet_registry_test_${Date.now()}_0123456789abcdef`;
  let stack: TestEnv;
  let service: RunningRole | undefined;
  let api: Target;
  let cacheDir = '';
  let reference: FrameItem[] = [];

  const models = (...args: string[]) => runCli(['models', ...args], stack.env);
  const listModels = async () => {
    const response = await fetch(`${api.base}/v1/models`, { headers: authHeaders(api) });
    assert.equal(response.status, 200);
    return ((await response.json()) as { items: ModelItem[] }).items;
  };
  const job = async (id: string) => (await (await fetch(`${api.base}/v1/jobs/${id}`, { headers: authHeaders(api) })).json()) as JobWithModel;

  before(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'vdet-model-cache-'));
    stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: key, VDET_MODEL_CACHE_DIR: cacheDir, VDET_OPS_TOKEN: OPS_TOKEN });
    service = startRole('all', stack.env);
    await waitStarted([service]);
    api = { base: await apiUrl(service), key };
    const id = await submitJob(api, TOUR_VIDEO, { track: false });
    const done = await waitForJob(api, id);
    assert.equal(done.status, 'done', JSON.stringify(done.error));
    assert.equal((await job(id)).model.name, 'default');
    reference = await allDetections(api, id);
  });

  after(async () => {
    const code = await service?.stop();
    if (service && code !== 0) console.error(`vdet all exited ${code}:\n${service.output().slice(-3000)}`);
    await stack?.cleanup();
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('a model added while the roles run is listed and serves the jobs that name it: the default model\'s detections exactly', async (t) => {
    const added = await models('add', 'yolox-ultra', ULTRALYTICS_MODEL_PATH, '--pad', 'top-left');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`^yolox-ultra\\tv1\\t${ULTRALYTICS_SHA256}\\tultralytics\\t416x416\\ttop-left\\t80 labels`));
    const e2e = await models('add', 'yolox-e2e', END2END_MODEL_PATH, '--pad', 'top-left');
    assert.equal(e2e.code, 0, e2e.stderr);

    const listed = await listModels();
    assert.deepEqual(listed.map((m) => [m.name, m.version, m.format, m.pad, m.inputWidth, m.labels.length, m.default ?? false]), [
      ['default', 0, 'yolox', 'top-left', 416, 80, true],
      ['yolox-e2e', 1, 'end2end', 'top-left', 416, 80, false],
      ['yolox-ultra', 1, 'ultralytics', 'top-left', 416, 80, false],
    ]);
    assert.equal(listed[2]!.sha256, ULTRALYTICS_SHA256);
    const cli = await models('list');
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(cli.stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['yolox-e2e', 'yolox-ultra']);

    for (const name of ['yolox-ultra', 'yolox-e2e']) {
      const id = await submitJob(api, TOUR_VIDEO, { track: false, model: name });
      const done = await waitForJob(api, id);
      assert.equal(done.status, 'done', JSON.stringify(done.error));
      const view = await job(id);
      assert.equal(view.model.name, name);
      assert.equal(view.model.sha256, listed.find((m) => m.name === name)!.sha256);
      const served = await allDetections(api, id);
      const { problems, worstIou, worstScore } = compareToService(reference, served, 0.99);
      t.diagnostic(`${name} against the default model through the service: lowest IoU ${worstIou.toFixed(4)}, largest score difference ${worstScore.toFixed(4)}`);
      assert.deepEqual(problems, []);
      assert.equal(worstScore, 0);
      const coco = await fetch(`${api.base}/v1/jobs/${id}/export?format=coco`, { headers: authHeaders(api) });
      assert.equal(coco.status, 200);
      assert.equal(coco.headers.get('vdet-model'), `${name}; sha256=${view.model.sha256}`);
      assert.deepEqual(((await coco.json()) as { info: { model: unknown } }).info.model, view.model);
    }
    // Each loaded once, on its first chunk, by the running detector (no restart); none failed.
    const metrics = await (await fetch(`${api.base}/metrics`)).text();
    for (const name of ['yolox-ultra', 'yolox-e2e']) assert.match(metrics, new RegExp(`vdet_model_loads_total\\{model="${name}",outcome="ok"\\} 1\\n`));
    assert.doesNotMatch(metrics, /outcome="failed"/);
  });

  test('a stream set to a registered model runs its frames on it: the default model\'s detections; removal is refused while it is set', async () => {
    const put = (id: string, settings: object) => fetch(`${api.base}/v1/streams/${id}/settings`, {
      method: 'PUT', headers: authHeaders(api, { 'content-type': 'application/json' }), body: JSON.stringify(settings),
    });
    const unknown = await put('cam-x', { model: 'no-such-model' });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { code: string }).code, 'VDET_MODEL_UNKNOWN');
    const tokens = { 'cam-e2e': await registerStream(api, 'cam-e2e', { model: 'yolox-e2e', track: false }), 'cam-default': await registerStream(api, 'cam-default', { track: false }) };
    const view = (await (await fetch(`${api.base}/v1/streams/cam-e2e`, { headers: authHeaders(api) })).json()) as { model: { name: string; sha256: string }; settings: { model?: string } };
    assert.equal(view.model.name, 'yolox-e2e');
    assert.equal(view.settings.model, 'yolox-e2e');
    assert.match(view.model.sha256, /^[0-9a-f]{64}$/);

    const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
    const topics = topicNames(stack.config.kafka.topicPrefix);
    const results: StreamResult[] = [];
    const consumer = kafka.consumer({ groupId: `${stack.id}-results-reader`, maxWaitTimeInMs: 100 });
    const producer = kafka.producer();
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: topics.results, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void results.push(StreamResult.decode(message.value)) });
      await producer.connect();
      const names = ['dog', 'horses', 'person', 'eagle', 'kite'];
      for (const [stream, token] of Object.entries(tokens)) {
        for (const [i, name] of names.entries()) {
          await producer.send({ topic: topics.frames, messages: [{ key: stream, value: readFileSync(imagePath(name)), headers: { 'vdet-token': token, 'vdet-seq': String(i), 'vdet-ts': String(Date.now()) } }] });
        }
      }
      const of = (stream: string) => results.filter((r) => r.stream === stream).sort((a, b) => a.seq - b.seq);
      await until('every frame\'s result', () => of('cam-e2e').length >= names.length && of('cam-default').length >= names.length, 120_000);
      assert.deepEqual(of('cam-e2e').map((r) => r.detections), of('cam-default').map((r) => r.detections));
      assert.ok(of('cam-default').some((r) => r.detections.length > 0));
    } finally {
      await producer.disconnect();
      await consumer.disconnect();
    }
    const refused = await models('remove', 'yolox-e2e');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vdet: VDET_MODEL_IN_USE: 1 stream is set to the model "yolox-e2e"/);
    assert.equal((await put('cam-e2e', { track: false })).status, 200);
    const moved = (await (await fetch(`${api.base}/v1/streams/cam-e2e`, { headers: authHeaders(api) })).json()) as { model: { name: string } };
    assert.equal(moved.model.name, 'default');
  });

  test('a new version added while a job runs serves the jobs after it; the job keeps the version it was submitted with', async () => {
    const running = await submitJob(api, TOUR_VIDEO, { track: false, model: 'yolox-e2e' });
    const v2 = await models('add', 'yolox-e2e', END2END_MODEL_PATH); // its own default letterbox: centred
    assert.equal(v2.code, 0, v2.stderr);
    assert.match(v2.stdout, /^yolox-e2e\tv2\t[0-9a-f]{64}\tend2end\t416x416\tcenter\t/);
    const listed = (await listModels()).find((m) => m.name === 'yolox-e2e')!;
    assert.deepEqual([listed.version, listed.pad], [2, 'center']);
    const next = await submitJob(api, imagePath('dog'), { track: false, model: 'yolox-e2e' });
    assert.equal((await waitForJob(api, next)).status, 'done');
    assert.deepEqual((await job(next)).model, { name: 'yolox-e2e', sha256: listed.sha256, version: 2 });
    const done = await waitForJob(api, running);
    assert.equal(done.status, 'done', JSON.stringify(done.error));
    assert.equal((await job(running)).model.version, 1);
    assert.deepEqual(compareToService(reference, await allDetections(api, running), 0.99).problems, [], 'version 1 (top-left) to the end');
  });

  test('an unknown model is refused with 400 VDET_MODEL_UNKNOWN; a file vdet cannot read is never registered', async () => {
    const response = await uploadFile(api, TOUR_VIDEO, { model: 'no-such-model' });
    assert.equal(response.status, 400);
    const problem = (await response.json()) as { code: string; detail: string };
    assert.equal(problem.code, 'VDET_MODEL_UNKNOWN');
    assert.match(problem.detail, /no registered model "no-such-model"/);
    const submitted = await runCli(['submit', imagePath('dog'), '--model', 'no-such-model'], { VDET_API_URL: api.base, VDET_API_KEY: key });
    assert.notEqual(submitted.code, 0);
    assert.match(submitted.stderr, /VDET_MODEL_UNKNOWN/);
    const bad = await models('add', 'broken', path.resolve('package.json'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^vdet: VDET_MODEL_INVALID: The model file for "broken" is not an ONNX model/);
    const reserved = await models('add', 'default', ULTRALYTICS_MODEL_PATH);
    assert.match(reserved.stderr, /VDET_VALIDATION/);
    assert.ok(!(await listModels()).some((m) => m.name === 'broken'));
  });

  test('a model that a queued or running job uses is not removed (VDET_MODEL_IN_USE); once the job ended it is', async () => {
    const id = await submitJob(api, TOUR_VIDEO, { track: false, model: 'yolox-ultra' });
    const refused = await models('remove', 'yolox-ultra');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vdet: VDET_MODEL_IN_USE: 1 queued or running job uses the model "yolox-ultra"/);
    const done = await waitForJob(api, id);
    assert.equal(done.status, 'done', JSON.stringify(done.error));
    const removed = await models('remove', 'yolox-ultra');
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(!(await listModels()).some((m) => m.name === 'yolox-ultra'));
    assert.equal((await uploadFile(api, TOUR_VIDEO, { model: 'yolox-ultra' })).status, 400);
    const again = await models('remove', 'yolox-ultra');
    assert.equal(again.code, 2);
  });

  test('a model whose file cannot be loaded fails its job with VDET_MODEL_UNAVAILABLE, counted and shown in /readyz', async () => {
    // Registered (the file is fine), then its stored file lost: what a detector meets when the store lost the file.
    const added = await models('add', 'vanishing', MODEL_PATH);
    assert.equal(added.code, 0, added.stderr);
    const sha256 = added.stdout.split('\t')[2]!;
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      const db = mongo.db(stack.config.mongo.database);
      const files = await db.collection('models.files').find({ filename: sha256 }).toArray();
      assert.equal(files.length, 1);
      await db.collection('models.chunks').deleteMany({ files_id: files[0]!['_id'] });
      await db.collection('models.files').deleteMany({ filename: sha256 });
    } finally {
      await mongo.close();
    }
    const id = await submitJob(api, TOUR_VIDEO, { track: false, model: 'vanishing' });
    const failed = await waitForJob(api, id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'VDET_MODEL_UNAVAILABLE');
    assert.match(failed.error!.message, /is no longer stored/);
    const ready = await fetch(`${api.base}/readyz`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
    const report = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean; error?: string }> };
    assert.equal(report.status, 'degraded');
    assert.equal(report.checks['models']?.ok, false);
    assert.match(report.checks['models']!.error!, /^vanishing@1: .*no longer stored/);
    assert.match(await (await fetch(`${api.base}/metrics`)).text(), /vdet_model_loads_total\{model="vanishing",outcome="failed"\} 1\n/);
  });
});
