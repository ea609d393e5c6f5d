import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitFrame } from '../../src/processor/stream-policy.js';

test('lossless keeps every frame however late', () => {
  const state = { lastAcceptedTs: undefined };
  assert.equal(admitFrame({}, state, { ts: 0, now: 60_000 }), 'accept');
  assert.equal(admitFrame({ policy: 'lossless' }, state, { ts: 1, now: 60_000 }), 'accept');
});

test('drop-oldest skips frames that waited past maxLagMs', () => {
  const state = { lastAcceptedTs: undefined };
  assert.equal(admitFrame({ policy: 'drop-oldest', maxLagMs: 500 }, state, { ts: 1000, now: 1400 }), 'accept');
  assert.equal(admitFrame({ policy: 'drop-oldest', maxLagMs: 500 }, state, { ts: 1000, now: 1600 }), 'drop-lag');
  assert.equal(admitFrame({ policy: 'drop-oldest' }, state, { ts: 0, now: 1001 }), 'drop-lag'); // default 1 s
});

test('an fps cap keeps frames at least 1/fps apart', () => {
  const state = { lastAcceptedTs: undefined };
  const verdicts = [0, 40, 80, 120, 160, 200, 240, 400].map((ts) => admitFrame({ fpsCap: 5 }, state, { ts, now: ts }));
  assert.deepEqual(verdicts, ['accept', 'drop-fps', 'drop-fps', 'drop-fps', 'drop-fps', 'accept', 'drop-fps', 'accept']);
});
