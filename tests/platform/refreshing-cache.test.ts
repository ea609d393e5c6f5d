import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefreshingCache } from '../../src/platform/refreshing-cache.js';

const tick = () => new Promise((r) => setImmediate(r));

test('a known value is answered from the cache, and past its time answered at once while it reloads in the background', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] });
  let version = 1;
  const loads: string[] = [];
  const cache = new RefreshingCache<number>(async (key) => {
    loads.push(key);
    return version;
  }, 2_000);
  assert.equal(await cache.get('a'), 1);
  version = 2;
  assert.equal(await cache.get('a'), 1);
  assert.deepEqual(loads, ['a']);
  t.mock.timers.tick(2_001);
  assert.equal(await cache.get('a'), 1, 'stale, answered at once');
  await tick();
  assert.equal(await cache.get('a'), 2, 'the background reload landed');
  assert.deepEqual(loads, ['a', 'a']);
});

test('a failed background reload keeps the last value; a null past its time is loaded again before answering', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] });
  let answer: (() => Promise<string | null>) = async () => 'granted';
  const cache = new RefreshingCache<string>((_key) => answer(), 1_000);
  assert.equal(await cache.get('k'), 'granted');
  answer = async () => {
    throw new Error('the store is away');
  };
  t.mock.timers.tick(1_001);
  assert.equal(await cache.get('k'), 'granted');
  await tick();
  assert.equal(await cache.get('k'), 'granted', 'kept after the failed reload');
  answer = async () => null; // revoked
  await tick();
  assert.equal(await cache.get('k'), 'granted'); // one more answer from the old value while it reloads
  await tick();
  assert.equal(await cache.get('k'), null);
  answer = async () => 'granted again';
  assert.equal(await cache.get('k'), null, 'a null is cached for its time');
  t.mock.timers.tick(1_001);
  assert.equal(await cache.get('k'), 'granted again', 'an expired null is loaded before answering');
});

test('at most maxEntries keys are held, the oldest dropped first', async () => {
  const loads: string[] = [];
  const cache = new RefreshingCache<string>(async (key) => {
    loads.push(key);
    return null;
  }, 60_000, 3);
  for (const key of ['a', 'b', 'c', 'd']) await cache.get(key);
  await cache.get('b');
  await cache.get('a');
  assert.deepEqual(loads, ['a', 'b', 'c', 'd', 'a'], '"a" was dropped for "d"; "b" was still held');
  cache.delete('d');
  await cache.get('d');
  assert.equal(loads.at(-1), 'd');
});
