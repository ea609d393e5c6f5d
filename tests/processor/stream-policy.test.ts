import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitFrame, chunkRuns } from '../../src/processor/stream-policy.js';

test('lossless keeps every frame however late', () => {
  const state = { lastAcceptedTs: undefined };
  assert.equal(admitFrame({}, state, { ts: 0, now: 60_000 }), 'accept');
  assert.equal(admitFrame({ policy: 'lossless' }, state, { ts: 1, now: 60_000 }), 'accept');
});

test('drop-oldest skips frames that waited past maxLagMs', () => {
  const state = { lastAcceptedTs: undefined };
  assert.equal(admitFrame({ policy: 'drop-oldest', maxLagMs: 500 }, state, { ts: 1000, now: 1400 }), 'accept');
  assert.equal(admitFrame({ policy: 'drop-oldest', maxLagMs: 500 }, state, { ts: 1000, now: 1600 }), 'drop-lag');
  assert.equal(admitFrame({ policy: 'drop-oldest' }, state, { ts: 0, now: 499 }), 'accept');
  assert.equal(admitFrame({ policy: 'drop-oldest' }, state, { ts: 0, now: 501 }), 'drop-lag'); // default 500 ms
});

test('an fps cap keeps frames at least 1/fps apart', () => {
  const state = { lastAcceptedTs: undefined };
  const verdicts = [0, 40, 80, 120, 160, 200, 240, 400].map((ts) => admitFrame({ fpsCap: 5 }, state, { ts, now: ts }));
  assert.deepEqual(verdicts, ['accept', 'drop-fps', 'drop-fps', 'drop-fps', 'drop-fps', 'accept', 'drop-fps', 'accept']);
});

test('a stream is cut into chunks of at most N frames, in order, a new chunk where the image size changes', () => {
  const frame = (seq: number, w: number, h = 234) => ({ seq, contentWidth: w, contentHeight: h });
  const frames = [frame(1, 416), frame(2, 416), frame(3, 416), frame(4, 312, 416), frame(5, 416), frame(6, 416)];
  assert.deepEqual(chunkRuns(frames, 2).map((run) => run.map((f) => f.seq)), [[1, 2], [3], [4], [5, 6]]);
  assert.deepEqual(chunkRuns(frames, 64).map((run) => run.length), [3, 1, 2]);
  assert.deepEqual(chunkRuns([], 4), []);
});
