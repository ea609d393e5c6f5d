import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LETTERBOX_PAD_VALUE } from '../../src/media/letterbox.js';
import { layoutBytes, writeFrameToTensor } from '../../src/vision/tensor.js';

/** A whole `size × size` BGR frame: an image of w × h at the top left (pixel (x, y) = [x, y, x + y] as B, G, R), grey around. */
function paddedBgr(size: number, w: number, h: number): Uint8Array {
  const frame = new Uint8Array(size * size * 3).fill(LETTERBOX_PAD_VALUE);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) frame.set([x, y, x + y], (y * size + x) * 3);
  return frame;
}

/** The same image alone, RGB. */
function compactRgb(w: number, h: number): Uint8Array {
  const image = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) image.set([x + y, y, x], (y * w + x) * 3);
  return image;
}

test('a compact RGB frame fills the tensor exactly like the padded BGR frame it stands for', () => {
  const size = 8;
  const [w, h] = [8, 5]; // 16:10, padded below
  const whole = new Float32Array(2 * 3 * size * size).fill(-1);
  const compact = new Float32Array(2 * 3 * size * size).fill(-1);
  writeFrameToTensor(paddedBgr(size, w, h), whole, 1, size, size);
  writeFrameToTensor(compactRgb(w, h), compact, 1, size, size, { width: w, height: h, order: 'rgb' });
  assert.deepEqual(compact, whole);
  assert.equal(compact[0], -1, 'slot 0 untouched');
  assert.equal(compact[3 * size * size], 0, 'slot 1, blue plane, pixel (0,0): its x');
  assert.equal(compact[3 * size * size + 2 * size * size + 1 * size + 2], 3, 'red plane, pixel (2,1): x + y');
});

test('a portrait image padded on the right, and BGR order kept as it is', () => {
  const size = 6;
  const [w, h] = [3, 6];
  const bgr = paddedBgr(size, w, h);
  const compact = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) compact.set(bgr.subarray(y * size * 3, (y * size + w) * 3), y * w * 3);
  const a = new Float32Array(3 * size * size);
  const b = new Float32Array(3 * size * size);
  writeFrameToTensor(bgr, a, 0, size, size);
  writeFrameToTensor(compact, b, 0, size, size, { width: w, height: h, order: 'bgr' });
  assert.deepEqual(b, a);
  assert.equal(b[5], LETTERBOX_PAD_VALUE, 'right of the image is grey');
});

test('a frame whose bytes or size do not match its layout is refused', () => {
  const tensor = new Float32Array(3 * 16);
  assert.throws(() => writeFrameToTensor(new Uint8Array(5), tensor, 0, 4, 4), RangeError);
  assert.throws(() => writeFrameToTensor(new Uint8Array(5 * 4 * 3), tensor, 0, 4, 4, { width: 5, height: 4, order: 'rgb' }), RangeError);
  assert.throws(() => writeFrameToTensor(new Uint8Array(48), tensor, 1, 4, 4), RangeError, 'slot past the end');
  assert.equal(layoutBytes(416, 416), 416 * 416 * 3);
  assert.equal(layoutBytes(416, 416, { width: 416, height: 234, order: 'rgb' }), 416 * 234 * 3);
});
