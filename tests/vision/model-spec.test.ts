import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeModelFile, modelGeometry } from '../../src/vision/model-file.js';
import type { OnnxFacts } from '../../src/vision/onnx-proto.js';
import { describeModel, padOffsets, parseNamesLiteral, yoloxAnchorCount } from '../../src/vision/model-spec.js';
import { modelSpec } from '../helpers/models.js';
import { END2END_MODEL_PATH, MODEL_PATH, ULTRALYTICS_MODEL_PATH } from '../helpers/paths.js';

const AUTO = { format: 'auto', pad: 'auto' } as const;
const facts = (input: (number | string | undefined)[], output: (number | string | undefined)[], metadata: Record<string, string> = {}): OnnxFacts => ({
  inputs: [{ name: 'images', dims: input }], outputs: [{ name: 'out', dims: output }], metadata,
});

test('the three shared files are told apart by their shapes and metadata, with their input conventions', async () => {
  const yolox = await modelSpec(MODEL_PATH);
  assert.equal(yolox.format, 'yolox');
  assert.deepEqual([yolox.inputWidth, yolox.inputHeight, yolox.channels, yolox.pixelScale, yolox.pad, yolox.classes], [416, 416, 'bgr', 1, 'top-left', 80]);
  assert.equal(yolox.labels[0], 'person', 'COCO for a yolox file without names');
  const ultralytics = await modelSpec(ULTRALYTICS_MODEL_PATH);
  assert.deepEqual([ultralytics.format, ultralytics.channels, ultralytics.pixelScale, ultralytics.pad, ultralytics.classes, ultralytics.channelsFirst],
    ['ultralytics', 'rgb', 1 / 255, 'center', 80, true]);
  assert.equal(ultralytics.outputName, 'output0');
  assert.deepEqual([ultralytics.labels[0], ultralytics.labels[79]], ['person', 'toothbrush'], "labels from the file's names");
  const end2end = await modelSpec(END2END_MODEL_PATH);
  assert.deepEqual([end2end.format, end2end.channels, end2end.pad, end2end.classes, end2end.labels.length], ['end2end', 'rgb', 'center', undefined, 80]);
  assert.equal((await modelSpec(END2END_MODEL_PATH, { pad: 'top-left' })).pad, 'top-left', 'VDET_MODEL_PAD wins');
});

