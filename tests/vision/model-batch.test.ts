import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadBatchableSession, makeBatchDynamic } from '../../src/vision/model-batch.js';
import { MODEL_PATH } from '../helpers/paths.js';

const modelPath = process.env['VDET_MODEL'] ?? MODEL_PATH;
const original = new Uint8Array(readFileSync(modelPath));
const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1 };
const FRAME = 3 * 416 * 416;

/** Integer pixels 0..255 from a small LCG: distinct, reproducible frames. */
function frame(seed: number): Float32Array {
  const out = new Float32Array(FRAME);
  let s = seed >>> 0;
  for (let i = 0; i < FRAME; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function run(session: ort.InferenceSession, frames: readonly Float32Array[]): Promise<Float32Array> {
  const input = new Float32Array(frames.length * FRAME);
  frames.forEach((f, slot) => input.set(f, slot * FRAME));
  const result = await session.run({ images: new ort.Tensor('float32', input, [frames.length, 3, 416, 416]) });
  return result['output']!.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Bytes the two buffers share: common prefix, then (past one re-encoded length varint) a common run, and common suffix. */
function sharedBytes(a: Uint8Array, b: Uint8Array): number {
  let prefix = 0;
  while (prefix < a.length && a[prefix] === b[prefix]) prefix++;
  let ia = prefix;
  let ib = prefix;
  while (a[ia]! >= 0x80) ia++;
  while (b[ib]! >= 0x80) ib++;
  let run = 1;
  while (ia + run < a.length && a[ia + run] === b[ib + run]) run++;
  let suffix = 0;
  while (suffix < a.length && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  return Math.min(a.length, prefix + (ia - prefix) + run + suffix);
}

test('the rewrite makes dim 0 of the input and output symbolic and changes only a few bytes', async () => {
  const { model, changed, inputs, outputs } = makeBatchDynamic(original);
  assert.equal(changed, true);
  assert.deepEqual(inputs, ['images']);
  assert.deepEqual(outputs, ['output']);
  // dim_value 1 (2 bytes) → dim_param "batch" (7 bytes) in two tensors; length prefixes may grow by a byte or so.
  const delta = model.length - original.length;
  assert.ok(delta >= 10 && delta <= 24, `size delta ${delta}`);
  assert.ok(sharedBytes(original, model) >= original.length - 512, 'nodes and initializers are copied verbatim');

  const session = await ort.InferenceSession.create(model, sessionOptions);
  try {
    const [input] = session.inputMetadata;
    const [output] = session.outputMetadata;
    assert.ok(input?.isTensor && output?.isTensor);
    assert.deepEqual(input.shape, ['batch', 3, 416, 416]);
    assert.deepEqual(output.shape, ['batch', 3549, 85]);
  } finally {
    await session.release();
  }
});

test('a batch of 4 gives each frame the same output as running it alone', async () => {
  const session = await ort.InferenceSession.create(makeBatchDynamic(original).model, sessionOptions);
  try {
    const frames = [frame(1), frame(2), frame(3), new Float32Array(FRAME).fill(114)];
    const batched = await run(session, frames);
    const rows = 3549 * 85;
    assert.equal(batched.length, 4 * rows);
    for (const [slot, f] of frames.entries()) {
      const alone = await run(session, [f]);
      const diff = maxAbsDiff(alone, batched.subarray(slot * rows, (slot + 1) * rows));
      assert.ok(diff <= 1e-3, `slot ${slot} differs by ${diff}`);
    }
    // The frames really are distinct, so the comparison above could fail.
    assert.ok(maxAbsDiff(batched.subarray(0, rows), batched.subarray(rows, 2 * rows)) > 1e-3);
  } finally {
    await session.release();
  }
});

test('rewriting an already dynamic model changes nothing', () => {
  const once = makeBatchDynamic(original);
  const twice = makeBatchDynamic(once.model);
  assert.equal(twice.changed, false);
  assert.deepEqual([twice.inputs, twice.outputs], [[], []]);
  assert.equal(twice.model, once.model);
});

test('truncated or garbage bytes throw a clear error', () => {
  const clear = /Malformed ONNX model: .*truncated/;
  assert.throws(() => makeBatchDynamic(original.subarray(0, original.length - 1000)), clear);
  assert.throws(() => makeBatchDynamic(original.subarray(0, 100)), /past the end/);
  assert.throws(() => makeBatchDynamic(Uint8Array.of(0x3a, 0x80)), /varint at byte 1 runs past the end/);
  assert.throws(() => makeBatchDynamic(new Uint8Array(0)), /no graph/);
});

// Hand-built protobuf, enough to exercise the rules without the real model.
const bytes = (...parts: (number | Uint8Array)[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));
const len = (no: number, ...body: (number | Uint8Array)[]) => {
  const b = bytes(...body);
  assert.ok(b.length < 128);
  return bytes((no << 3) | 2, b.length, b);
};
const text = (no: number, s: string) => len(no, new TextEncoder().encode(s));
/** ValueInfoProto name + tensor type with the given Dimension messages. */
const valueInfo = (no: number, name: string, ...dims: Uint8Array[]) =>
  len(no, text(1, name), len(2, len(1, bytes(0x08, 1), len(2, ...dims.map((d) => len(1, d))))));

test('only graph inputs/outputs with a fixed dim 0 of 1 are rewritten; initializers listed as inputs and other fields stay', () => {
  const denotation = text(3, 'DATA_BATCH');
  const model = bytes(
    0x08, 7, // ir_version, kept
    len(7,
      len(5, text(8, 'weight'), 0x08, 1), // initializer "weight", also listed as an input below
      valueInfo(11, 'x', bytes(0x08, 1, denotation), bytes(0x08, 8)),
      valueInfo(11, 'weight', bytes(0x08, 1)),
      valueInfo(11, 'scalar'), // rank 0
      valueInfo(12, 'y', bytes(0x08, 4)), // fixed but not 1
      valueInfo(12, 'z', text(2, 'N')), // already symbolic
    ),
  );
  const { model: out, changed, inputs, outputs } = makeBatchDynamic(model);
  assert.equal(changed, true);
  assert.deepEqual(inputs, ['x']);
  assert.deepEqual(outputs, []);
  const expected = bytes(
    0x08, 7,
    len(7,
      len(5, text(8, 'weight'), 0x08, 1),
      valueInfo(11, 'x', bytes(text(2, 'batch'), denotation), bytes(0x08, 8)),
      valueInfo(11, 'weight', bytes(0x08, 1)),
      valueInfo(11, 'scalar'),
      valueInfo(12, 'y', bytes(0x08, 4)),
      valueInfo(12, 'z', text(2, 'N')),
    ),
  );
  assert.deepEqual(out, expected);
});

test('loadBatchableSession proves the rewritten model and reports dynamic', async () => {
  const before = readFileSync(modelPath);
  const { session, batchMode, reason } = await loadBatchableSession(modelPath, { sessionOptions });
  try {
    assert.equal(batchMode, 'dynamic', reason);
    assert.equal((await run(session, [frame(5), frame(6), frame(7)])).length, 3 * 3549 * 85);
  } finally {
    await session.release();
  }
  assert.ok(readFileSync(modelPath).equals(before), 'the file on disk is untouched');
});

/** A tiny float model x[dim0, 4] → y: Identity, or a Reshape to the constant [1, 4] that only works at batch 1. */
function tinyModel(op: 'Identity' | 'Reshape', dim0: Uint8Array): Uint8Array {
  const shapeConst = new Uint8Array(new BigInt64Array([1n, 4n]).buffer);
  const node = op === 'Identity' ? len(1, text(1, 'x'), text(2, 'y'), text(4, op)) : len(1, text(1, 'x'), text(1, 'shape'), text(2, 'y'), text(4, op));
  return bytes(
    0x08, 7, // ir_version 7
    len(8, 0x10, 13), // opset_import: default domain, version 13
    len(7,
      node,
      text(2, 'tiny'),
      ...(op === 'Reshape' ? [len(5, 0x08, 2, 0x10, 7, text(8, 'shape'), len(9, shapeConst))] : []), // int64 [2] initializer
      valueInfo(11, 'x', dim0, bytes(0x08, 4)),
      valueInfo(12, 'y', dim0, bytes(0x08, 4)),
    ),
  );
}

test('loadBatchableSession falls back to fixed-1 when the batch check fails, and leaves symbolic models alone', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'model-batch-'));
  try {
    const cases = [
      { name: 'reshape.onnx', model: tinyModel('Reshape', bytes(0x08, 1)), mode: 'fixed-1' },
      { name: 'identity.onnx', model: tinyModel('Identity', bytes(0x08, 1)), mode: 'dynamic' },
      { name: 'native.onnx', model: tinyModel('Identity', text(2, 'N')), mode: 'native' },
    ] as const;
    for (const c of cases) {
      const file = path.join(dir, c.name);
      writeFileSync(file, c.model);
      const { session, batchMode, reason } = await loadBatchableSession(file, { sessionOptions });
      try {
        assert.equal(batchMode, c.mode, `${c.name}: ${reason}`);
        if (c.mode === 'fixed-1') assert.match(reason ?? '', /batch check failed/);
        const y = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 4]) });
        assert.deepEqual([...(y['y']!.data as Float32Array)], [1, 2, 3, 4]);
      } finally {
        await session.release();
      }
      assert.deepEqual(new Uint8Array(readFileSync(file)), c.model, `${c.name} on disk is untouched`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
