import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { VdetError } from '../../src/platform/errors.js';
import { checkModelName, describeForRegistry, pinnedVersion, type ModelVersion } from '../../src/vision/model-registry.js';
import { MODEL_PATH, ULTRALYTICS_MODEL_PATH } from '../helpers/paths.js';

test('model names: lower-case letters, digits, . _ - up to 64; "default" is VDET_MODEL\'s', () => {
  for (const good of ['yolo11n', 'a', 'coco.v2_final-1', 'x'.repeat(64)]) assert.doesNotThrow(() => checkModelName(good));
  for (const bad of ['', 'Yolo', '-x', '.x', 'a b', 'a/b', 'x'.repeat(65), 'default']) {
    assert.throws(() => checkModelName(bad), (e: VdetError) => e.code === 'VDET_VALIDATION', bad);
  }
});

test('a file is described before it is registered: the settings apply, a file vdet cannot read is refused', async () => {
  const file = await readFile(ULTRALYTICS_MODEL_PATH);
  const { sha256, spec } = describeForRegistry('u', file, { format: 'auto', pad: 'top-left' });
  assert.equal(sha256, '212d4ba6facddb24eac954ecbb5d271ee79c259dd1aa8b5fbcc3530ba9359ad7');
  assert.deepEqual([spec.format, spec.pad, spec.inputWidth, spec.labels.length], ['ultralytics', 'top-left', 416, 80]);
  assert.throws(() => describeForRegistry('junk', Buffer.from('{"not": "onnx"}'), { format: 'auto', pad: 'auto' }),
    (e: VdetError) => e.code === 'VDET_MODEL_INVALID' && /The model file for "junk" is not an ONNX model/.test(e.message));
  const yolox = await readFile(MODEL_PATH);
  assert.throws(() => describeForRegistry('y', yolox, { format: 'end2end', pad: 'auto' }), (e: VdetError) => e.code === 'VDET_MODEL_INVALID' && /not the end2end layout/.test(e.message));
});

test('a job pinned to a version that is gone or is another file gets VDET_MODEL_UNAVAILABLE', async () => {
  const stored = { name: 'm', version: 2, sha256: 'b'.repeat(64) } as ModelVersion;
  const registry = { version: async (name: string, version: number) => (name === 'm' && version === 2 ? stored : undefined) };
  assert.equal(await pinnedVersion(registry, { name: 'm', version: 2, sha256: 'b'.repeat(64) }), stored);
  for (const ref of [{ name: 'm', version: 1, sha256: 'b'.repeat(64) }, { name: 'm', version: 2, sha256: 'c'.repeat(64) }]) {
    await assert.rejects(pinnedVersion(registry, ref), (e: VdetError) => e.code === 'VDET_MODEL_UNAVAILABLE' && /no longer registered/.test(e.message));
  }
});
