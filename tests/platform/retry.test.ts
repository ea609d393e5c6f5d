import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VdetError } from '../../src/platform/errors.js';
import { backoffMs, classifyFailure, runWithRetry } from '../../src/platform/retry.js';

const fastPolicy = (stopping = false) => ({ maxAttempts: 3, sleep: async () => undefined, stopping: () => stopping });

test('failures are classified: bad input is fatal, outages are dependency, the rest retriable', () => {
  assert.equal(classifyFailure(new VdetError('VDET_MESSAGE_INVALID', 'x')), 'fatal');
  assert.equal(classifyFailure(new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'x')), 'dependency');
  assert.equal(classifyFailure(Object.assign(new Error('x'), { name: 'MongoServerSelectionError' })), 'dependency');
  assert.equal(classifyFailure(Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' })), 'dependency');
  assert.equal(classifyFailure(new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) })), 'dependency');
  assert.equal(classifyFailure(new TypeError('bug')), 'retriable');
});

test('backoff grows exponentially with full jitter and a cap', () => {
  assert.equal(backoffMs(1, 200, 30_000, () => 1), 200);
  assert.equal(backoffMs(4, 200, 30_000, () => 1), 1600);
  assert.equal(backoffMs(20, 200, 30_000, () => 1), 30_000);
  assert.equal(backoffMs(5, 200, 30_000, () => 0), 0);
});

test('a retriable failure is retried up to maxAttempts, then given up with the attempt count', async () => {
  let calls = 0;
  let gaveUp: number | undefined;
  await runWithRetry(async () => {
    calls++;
    throw new TypeError('flaky');
  }, async (_e, attempts) => {
    gaveUp = attempts;
  }, fastPolicy());
  assert.equal(calls, 3);
  assert.equal(gaveUp, 3);
});

test('a fatal failure is given up at once; a dependency outage is retried past maxAttempts until it passes', async () => {
  let fatalCalls = 0;
  await runWithRetry(async () => {
    fatalCalls++;
    throw new VdetError('VDET_MESSAGE_INVALID', 'poison');
  }, async () => undefined, fastPolicy());
  assert.equal(fatalCalls, 1);
  let outage = 0;
  await runWithRetry(async () => {
    if (++outage < 10) throw Object.assign(new Error('down'), { name: 'MongoNetworkError' });
  }, async () => assert.fail('must not give up on an outage'), fastPolicy());
  assert.equal(outage, 10);
});

test('while stopping, the error propagates so the offset is not committed', async () => {
  await assert.rejects(runWithRetry(async () => {
    throw Object.assign(new Error('down'), { name: 'MongoNetworkError' });
  }, async () => undefined, fastPolicy(true)), /down/);
});

test('each failed attempt that will be tried again is reported with its kind and wait; the last one is not', async () => {
  const reported: [number, string, number][] = [];
  let calls = 0;
  await runWithRetry(async () => {
    calls++;
    if (calls === 1) throw new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'away');
    throw new TypeError('flaky');
  }, async () => undefined, { ...fastPolicy(), onRetry: (_error, attempt, kind, waitMs) => reported.push([attempt, kind, waitMs]) });
  assert.equal(calls, 3);
  assert.deepEqual(reported.map(([attempt, kind]) => [attempt, kind]), [[1, 'dependency'], [2, 'retriable']]);
  assert.ok(reported.every(([, , waitMs]) => waitMs >= 0 && waitMs <= 30_000));
});
