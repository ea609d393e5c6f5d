import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COCO80_LABELS } from '../../src/vision/labels.js';
import { boxIou, buildAnchorGrid, decodeYolox, nonMaximumSuppression } from '../../src/vision/yolox.js';

const ROW = 85;

function emptyOutput(grid: { count: number }): Float32Array {
  return new Float32Array(grid.count * ROW);
}

/** Writes one anchor's raw row: box centred on its cell, given size (log-space), objectness and one class score. */
function setAnchor(out: Float32Array, anchor: number, o: { dx?: number; dy?: number; logW: number; logH: number; obj: number; cls: number; score: number }) {
  const row = anchor * ROW;
  out[row] = o.dx ?? 0.5;
  out[row + 1] = o.dy ?? 0.5;
  out[row + 2] = o.logW;
  out[row + 3] = o.logH;
  out[row + 4] = o.obj;
  out[row + 5 + o.cls] = o.score;
}

test('the anchor grid of a 416 input has 52² + 26² + 13² points in stride order', () => {
  const grid = buildAnchorGrid(416);
  assert.equal(grid.count, 3549);
  assert.deepEqual([grid.gx[0], grid.gy[0], grid.stride[0]], [0, 0, 8]);
  assert.deepEqual([grid.gx[53], grid.gy[53], grid.stride[53]], [1, 1, 8]);
  assert.deepEqual([grid.stride[2704], grid.gx[2704]], [16, 0]);
  assert.deepEqual([grid.stride[3548], grid.gx[3548], grid.gy[3548]], [32, 12, 12]);
});

test('decode maps a box through grid, stride, exp and the letterbox ratio, and scores objectness × class', () => {
  const grid = buildAnchorGrid(416);
  const out = emptyOutput(grid);
  // anchor (x=10, y=20) at stride 8: centre (10.5*8, 20.5*8) = (84, 164); w = e^2 * 8, h = e^1 * 8
  setAnchor(out, 20 * 52 + 10, { logW: 2, logH: 1, obj: 0.9, cls: 16, score: 0.8 });
  const [d, ...rest] = decodeYolox(out, 0, grid, { minScore: 0.3, nmsIou: 0.45, scale: 0.5, sourceWidth: 832, sourceHeight: 832, labels: COCO80_LABELS });
  assert.equal(rest.length, 0);
  assert.equal(d!.label, 'dog');
  assert.equal(d!.classId, 16);
  assert.ok(Math.abs(d!.score - 0.72) < 1e-4);
  const w = Math.exp(2) * 8;
  const h = Math.exp(1) * 8;
  const expected = [(84 - w / 2) / 0.5, (164 - h / 2) / 0.5, (84 + w / 2) / 0.5, (164 + h / 2) / 0.5];
  d!.box.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 0.1, `box[${i}] ${v} vs ${expected[i]}`));
});

test('decode drops scores under minScore and clips boxes to the source frame', () => {
  const grid = buildAnchorGrid(416);
  const out = emptyOutput(grid);
  setAnchor(out, 0, { logW: 3, logH: 3, obj: 0.9, cls: 0, score: 0.9 }); // large box at the top-left corner
  setAnchor(out, 100, { logW: 1, logH: 1, obj: 0.5, cls: 2, score: 0.5 }); // 0.25 < 0.3
  const ds = decodeYolox(out, 0, grid, { minScore: 0.3, nmsIou: 0.45, scale: 1, sourceWidth: 100, sourceHeight: 50, labels: COCO80_LABELS });
  assert.equal(ds.length, 1);
  assert.deepEqual(ds[0]!.box.map((v) => v >= 0), [true, true, true, true]);
  assert.ok(ds[0]!.box[2] <= 100 && ds[0]!.box[3] <= 50);
});

test('NMS is class-aware: overlapping boxes of different classes both stay, same class keeps the best', () => {
  const grid = buildAnchorGrid(416);
  const out = emptyOutput(grid);
  setAnchor(out, 30 * 52 + 30, { logW: 3, logH: 3, obj: 0.9, cls: 16, score: 0.9 });
  setAnchor(out, 30 * 52 + 31, { dx: 0.4, logW: 3, logH: 3, obj: 0.9, cls: 16, score: 0.7 }); // same class, overlaps
  setAnchor(out, 30 * 52 + 31 + 1, { dx: -0.6, logW: 3, logH: 3, obj: 0.9, cls: 15, score: 0.5 }); // cat on the same spot
  const ds = decodeYolox(out, 0, grid, { minScore: 0.3, nmsIou: 0.45, scale: 1, sourceWidth: 416, sourceHeight: 416, labels: COCO80_LABELS });
  assert.deepEqual(ds.map((d) => d.label), ['dog', 'cat']);
});

test('decode reads the frame at the given offset of a batch output', () => {
  const grid = buildAnchorGrid(416);
  const out = new Float32Array(grid.count * ROW * 2);
  const second = out.subarray(grid.count * ROW);
  setAnchor(second, 5, { logW: 1, logH: 1, obj: 0.8, cls: 1, score: 0.9 });
  const opts = { minScore: 0.3, nmsIou: 0.45, scale: 1, sourceWidth: 416, sourceHeight: 416, labels: COCO80_LABELS };
  assert.equal(decodeYolox(out, 0, grid, opts).length, 0);
  assert.equal(decodeYolox(out, grid.count * ROW, grid, opts)[0]?.label, 'bicycle');
});

test('nonMaximumSuppression keeps boxes under the IoU threshold, best first', () => {
  const kept = nonMaximumSuppression([
    { score: 0.5, x1: 0, y1: 0, x2: 10, y2: 10 },
    { score: 0.9, x1: 1, y1: 1, x2: 11, y2: 11 },
    { score: 0.8, x1: 50, y1: 50, x2: 60, y2: 60 },
  ], 0.45);
  assert.deepEqual(kept.map((k) => k.score), [0.9, 0.8]);
  assert.equal(boxIou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.equal(boxIou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
});
