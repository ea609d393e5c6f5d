import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createDeviceRunner } from '../../../src/vision/onnx/device-runner.js';
import { LETTERBOX_PAD_VALUE } from '../../../src/media/letterbox.js';
import { modelSpec } from '../../helpers/models.js';
import { MODEL_PATH } from '../../helpers/paths.js';

test('closing a runner while its batch runs lets the batch end, then stops the worker (no abort)', async () => {
  const runner = await createDeviceRunner({ kind: 'cpu', name: 'cpu:0', intraOpThreads: 1 }, {
    modelPath: MODEL_PATH, spec: await modelSpec(MODEL_PATH), batchMax: 4, log: pino({ level: 'silent' }),
  });
  const finished: number[] = [];
  const frame = (slot: number) => ({
    queue: 'q', pixels: new Uint8Array(416 * 234 * 3).fill(LETTERBOX_PAD_VALUE),
    layout: { width: 416, height: 234, order: 'rgb' as const },
    decode: { minScore: 0.3, scale: 1, sourceWidth: 416, sourceHeight: 234 },
    finish: () => finished.push(slot),
    fail: (error: unknown) => assert.fail(String(error)),
  });
  const batch = runner.run([frame(0), frame(1), frame(2), frame(3)]);
  const closed = runner.close(); // while the four frames run
  await batch;
  await closed;
  assert.deepEqual(finished, [0, 1, 2, 3], 'the running batch ended with every frame finished');
  await assert.rejects(runner.run([frame(4)]), /gone|terminated|exited/i, 'a closed runner takes no more batches');
});
