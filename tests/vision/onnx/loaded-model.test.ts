import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { loadRegisteredModel } from '../../../src/vision/onnx/loaded-model.js';
import { loadConfig } from '../../../src/platform/config.js';
import type { ModelRef } from '../../../src/contracts/chunk.js';
import type { VdetError } from '../../../src/platform/errors.js';
import { describeForRegistry, type ModelVersion } from '../../../src/vision/model-registry.js';
import { ULTRALYTICS_MODEL_PATH } from '../../helpers/paths.js';

/** The detector's loader of registered models, against a registry in memory and real sessions (one CPU device). */
let dir = '';
let file: Buffer;
let stored: ModelVersion;
let ref: ModelRef;
const log = pino({ level: 'silent' });
const events = { skipped: () => undefined, fellBackToCpu: () => undefined };

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vdet-loaded-model-'));
  file = await readFile(ULTRALYTICS_MODEL_PATH);
  const { sha256, spec } = describeForRegistry('ul', file, { format: 'auto', pad: 'top-left' });
  stored = { name: 'ul', version: 1, sha256, bytes: file.length, settings: { format: 'auto', pad: 'top-left' }, spec, addedAt: new Date() };
  ref = { name: 'ul', version: 1, sha256 };
});
after(() => rm(dir, { recursive: true, force: true }));

function deps(registry: { file?: () => Buffer; missing?: boolean } = {}) {
  const config = loadConfig({ VDET_DEVICES: 'cpu:1', VDET_MODEL_CACHE_DIR: dir });
  let fetched = 0;
  const models = {
    version: async (name: string, version: number) => (!registry.missing && name === 'ul' && version === 1 ? stored : undefined),
    openFile: async () => {
      fetched++;
      return (registry.file ?? (() => file))();
    },
  };
  return { deps: { config, log, models, events }, fetched: () => fetched };
}

test('a registered version is fetched once into the cache (by sha256), then loaded from it; a damaged copy is fetched again', async () => {
  const first = deps();
  const model = await loadRegisteredModel(ref, first.deps);
  assert.deepEqual([model.spec.inputWidth, model.runners.length, first.fetched()], [416, 1, 1]);
  await model.close();
  assert.deepEqual(await readdir(dir), [`${ref.sha256}.onnx`]);
  const again = deps();
  await (await loadRegisteredModel(ref, again.deps)).close();
  assert.equal(again.fetched(), 0, 'read from the cache');
  await writeFile(path.join(dir, `${ref.sha256}.onnx`), file.subarray(0, 1000));
  const damaged = deps();
  await (await loadRegisteredModel(ref, damaged.deps)).close();
  assert.equal(damaged.fetched(), 1, 'a copy that is not the file is fetched again');
});

test('a version no longer registered, or a stored file that is not its sha256, is VDET_MODEL_UNAVAILABLE', async () => {
  await assert.rejects(loadRegisteredModel(ref, deps({ missing: true }).deps), (e: VdetError) => e.code === 'VDET_MODEL_UNAVAILABLE' && /no longer registered/.test(e.message));
  await rm(path.join(dir, `${ref.sha256}.onnx`), { force: true });
  await assert.rejects(loadRegisteredModel(ref, deps({ file: () => Buffer.from('not the model') }).deps),
    (e: VdetError) => e.code === 'VDET_MODEL_UNAVAILABLE' && /does not match its sha256/.test(e.message));
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.onnx')), [], 'nothing cached of it');
});
