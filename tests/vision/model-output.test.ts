import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEnd2end, decodeUltralytics, outputDecoder } from '../../src/vision/model-output.js';
import { LETTERBOX_PAD_VALUE } from '../../src/media/letterbox.js';
import { writeFrameToTensor } from '../../src/vision/tensor.js';

const LABELS = ['person', 'car', 'dog'];
const OPTIONS = { minScore: 0.3, nmsIou: 0.45, scale: 0.5, sourceWidth: 800, sourceHeight: 400, labels: LABELS, offsetX: 0, offsetY: 8 };

/** Boxes (cx, cy, w, h, class scores) in Ultralytics' `[B, 4 + C, N]` for frame `slot` of `batch`; other frames zero. */
function ultralyticsOutput(boxes: number[][], batch = 1, slot = 0, anchors = 6): { data: Float32Array; dims: number[] } {
  const rows = 4 + LABELS.length;
  const data = new Float32Array(batch * rows * anchors);
  boxes.forEach((box, j) => box.forEach((v, r) => { data[slot * rows * anchors + r * anchors + j] = v; }));
  return { data, dims: [batch, rows, anchors] };
}

test('ultralytics: every class over the threshold is a candidate, class-aware NMS, the offset and ratio undone', () => {
  const { data, dims } = ultralyticsOutput([
    [100, 58, 40, 20, 0.9, 0, 0.4], // person 0.9 and dog 0.4 on the same box
    [102, 58, 40, 20, 0.8, 0, 0], // a weaker person over the first: suppressed
    [300, 108, 20, 20, 0, 0.2, 0], // car under the threshold
  ], 2, 1);
  const found = decodeUltralytics(data, dims, 1, true, OPTIONS);
  assert.deepEqual(found, [
    { label: 'person', classId: 0, score: 0.9, box: [160, 80, 240, 120] },
    { label: 'dog', classId: 2, score: 0.4, box: [160, 80, 240, 120] },
  ]);
  assert.deepEqual(decodeUltralytics(data, dims, 0, true, OPTIONS), [], 'frame 0 of the batch is empty');
  // The same boxes, transposed ([B, N, 4 + C]), give the same detections.
  const rows = dims[1]!;
  const anchors = dims[2]!;
  const transposed = new Float32Array(data.length);
  for (let b = 0; b < 2; b++) for (let r = 0; r < rows; r++) for (let j = 0; j < anchors; j++) transposed[b * rows * anchors + j * rows + r] = data[b * rows * anchors + r * anchors + j]!;
  assert.deepEqual(decodeUltralytics(transposed, [2, anchors, rows], 1, false, OPTIONS), found);
  const decode = outputDecoder({ format: 'ultralytics', inputWidth: 416, inputHeight: 416, channelsFirst: true });
  assert.deepEqual(decode(data, dims, 1, OPTIONS), found);
});

test('end2end: rows at or over the threshold, best first; the zero rows after the last detection are no boxes', () => {
  const data = new Float32Array(2 * 4 * 6);
  data.set([80, 48, 120, 68, 0.7, 2, 300, 8, 340, 28, 0.95, 1, 10, 10, 20, 20, 0.1, 0], 4 * 6); // frame 1; row 4 all zero
  const found = decodeEnd2end(data, [2, 4, 6], 1, OPTIONS);
  assert.deepEqual(found, [
    { label: 'car', classId: 1, score: 0.95, box: [600, 0, 680, 40] },
    { label: 'dog', classId: 2, score: 0.7, box: [160, 80, 240, 120] },
  ]);
  assert.deepEqual(decodeEnd2end(data, [2, 4, 6], 0, { ...OPTIONS, minScore: 0 }), [], 'all-zero rows stay out even at threshold 0');
  data.set([0, 0, 10, 10, 0.5, 7], 4 * 6 + 18);
  assert.equal(decodeEnd2end(data, [2, 4, 6], 1, OPTIONS)[2]?.label, '7', 'a class without a name is reported by its id');
});

test('the tensor fill centres the image and scales to 0–1 for RGB models, grey 114 around it', () => {
  const [width, height, w, h] = [4, 6, 4, 2];
  const image = new Uint8Array(w * h * 3).map((_, i) => i * 10); // BGR bytes as ffmpeg gives them
  const tensor = new Float32Array(3 * width * height).fill(-1);
  writeFrameToTensor(image, tensor, 0, width, height, { width: w, height: h, order: 'bgr' }, { channels: 'rgb', pixelScale: 1 / 255, offsetX: 0, offsetY: 2 });
  const plane = width * height;
  const grey = Math.fround(LETTERBOX_PAD_VALUE / 255); // float32, as the tensor holds it
  assert.equal(tensor[0], grey, 'row 0 is padding');
  assert.equal(tensor[5 * width + 3], grey, 'row 5 is padding');
  // pixel (1, 0) of the image lands at (1, 2): red plane first (its byte 2), blue plane last (its byte 0)
  assert.equal(tensor[2 * width + 1], Math.fround(50 / 255));
  assert.equal(tensor[plane + 2 * width + 1], Math.fround(40 / 255));
  assert.equal(tensor[2 * plane + 2 * width + 1], Math.fround(30 / 255));
  assert.ok(!tensor.includes(-1), 'every value written');
  assert.throws(() => writeFrameToTensor(image, tensor, 0, width, height, { width: w, height: h, order: 'bgr' }, { channels: 'rgb', pixelScale: 1, offsetX: 1, offsetY: 0 }), RangeError, 'does not fit at that offset');
});
