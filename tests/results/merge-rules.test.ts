import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineSummaries, countsOf, isComplete, summarizeFrames } from '../../src/results/merge-rules.js';
import { canTransition, statesBefore } from '../../src/store/job-state.js';

const d = (label: string) => ({ label, classId: 0, score: 0.9, box: [0, 0, 1, 1] as [number, number, number, number] });

test('per-label summary within a chunk and combined over a job', () => {
  const first = summarizeFrames([
    { frame: 0, ptsMs: 0, detections: [d('dog'), d('dog'), d('car')] },
    { frame: 1, ptsMs: 40, detections: [] },
    { frame: 2, ptsMs: 80, detections: [d('dog')] },
  ]);
  assert.deepEqual(first['dog'], { detections: 3, frames: 2, maxPerFrame: 2, firstMs: 0, lastMs: 80 });
  const second = summarizeFrames([{ frame: 3, ptsMs: 120, detections: [d('car'), d('car'), d('car'), d('bird')] }]);
  const job = combineSummaries([second, first]);
  assert.deepEqual(Object.keys(job), ['car', 'dog', 'bird']);
  assert.deepEqual(job['car'], { detections: 4, frames: 2, maxPerFrame: 3, firstMs: 0, lastMs: 120 });
  assert.deepEqual(countsOf(job), { car: 4, dog: 3, bird: 1 });
});

test('a job completes only when its plan is known and every chunk is merged', () => {
  assert.equal(isComplete(undefined, 10), false);
  assert.equal(isComplete({ chunks: 3 }, 2), false);
  assert.equal(isComplete({ chunks: 3 }, 3), true);
});

test('the job state machine: finished jobs never move again', () => {
  assert.ok(canTransition('queued', 'running'));
  assert.ok(canTransition('running', 'failed'));
  assert.ok(!canTransition('failed', 'done'));
  assert.ok(!canTransition('done', 'failed'));
  assert.deepEqual(statesBefore('failed'), ['queued', 'running']);
});
