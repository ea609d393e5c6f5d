import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agreement, compareToService } from '../helpers/agreement.js';
import { allDetections, submitJob, waitForJob, type FrameItem } from '../helpers/client.js';
import { END2END_MODEL_PATH, MODEL_PATH, SHARED, TOUR_VIDEO, ULTRALYTICS_MODEL_PATH } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';
import { apiUrl, runCli, startRole, waitStarted, type CliRun, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/**
 * Bring your own model: the same YOLOX-nano weights in the Ultralytics (`[1, 84, N]`, RGB 0–1) and end-to-end
 * (`[1, 300, 6]`, NMS in the graph) export layouts (../shared/models/MODEL.md) give exactly the YOLOX file's
 * detections with the top-left letterbox, through `vdet detect --model` and through the service with the file as
 * VDET_MODEL; found from the files alone (VDET_MODEL_FORMAT=auto).
 */
const IMAGES = path.join(SHARED, 'media/images');
const IMAGE_NAMES = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];

interface Frame extends FrameItem { file: string }

function vdetDetect(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(['detect', ...args], { VDET_MODEL: MODEL_PATH, ...env });
}

describe('model layouts: yolox, ultralytics, end2end', () => {
  let dir = '';
  const frames = new Map<string, Frame[]>(); // "<model>/<input>" → the command's frames

  async function detect(model: string, input: string, env: Record<string, string> = {}): Promise<{ frames: Frame[]; stdout: string }> {
    const out = path.join(dir, `${path.basename(model)}-${path.basename(input)}-${Object.values(env).join('-')}.jsonl`);
    const result = await vdetDetect([input, '--model', model, '--no-track', '--out', out], env);
    assert.equal(result.code, 0, result.stderr);
    const text = await readFile(out, 'utf8');
    return { frames: text.trim().split('\n').map((line) => JSON.parse(line) as Frame), stdout: result.stdout };
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vdet-layouts-'));
    for (const input of [TOUR_VIDEO, IMAGES]) frames.set(`yolox/${input}`, (await detect(MODEL_PATH, input)).frames);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [name, model] of [['ultralytics', ULTRALYTICS_MODEL_PATH], ['end2end', END2END_MODEL_PATH]] as const) {
    test(`vdet detect --model ${path.basename(model)} (top-left letterbox): the YOLOX file's detections exactly, on the tour video and the images`, async () => {
      for (const input of [TOUR_VIDEO, IMAGES]) {
        const { frames: ours, stdout } = await detect(model, input, { VDET_MODEL_PAD: 'top-left' });
        assert.match(stdout, new RegExp(`\\(${name}, 416x416\\)`), 'the layout was found from the file');
        assert.deepEqual(ours, frames.get(`yolox/${input}`), `${name} on ${path.basename(input)}`);
      }
    });
  }

  test('vdet model describe says how a file is read; a file that is no model fails with its code', async () => {
    const described = await runCli(['model', 'describe', ULTRALYTICS_MODEL_PATH]);
    assert.equal(described.code, 0, described.stderr);
    const spec = JSON.parse(described.stdout) as Record<string, unknown>;
    assert.deepEqual([spec['format'], spec['inputWidth'], spec['channels'], spec['pad'], spec['classes'], spec['sha256']],
      ['ultralytics', 416, 'rgb', 'center', 80, '212d4ba6facddb24eac954ecbb5d271ee79c259dd1aa8b5fbcc3530ba9359ad7']);
    const broken = await vdetDetect([TOUR_VIDEO, '--model', path.resolve('package.json')]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^vdet: VDET_MODEL_INVALID: The model .*package\.json is not an ONNX model/);
  });

  test('the Ultralytics layouts centred (their default): the same objects as the YOLOX reference, boxes mapped back through the padding', async (t) => {
    for (const model of [ULTRALYTICS_MODEL_PATH, END2END_MODEL_PATH]) {
      const { frames: ours } = await detect(model, IMAGES);
      const reference = IMAGE_NAMES.map((name, frame) => ({ frame, detections: loadReference(name).detections.filter((d) => d.score >= 0.5) }));
      const candidate = ours.map((f, frame) => ({ frame, detections: f.detections.filter((d) => d.score >= 0.5) }));
      const { recall, precision } = agreement(reference, candidate);
      t.diagnostic(`${path.basename(model)}, centred, boxes ≥ 0.5 against the reference: recall ${recall.toFixed(3)}, precision ${precision.toFixed(3)}`);
      // MODEL.md: centred padding finds the same objects (16 of 17 reference boxes ≥ 0.5); boxes left shifted by
      // the padding (91 px on a 16:9 image) would match almost none.
      assert.ok(recall >= 0.85 && precision >= 0.8, `recall ${recall}, precision ${precision}`);
    }
  });

  test('the service with the end-to-end file as VDET_MODEL: the command\'s YOLOX detections on the tour video', async (t) => {
    const key = `vdet_layouts_test_${Date.now()}_0123456789abcdef`;
    const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: key, VDET_MODEL: END2END_MODEL_PATH, VDET_MODEL_PAD: 'top-left' });
    let service: RunningRole | undefined;
    try {
      service = startRole('all', stack.env);
      await waitStarted([service]);
      assert.match(service.output(), /"format":"end2end"/, 'the detector logged the layout it found');
      const api = { base: await apiUrl(service), key };
      const id = await submitJob(api, TOUR_VIDEO, { track: false });
      const job = await waitForJob(api, id);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
      const served = await allDetections(api, id);
      const { problems, worstIou, worstScore } = compareToService(frames.get(`yolox/${TOUR_VIDEO}`)!, served, 0.99);
      t.diagnostic(`end2end through the service against yolox through the command: lowest IoU ${worstIou.toFixed(4)}, largest score difference ${worstScore.toFixed(4)}`);
      assert.deepEqual(problems, []);
    } finally {
      const code = await service?.stop();
      if (service && code !== 0) console.error(`vdet all exited ${code}:\n${service.output().slice(-3000)}`);
      await stack.cleanup();
    }
  });
});
