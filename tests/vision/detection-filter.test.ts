import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDetectionFilter, splitForTracking } from '../../src/vision/detection-filter.js';
import { insidePolygon } from '../../src/vision/zones.js';
import { crossCheckOptions } from '../../src/contracts/job-options.js';
import { COCO80_LABELS } from '../../src/vision/labels.js';

const det = (label: string, score: number, box: [number, number, number, number]) => ({ label, classId: 0, score, box });
const frame = [det('dog', 0.9, [0, 0, 20, 20]), det('car', 0.8, [80, 80, 100, 100]), det('dog', 0.5, [40, 40, 60, 60])];

test('classes, roi (rect and polygon, by box centre) and the cap per frame', () => {
  assert.deepEqual(applyDetectionFilter(frame, { classes: ['dog'] }, 100, 100).map((d) => d.score), [0.9, 0.5]);
  assert.deepEqual(applyDetectionFilter(frame, { roi: { rect: [0.3, 0.3, 1, 1] } }, 100, 100).map((d) => d.label), ['car', 'dog']);
  const triangle: [number, number][] = [[0, 0], [0.6, 0], [0, 0.6]];
  assert.deepEqual(applyDetectionFilter(frame, { roi: { polygon: triangle } }, 100, 100).map((d) => d.score), [0.9]);
  assert.deepEqual(applyDetectionFilter(frame, { maxDetections: 2 }, 100, 100).map((d) => d.score), [0.9, 0.8]);
  assert.equal(applyDetectionFilter(frame, undefined, 100, 100), frame);
  assert.equal(insidePolygon([0.5, 0.5], [[0, 0], [1, 0], [1, 1], [0, 1]]), true);
});

test('options that do not hold together name the option', () => {
  assert.equal(crossCheckOptions({ fps: 5, stride: 2 }, COCO80_LABELS)?.option, 'stride');
  assert.equal(crossCheckOptions({ startMs: 5, endMs: 5 }, COCO80_LABELS)?.option, 'endMs');
  assert.equal(crossCheckOptions({ classes: ['dog', 'unicorn'] }, COCO80_LABELS)?.option, 'classes');
  assert.equal(crossCheckOptions({ roi: { rect: [0.5, 0, 0.2, 1] } }, COCO80_LABELS)?.option, 'roi');
  assert.equal(crossCheckOptions({ fps: 5, classes: ['dog'], roi: { rect: [0, 0, 1, 1] } }, COCO80_LABELS), undefined);
});

test('callback URLs: http(s) only, no credentials, no private addresses unless allowed', () => {
  const check = (url: string, allow = false) => crossCheckOptions({ callbackUrl: url }, COCO80_LABELS, allow)?.problem;
  assert.equal(check('https://hooks.example.com/vdet'), undefined);
  assert.match(check('ftp://example.com') ?? '', /http/);
  assert.match(check('https://user:pw@example.com') ?? '', /credentials/);
  for (const url of ['http://127.0.0.1:9/x', 'http://localhost/x', 'http://10.1.2.3/', 'http://192.168.0.1/', 'http://172.20.0.1/', 'http://[::1]/', 'http://169.254.169.254/latest']) {
    assert.match(check(url) ?? '', /private/, url);
  }
  assert.equal(check('http://127.0.0.1:9/x', true), undefined);
});

test('tracking: decoded down to the tracker\'s threshold, split at minScore; the stored ones exactly as without tracking', () => {
  const decoded = [det('dog', 0.9, [0, 0, 20, 20]), det('car', 0.8, [80, 80, 100, 100]), det('dog', 0.5, [40, 40, 60, 60]),
    det('dog', 0.29, [0, 0, 22, 22]), det('car', 0.2, [85, 85, 100, 100]), det('dog', 0.15, [90, 0, 100, 10]), det('dog', 0.12, [2, 2, 20, 20])];
  const filter = { classes: ['dog'], roi: { rect: [0, 0, 0.7, 1] as [number, number, number, number] }, maxDetections: 1 };
  const split = splitForTracking(decoded, filter, 100, 100, 0.3);
  assert.deepEqual(split.detections, applyDetectionFilter(decoded.filter((d) => d.score >= 0.3), filter, 100, 100));
  assert.deepEqual(split.detections.map((d) => d.score), [0.9], 'the cap counts only the stored ones');
  assert.deepEqual(split.trackOnly.map((d) => d.score), [0.29], 'labels, region and a cap of their own: no car, nothing outside, best first');
  assert.deepEqual(splitForTracking(decoded, undefined, 100, 100, 0.3).trackOnly.map((d) => d.score), [0.29, 0.2, 0.15, 0.12]);
});

test('tracking options: checked with the others, every problem named', () => {
  assert.equal(crossCheckOptions({ tracking: { highThreshold: 0.6, newTrackThreshold: 0.7, confirmFrames: 3 } }, COCO80_LABELS), undefined);
  const conflict = crossCheckOptions({ tracking: { trackThreshold: 0.8, highThreshold: 0.5 } }, COCO80_LABELS);
  assert.equal(conflict?.option, 'tracking');
  assert.match(conflict?.problem ?? '', /trackThreshold \(0\.8\) must not exceed highThreshold/);
  assert.match(crossCheckOptions({ tracking: { newTrackThreshold: 0.3 } }, COCO80_LABELS)?.problem ?? '', /newTrackThreshold/);
});
