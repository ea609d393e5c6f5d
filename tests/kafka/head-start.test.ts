import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Permits, handleInOrder } from '../../src/kafka/head-start.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('messages are handled in order while the next ones are prepared early, within the permits', async () => {
  const permits = new Permits(3);
  const handled: number[] = [];
  let preparing = 0;
  let mostAtOnce = 0;
  const started = Date.now();
  // Work that finishes in reverse order: 50, 40, 30 … ms.
  await handleInOrder([0, 1, 2, 3, 4, 5], permits, {
    prepare: async (n) => {
      preparing++;
      mostAtOnce = Math.max(mostAtOnce, preparing);
      await sleep(50 - n * 8);
      preparing--;
      return n * 10;
    },
    handle: async (n, prepared) => {
      assert.equal(await prepared, n * 10);
      handled.push(n);
    },
  });
  assert.deepEqual(handled, [0, 1, 2, 3, 4, 5]);
  assert.equal(mostAtOnce, 3, 'three at once: the permits, no more');
  assert.ok(Date.now() - started < 6 * 40, 'work overlapped instead of running one after another');
  assert.equal(permits.available, 3, 'every permit came back');
});

test('partitions share the permits: a waiting turn is served before new head starts, and none is stuck', async () => {
  const permits = new Permits(2);
  const order: string[] = [];
  const partition = (name: string, n: number) => handleInOrder(Array.from({ length: n }, (_, i) => `${name}${i}`), permits, {
    prepare: async (m) => {
      await sleep(5);
      return m;
    },
    handle: async (m, prepared) => {
      order.push(await prepared);
    },
  });
  await Promise.all([partition('a', 5), partition('b', 5), partition('c', 5)]);
  for (const name of ['a', 'b', 'c']) assert.deepEqual(order.filter((m) => m.startsWith(name)), [0, 1, 2, 3, 4].map((i) => `${name}${i}`));
  assert.equal(permits.available, 2);
});

test('a failing turn or a stop gives back the permits of the head starts left behind', async () => {
  const permits = new Permits(4);
  await assert.rejects(handleInOrder([1, 2, 3, 4, 5], permits, {
    prepare: async (n) => n,
    handle: async (n) => {
      if (n === 2) throw new Error('boom');
    },
  }), /boom/);
  assert.equal(permits.available, 4);
  const handled: number[] = [];
  await handleInOrder([1, 2, 3, 4, 5], permits, {
    prepare: async (n) => n,
    handle: async (n) => {
      handled.push(n);
    },
    keepGoing: () => handled.length < 2,
  });
  assert.deepEqual(handled, [1, 2]);
  assert.equal(permits.available, 4);
});
