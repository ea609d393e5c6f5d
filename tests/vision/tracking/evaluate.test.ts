import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateTracks, type ReferenceTrackFrame, type TrackedFrame } from '../../../src/vision/tracking/index.js';
import type { Box } from '../../../src/vision/tracking/box.js';

const A: Box = [0, 0, 100, 100];
const B: Box = [300, 0, 400, 100];
const shifted = (b: Box, dx: number): Box => [b[0] + dx, b[1], b[2] + dx, b[3]];

describe('evaluateTracks', () => {
  test('consistency, id switches and IDF1 of a small case, worked by hand', () => {
    // 5 frames at 1 frame/s: object 10 (a dog, 5 s on screen) and object 20 (a dog, frames 0 and 1: 2 s).
    const reference: ReferenceTrackFrame[] = [0, 1, 2, 3, 4].map((frame) => ({
      frame,
      objects: [{ id: 10, label: 'dog', box: A }, ...(frame < 2 ? [{ id: 20, label: 'dog', box: B }] : [])],
    }));
    const dog = (box: Box, trackId?: number, score = 0.9) => ({ label: 'dog', score, box, trackId });
    const tracked: TrackedFrame[] = [
      { frame: 0, detections: [dog(shifted(A, 5), 1), dog(B, 3)] },
      { frame: 1, detections: [dog(A, 1), { label: 'cat', score: 0.9, box: B, trackId: 6 }] }, // wrong label: 20 not found
      { frame: 2, detections: [dog(A), dog([600, 0, 700, 100], 4)] }, // 10 found without an id; a false track
      { frame: 3, detections: [dog(A, 2), dog([600, 0, 700, 100], 5, 0.2)] }, // a switch; a low-score stray (not counted)
      { frame: 4, detections: [dog(shifted(A, 60), 7), dog(A, 1)] }, // IoU 0.25 is no match; 10 switches back to 1
    ];
    const e = evaluateTracks(reference, tracked, { fps: 1 });
    const [o10, o20] = e.objects;
    assert.deepEqual(o10, {
      id: 10, label: 'dog', boxes: 5, firstFrame: 0, lastFrame: 4, onScreenMs: 5000, matched: 5, majorityTrackId: 1, consistency: 0.6, idSwitches: 2,
    });
    assert.deepEqual(o20, {
      id: 20, label: 'dog', boxes: 2, firstFrame: 0, lastFrame: 1, onScreenMs: 2000, matched: 1, majorityTrackId: 3, consistency: 1, idSwitches: 0,
    });
    assert.deepEqual(e.longObjects, [o10]);
    assert.deepEqual(e.sharedIds, []);
    assert.equal(e.idSwitches, 2);
    // Reference boxes 7; predictions: 10's four with ids, 20's one, the cat, the false dog, the box at IoU 0.25 = 8.
    // IDTP: 10 ↔ track 1 (3 frames), 20 ↔ track 3 (1 frame).
    assert.deepEqual({ idtp: e.idtp, idfp: e.idfp, idfn: e.idfn }, { idtp: 4, idfp: 4, idfn: 3 });
    assert.equal(e.idf1, 8 / 15);
  });

  test('two long objects whose majority id is the same share it; perfect tracks score IDF1 1', () => {
    const reference: ReferenceTrackFrame[] = [0, 1, 2, 3].map((frame) => ({ frame, objects: [{ id: 1, label: 'car', box: A }, { id: 2, label: 'car', box: B }] }));
    const one: TrackedFrame[] = reference.map((f) => ({ frame: f.frame, detections: [{ label: 'car', score: 0.8, box: A, trackId: 9 }, { label: 'car', score: 0.8, box: B, trackId: 9 }] }));
    const shared = evaluateTracks(reference, one, { fps: 1, minOnScreenMs: 4000 });
    assert.deepEqual(shared.sharedIds, [{ trackId: 9, objects: [1, 2] }]);
    const good: TrackedFrame[] = reference.map((f) => ({ frame: f.frame, detections: [{ label: 'car', score: 0.8, box: A, trackId: 1 }, { label: 'car', score: 0.8, box: B, trackId: 2 }] }));
    const perfect = evaluateTracks(reference, good, { fps: 1 });
    assert.deepEqual(perfect.sharedIds, []);
    assert.equal(perfect.idf1, 1);
    assert.ok(perfect.longObjects.every((o) => o.consistency === 1 && o.idSwitches === 0));
  });

  test('frames missing from the output find nothing; an output without tracks scores IDF1 0', () => {
    const reference: ReferenceTrackFrame[] = [{ frame: 0, objects: [{ id: 1, label: 'car', box: A }] }, { frame: 1, objects: [{ id: 1, label: 'car', box: A }] }];
    const e = evaluateTracks(reference, [{ frame: 0, detections: [{ label: 'car', score: 0.9, box: A }] }], { fps: 25 });
    assert.equal(e.objects[0]!.matched, 1);
    assert.equal(e.objects[0]!.majorityTrackId, undefined);
    assert.equal(e.objects[0]!.consistency, 0);
    assert.equal(e.idf1, 0);
  });
});
