import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countLabels, isComplete, sumCounts } from '../../src/merger/merge-rules.js';
import { canTransition, statesBefore } from '../../src/shared/job-state.js';

const d = (label: string) => ({ label, classId: 0, score: 0.9, box: [0, 0, 1, 1] as [number, number, number, number] });

test('counts per label within a chunk and summed over a job', () => {
  const chunk = countLabels([{ frame: 0, ptsMs: 0, detections: [d('dog'), d('dog'), d('car')] }, { frame: 1, ptsMs: 40, detections: [] }]);
  assert.deepEqual(chunk, { dog: 2, car: 1 });
  assert.deepEqual(sumCounts([chunk, { car: 3, bird: 1 }]), { car: 4, dog: 2, bird: 1 });
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
