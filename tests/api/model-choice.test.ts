import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelChooser } from '../../src/api/model-choice.js';
import type { VdetError } from '../../src/platform/errors.js';
import type { ModelVersion } from '../../src/vision/model-registry.js';

const registered = { name: 'yolo11n', version: 3, sha256: 'a'.repeat(64), spec: { labels: ['cat', 'dog'] } } as unknown as ModelVersion;
const registry = { get: async (name: string) => (name === 'yolo11n' ? registered : undefined) };

test('a job without a model (or naming "default") runs on VDET_MODEL, with its sha256 where the api read the file', async () => {
  const choose = modelChooser(registry, { labels: ['person'], described: { sha256: 'd'.repeat(64) } as never });
  assert.deepEqual(await choose(undefined), { model: { name: 'default', sha256: 'd'.repeat(64) }, labels: ['person'] });
  assert.deepEqual(await choose('default'), { model: { name: 'default', sha256: 'd'.repeat(64) }, labels: ['person'] });
  const unread = modelChooser(registry, { labels: ['person'] });
  assert.deepEqual((await unread(undefined)).model, { name: 'default' });
});

test('a registered name pins the job to its current version and its labels; an unknown one is VDET_MODEL_UNKNOWN', async () => {
  const choose = modelChooser(registry, { labels: ['person'] });
  assert.deepEqual(await choose('yolo11n'), { model: { name: 'yolo11n', version: 3, sha256: 'a'.repeat(64) }, labels: ['cat', 'dog'] });
  await assert.rejects(choose('nope'), (e: VdetError) => e.code === 'VDET_MODEL_UNKNOWN' && e.status === 400 && /no registered model "nope"/.test(e.message));
});