test('a layout vdet cannot read fails at start-up with the shape it found', async () => {
  await assert.rejects(modelSpec(END2END_MODEL_PATH, { format: 'yolox' }), (e: Error & { code?: string }) => e.code === 'VDET_MODEL_INVALID' && /\[1, 300, 6\]/.test(e.message) && /yolox-nano-end2end|end2end-layout/.test(e.message));
  assert.throws(() => describeModel(facts([1, 3, 640, 640], [1, 2, 3, 4]), AUTO), /shape \[1, 2, 3, 4\]/);
  assert.throws(() => describeModel(facts([1, 3, 640, 640], [1, 1000]), AUTO), /shape \[1, 1000\]/);
  assert.throws(() => describeModel(facts([1, 3, 640, 640], [1, 4, 3]), AUTO), /no layout vdet knows.*VDET_MODEL_FORMAT/);
  assert.throws(() => describeModel(facts([1, 640, 640, 3], [1, 84, 8400]), AUTO), /NCHW/, 'an NHWC input');
  assert.throws(() => describeModel(facts([1, 3, 'h', 'w'], [1, 84, 'n']), AUTO), /VDET_MODEL_INPUT_SIZE/, 'no size anywhere');
  assert.throws(() => describeModel(facts([1, 3, 416, 416], [1, 84, 3549]), { ...AUTO, labels: ['a', 'b'] }), /scores 80 classes but the labels file has 2 names/);
  const dir = mkdtempSync(path.join(tmpdir(), 'vdet-spec-'));
  try {
    writeFileSync(path.join(dir, 'bad.onnx'), 'not a model');
    await assert.rejects(modelSpec(path.join(dir, 'bad.onnx')), /is not an ONNX model/);
    await assert.rejects(modelSpec(path.join(dir, 'missing.onnx')), /cannot be read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real exports: YOLOv8/YOLO11 at 640, YOLOv10/YOLO26 end to end, a 3-class custom model, a transposed head', () => {
  const meta = { names: "{0: 'person', 1: 'bicycle', 2: \"it's\"}", task: 'detect', imgsz: '[480, 640]' };
  const v8 = describeModel(facts([1, 3, 640, 640], [1, 84, 8400], { task: 'detect' }), AUTO);
  assert.deepEqual([v8.format, v8.classes, v8.channelsFirst, v8.labels.length], ['ultralytics', 80, true, 0], 'no names: classes reported by id');
  const custom = describeModel(facts([1, 3, 'height', 'width'], [1, 7, 'anchors'], meta), AUTO);
  assert.deepEqual([custom.format, custom.classes, custom.inputWidth, custom.inputHeight, custom.labels], ['ultralytics', 3, 640, 480, ['person', 'bicycle', "it's"]]);
  const e2e = describeModel(facts([1, 3, 640, 640], [1, 300, 6], { names: meta.names }), AUTO);
  assert.equal(e2e.format, 'end2end', '[B, 300, 6] with 3 names');
  const twoClasses = describeModel(facts([1, 3, 640, 640], [1, 6, 8400], { names: "{0: 'a', 1: 'b'}" }), AUTO);
  assert.deepEqual([twoClasses.format, twoClasses.classes], ['ultralytics', 2], 'a 2-class head is 6 rows too, yet not end2end');
  const transposed = describeModel(facts([1, 3, 640, 640], [1, 8400, 84]), { ...AUTO, format: 'ultralytics' });
  assert.deepEqual([transposed.classes, transposed.channelsFirst], [80, false]);
  const wide = describeModel(facts([1, 3, 384, 640], [1, yoloxAnchorCount(640, 384), 85]), AUTO);
  assert.deepEqual([wide.format, wide.inputWidth, wide.inputHeight], ['yolox', 640, 384]);
  assert.throws(() => describeModel(facts([1, 3, 416, 416], [1, 3000, 85]), { ...AUTO, format: 'yolox' }), /3000 anchor rows.*3549/);
});

test("Ultralytics' names literal, and where a centred image sits", () => {
  assert.deepEqual(parseNamesLiteral("{0: 'a b', 1: \"c'd\", 2: 'e\\'f'}"), ['a b', "c'd", "e'f"]);
  assert.equal(parseNamesLiteral("{0: 'a', 2: 'c'}"), undefined, 'a gap in the ids');
  assert.equal(parseNamesLiteral('not a dict'), undefined);
  const spec = { pad: 'center', inputWidth: 416, inputHeight: 416 } as const;
  assert.deepEqual(padOffsets(spec, 416, 234), { x: 0, y: 91 });
  assert.deepEqual(padOffsets(spec, 416, 233), { x: 0, y: 91 }, 'an odd margin: the extra pixel goes below, as Ultralytics rounds');
  assert.deepEqual(padOffsets({ ...spec, pad: 'top-left' }, 416, 234), { x: 0, y: 0 });
});

test('a labels file wins over the names in the file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vdet-labels-'));
  try {
    const file = path.join(dir, 'labels.txt');
    writeFileSync(file, `${Array.from({ length: 80 }, (_, i) => `class-${i}`).join('\n')}\n`);
    const described = await describeModelFile({ path: ULTRALYTICS_MODEL_PATH, labelsPath: file, inputSize: 416, format: 'auto', pad: 'auto' });
    assert.equal(described.spec.labels[3], 'class-3');
    assert.equal(described.sha256, '212d4ba6facddb24eac954ecbb5d271ee79c259dd1aa8b5fbcc3530ba9359ad7');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('roles that only letterbox or name classes run without the model file, from VDET_MODEL_INPUT_SIZE; a broken file still fails', async () => {
  const settings = { labelsPath: undefined, inputSize: 640, format: 'auto', pad: 'auto' } as const;
  const absent = await modelGeometry({ ...settings, path: '/nonexistent/model.onnx' });
  assert.deepEqual([absent.inputWidth, absent.inputHeight, absent.labels.length, absent.fromFile], [640, 640, 80, false]);
  const present = await modelGeometry({ ...settings, path: ULTRALYTICS_MODEL_PATH });
  assert.deepEqual([present.inputWidth, present.labels[0], present.fromFile], [416, 'person', true], "the file's own size wins");
  await assert.rejects(modelGeometry({ ...settings, path: path.resolve('package.json') }), /is not an ONNX model/);
});
