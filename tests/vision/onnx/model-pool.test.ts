import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelRef } from '../../../src/contracts/chunk.js';
import { VdetError } from '../../../src/platform/errors.js';
import { ModelPool, modelKey } from '../../../src/vision/onnx/model-pool.js';

/** A fake model: records whether it was closed. */
class Fake {
  closed = false;
  constructor(readonly key: string) {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

const ref = (name: string, version = 1): ModelRef => ({ name, version, sha256: (name + version).padEnd(64, '0').replace(/[^0-9a-f]/g, 'a') });

function pool(maxLoaded: number, load: (r: ModelRef) => Promise<Fake> = async (r) => new Fake(modelKey(r))) {
  const loads: string[] = [];
  const events: string[] = [];
  let clock = 0;
  const p = new ModelPool<Fake>(new Fake('default'), {
    maxLoaded, retryAfterMs: 1000, now: () => clock,
    load: (r) => {
      loads.push(`${r.name}@${r.version}`);
      return load(r);
    },
    failed: (r) => events.push(`failed ${r.name}`),
    evicted: (r) => events.push(`evicted ${r.name}`),
  });
  return { p, loads, events, tick: (ms: number) => (clock += ms) };
}

test('a chunk without a model runs on the default; a registered version loads once, on first need, then is reused', async () => {
  const { p, loads } = pool(2);
  assert.equal(await p.use(undefined, async (m) => m.key), 'default');
  const a = ref('a');
  const [one, two] = await Promise.all([p.use(a, async (m) => m), p.use(a, async (m) => m)]);
  assert.equal(one, two, 'one load serves both');
  assert.deepEqual(loads, ['a@1']);
  assert.equal(await p.use(ref('a', 2), async (m) => m.key), modelKey(ref('a', 2)), 'a new version is another model');
  assert.deepEqual(loads, ['a@1', 'a@2']);
});

test('at most maxLoaded registered models: the least recently used idle one is evicted and closed', async () => {
  const { p, loads, events, tick } = pool(2);
  const a = await p.use(ref('a'), async (m) => m);
  tick(1);
  await p.use(ref('b'), async (m) => m);
  tick(1);
  await p.use(ref('a'), async () => undefined); // a is now the more recent
  tick(1);
  await p.use(ref('c'), async () => undefined);
  assert.deepEqual(events, ['evicted b']);
  assert.deepEqual(p.loaded().map((r) => r.name).sort(), ['a', 'c']);
  assert.equal(a.closed, false);
  assert.deepEqual(loads, ['a@1', 'b@1', 'c@1']);
});

test('a model in use is never evicted: a chunk for another waits until one is idle', async () => {
  const { p, events } = pool(1);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let aModel: Fake | undefined;
  const first = p.use(ref('a'), async (m) => {
    aModel = m;
    await held;
  });
  await new Promise((r) => setImmediate(r));
  let bRan = false;
  const second = p.use(ref('b'), async () => {
    bRan = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(bRan, false, 'b waits while a is in use');
  assert.equal(aModel?.closed, false);
  release();
  await Promise.all([first, second]);
  assert.equal(bRan, true);
  assert.deepEqual(events, ['evicted a']);
  await new Promise((r) => setImmediate(r));
  assert.equal(aModel?.closed, true);
});

test('a model that fails to load for good is refused with VDET_MODEL_UNAVAILABLE, listed, and tried again only later', async () => {
  let attempts = 0;
  const { p, tick } = pool(2, async () => {
    attempts++;
    throw new VdetError('VDET_MODEL_INVALID', 'the session could not start');
  });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(p.use(ref('bad'), async () => undefined), (e: VdetError) => e.code === 'VDET_MODEL_UNAVAILABLE' && /"bad" version 1 cannot be loaded: the session could not start/.test(e.message));
  }
  assert.equal(attempts, 1, 'refused at once while the failure is fresh');
  assert.deepEqual(p.failures().map((f) => f.ref.name), ['bad']);
  assert.deepEqual(p.loaded(), [], 'never half-used');
  tick(1001);
  assert.deepEqual(p.failures(), []);
  await assert.rejects(p.use(ref('bad'), async () => undefined));
  assert.equal(attempts, 2);
});

test('a passing failure (the store away) is not remembered: the next chunk tries again', async () => {
  let attempts = 0;
  const { p } = pool(2, async (r) => {
    attempts++;
    if (attempts === 1) throw new Error('MongoNetworkError');
    return new Fake(modelKey(r));
  });
  await assert.rejects(p.use(ref('a'), async () => undefined), /MongoNetworkError/);
  assert.deepEqual(p.failures(), []);
  assert.equal(await p.use(ref('a'), async (m) => m.key), modelKey(ref('a')));
});

test('close() closes the registered models and refuses new work', async () => {
  const { p } = pool(2);
  const a = await p.use(ref('a'), async (m) => m);
  await p.close();
  assert.equal(a.closed, true);
  await assert.rejects(p.use(ref('a'), async () => undefined), /closing/);
});
