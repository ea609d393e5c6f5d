import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchScheduler, type BatchItem, type BatchRunner } from '../../src/vision/batch-scheduler.js';

const DECODE = { minScore: 0.3, scale: 1, sourceWidth: 1, sourceHeight: 1 };

function fakeRunner(name: string, maxBatch: number, delayMs: number, log: string[][]): BatchRunner {
  return {
    name,
    maxBatch,
    async run(items) {
      log.push(items.map((i) => i.queue));
      await new Promise((r) => setTimeout(r, delayMs));
      items.forEach((item) => item.finish([]));
    },
  };
}

function frames(queue: string, n: number): { items: BatchItem[]; done: Promise<unknown[]> } {
  const promises: Promise<unknown>[] = [];
  const items: BatchItem[] = [];
  for (let i = 0; i < n; i++) {
    promises.push(new Promise((resolve, reject) => items.push({ queue, pixels: new Uint8Array(1), decode: DECODE, finish: () => resolve(i), fail: reject })));
  }
  return { items, done: Promise.all(promises) };
}

test('frames of two jobs waiting together share batches, round-robin', async () => {
  const log: string[][] = [];
  const scheduler = new BatchScheduler([fakeRunner('cpu:0', 8, 5, log)], { batchMax: 8, batchWaitMs: 20 });
  const long = frames('long', 40);
  const short = frames('short', 4);
  scheduler.submit(long.items);
  scheduler.submit(short.items);
  await Promise.all([long.done, short.done]);
  // The first batch was cut as soon as 8 frames were queued: all from the long job. From the second on, the short
  // job's four frames ride along in the very next batch instead of waiting behind 32 frames of the long one.
  const second = log[1]!;
  assert.equal(second.filter((q) => q === 'short').length, 4);
  assert.equal(log.flat().length, 44);
  assert.equal(scheduler.stats.frames, 44);
});

test('a partial batch waits at most batchWaitMs', async () => {
  const log: string[][] = [];
  const scheduler = new BatchScheduler([fakeRunner('cpu:0', 8, 1, log)], { batchMax: 8, batchWaitMs: 30 });
  const started = Date.now();
  const few = frames('a', 3);
  scheduler.submit(few.items);
  await few.done;
  const waited = Date.now() - started;
  assert.ok(waited >= 25, `waited ${waited} ms`);
  assert.deepEqual(log, [['a', 'a', 'a']]);
});

test('batches go to idle devices: two devices both work, a device never runs two batches at once', async () => {
  const log: string[][] = [];
  let running = 0;
  let maxRunning = 0;
  const busy = (name: string): BatchRunner => ({
    name,
    maxBatch: 4,
    async run(items) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push([name]);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      items.forEach((item) => item.finish([]));
    },
  });
  const scheduler = new BatchScheduler([busy('gpu:0'), busy('gpu:1')], { batchMax: 8, batchWaitMs: 0 });
  const job = frames('j', 32);
  scheduler.submit(job.items);
  await job.done;
  assert.equal(maxRunning, 2);
  assert.ok(scheduler.stats.perRunner['gpu:0']! > 0 && scheduler.stats.perRunner['gpu:1']! > 0);
  assert.equal(scheduler.stats.frames, 32);
});

test('a failing batch fails its frames and the scheduler goes on', async () => {
  let calls = 0;
  const flaky: BatchRunner = {
    name: 'cpu:0',
    maxBatch: 2,
    async run(items) {
      if (calls++ === 0) throw new Error('boom');
      items.forEach((item) => item.finish([]));
    },
  };
  const scheduler = new BatchScheduler([flaky], { batchMax: 2, batchWaitMs: 0 });
  const first = frames('a', 2);
  scheduler.submit(first.items);
  await assert.rejects(first.done, /boom/);
  const second = frames('b', 2);
  scheduler.submit(second.items);
  await second.done;
});

test('close fails waiting frames', async () => {
  const never: BatchRunner = { name: 'x', maxBatch: 1, run: () => new Promise(() => undefined) };
  const scheduler = new BatchScheduler([never], { batchMax: 1, batchWaitMs: 0 });
  const job = frames('a', 3);
  scheduler.submit(job.items);
  scheduler.close();
  await assert.rejects(job.done, /closed/);
});

test('stream frames still waiting past their deadline expire instead of taking a device; the others run', async () => {
  const log: string[][] = [];
  const scheduler = new BatchScheduler([fakeRunner('cpu:0', 1, 40, log)], { batchMax: 1, batchWaitMs: 0 });
  const outcome = (queue: string, deadline?: number) => new Promise<string>((resolve, reject) => scheduler.submit([{
    queue, urgent: true, pixels: new Uint8Array(1), decode: DECODE, fail: reject,
    finish: () => resolve('ran'),
    ...(deadline !== undefined ? { deadline, expire: () => resolve('expired') } : {}),
  }]));
  const now = Date.now();
  // The first frame takes the only device for 40 ms; the second's deadline passes meanwhile, the third's does not.
  const results = await Promise.all([outcome('a', now + 10), outcome('b', now + 20), outcome('c', now + 5_000), outcome('d')]);
  assert.deepEqual(results, ['ran', 'expired', 'ran', 'ran']);
  assert.deepEqual(log, [['a'], ['c'], ['d']]);
  assert.equal(scheduler.pending, 0);
});
