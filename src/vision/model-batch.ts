import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import {
  DIM_PARAM, DIM_VALUE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT, MODEL_GRAPH, SHAPE_DIM, TENSOR_NAME, TENSOR_TYPE_SHAPE,
  TYPE_TENSOR_TYPE, VALUE_INFO_NAME, VALUE_INFO_TYPE, WIRE_LEN, WIRE_VARINT, concat, editFields, encodeVarint, fields, malformed, payload,
  stringField, type Field,
} from './onnx-proto.js';

/**
 * Batching for models exported with a fixed batch of 1.
 *
 * Many ONNX exports (YOLOX among them) declare their input as `[1, 3, H, W]` although the graph derives every reshape
 * from the input's runtime shape. onnxruntime enforces declared dimensions, so such a model refuses a batch of 8 —
 * unless dim 0 of its inputs and outputs is declared symbolic. {@link makeBatchDynamic} does exactly that edit, in
 * memory, and {@link loadBatchableSession} proves on a test frame that the edited model still gives the same per-frame
 * results before anyone relies on it; the user's file is never written.
 *
 * The edit is done with a tiny protobuf wire-format walker instead of an ONNX library: only the handful of messages on
 * the path ModelProto.graph → input/output → type → tensor_type → shape → dim[0] are rebuilt (with new length
 * prefixes); every other field — initializers, nodes, metadata — is copied as the original raw bytes, so nothing is
 * re-encoded, reordered or lost, and there is no dependency to keep in step with the ONNX schema.
 */

/** The symbolic name written into dim 0. */
const BATCH_PARAM = 'batch';


/** Dimension → dim_param "batch" when its value is the fixed `dim_value: 1` (last of the oneof wins); else undefined. */
function editDimension(dim: Uint8Array): Uint8Array | undefined {
  let chosen: Field | undefined;
  for (const f of fields(dim)) if (f.no === DIM_VALUE || f.no === DIM_PARAM) chosen = f;
  if (!chosen || chosen.no !== DIM_VALUE || chosen.wire !== WIRE_VARINT || chosen.varint !== 1) return undefined;
  const param = new TextEncoder().encode(BATCH_PARAM);
  const parts: Uint8Array[] = [];
  for (const f of fields(dim)) {
    if (f.start === chosen.start) parts.push(Uint8Array.of((DIM_PARAM << 3) | WIRE_LEN), encodeVarint(param.length), param);
    else if (f.no !== DIM_VALUE && f.no !== DIM_PARAM) parts.push(dim.subarray(f.start, f.end)); // e.g. denotation
  }
  return concat(parts);
}

/** TensorShapeProto → same with its first dim edited (rank ≥ 1 by construction: no dim, no edit). */
function editShape(shape: Uint8Array): Uint8Array | undefined {
  let first = true;
  return editFields(shape, SHAPE_DIM, (dim) => {
    if (!first) return undefined;
    first = false;
    return editDimension(dim);
  });
}

/** ValueInfoProto → same with dim 0 of its tensor type made symbolic, when that dim is a fixed 1. */
function editValueInfo(info: Uint8Array): Uint8Array | undefined {
  return editFields(info, VALUE_INFO_TYPE, (type) =>
    editFields(type, TYPE_TENSOR_TYPE, (tensorType) => editFields(tensorType, TENSOR_TYPE_SHAPE, editShape)));
}

/**
 * Rewrites an ONNX ModelProto so that dim 0 of every graph input and output declared as the fixed `dim_value: 1`
 * becomes `dim_param: "batch"`, letting onnxruntime accept any batch size.
 *
 * Only the messages on the path to those dims are rebuilt; every other byte is copied verbatim, so the result differs
 * from the input by a few bytes per edited tensor. Graph inputs that are also initializers (old exporters list
 * weights there) are left alone: they are constants, not batched data. The bytes are only rewritten, never validated
 * as a model: whether the graph really is batch-agnostic is for the caller to check (see {@link loadBatchableSession}).
 *
 * @returns the new bytes (the input itself when nothing changed), whether anything changed, and the names of the
 *   inputs and outputs that were edited.
 * @throws Error when the bytes are not a well-formed protobuf along the walked path (truncated varint, a length past
 *   the end, an unknown wire type) or carry no graph.
 */
export function makeBatchDynamic(model: Uint8Array): { model: Uint8Array; changed: boolean; inputs: string[]; outputs: string[] } {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let sawGraph = false;
  const rewritten = editFields(model, MODEL_GRAPH, (graph) => {
    sawGraph = true;
    const initializers = new Set<string>();
    for (const f of fields(graph)) {
      if (f.no === GRAPH_INITIALIZER && f.wire === WIRE_LEN) {
        const name = stringField(payload(graph, f), TENSOR_NAME);
        if (name !== undefined) initializers.add(name);
      }
    }
    return editFields(graph, [GRAPH_INPUT, GRAPH_OUTPUT], (info, f) => {
      const name = stringField(info, VALUE_INFO_NAME) ?? '';
      if (f.no === GRAPH_INPUT && initializers.has(name)) return undefined;
      const edited = editValueInfo(info);
      if (edited) (f.no === GRAPH_INPUT ? inputs : outputs).push(name);
      return edited;
    });
  });
  if (!sawGraph) throw malformed('no graph (ModelProto field 7)');
  return rewritten ? { model: rewritten, changed: true, inputs, outputs } : { model, changed: false, inputs, outputs };
}

export type BatchMode = 'dynamic' | 'fixed-1' | 'native';

/**
 * Creates an onnxruntime session that accepts batches when the model allows it.
 *
 * - `native`: the model file already declares a symbolic batch dim; it is loaded as is.
 * - `dynamic`: the batch dim was fixed at 1; the in-memory rewrite of {@link makeBatchDynamic} loaded, and a check
 *   run on the session's own device gave the same output for one frame alone and the same frame inside a batch of 2.
 * - `fixed-1`: the rewrite or that check failed (exception or mismatch); the original file is loaded and the caller
 *   must run one frame at a time. `reason` says why.
 *
 * The rewritten model is loaded from memory, so a model whose weights live in external data files cannot be made
 * dynamic (its session creation fails) and falls back to `fixed-1`. The file on disk is never modified.
 */
export async function loadBatchableSession(
  modelPath: string,
  opts: { sessionOptions?: ort.InferenceSession.SessionOptions } = {},
): Promise<{ session: ort.InferenceSession; batchMode: BatchMode; reason?: string }> {
  const options = opts.sessionOptions ?? {};
  const original = new Uint8Array(await readFile(modelPath));
  let reason: string;
  try {
    const { model, changed } = makeBatchDynamic(original);
    if (!changed) {
      // Nothing fixed at 1: either already symbolic (native) or a shape we do not touch.
      const session = await ort.InferenceSession.create(modelPath, options);
      const dim0 = tensorShape(session.inputMetadata[0])?.[0];
      if (typeof dim0 === 'string') return { session, batchMode: 'native' };
      return { session, batchMode: 'fixed-1', reason: `input batch dim is ${String(dim0)}, neither a fixed 1 nor symbolic` };
    }
    const session = await ort.InferenceSession.create(model, options);
    try {
      const mismatch = await checkBatchConsistency(session);
      if (mismatch === undefined) return { session, batchMode: 'dynamic' };
      reason = mismatch;
    } catch (error) {
      reason = `batch check failed: ${errorMessage(error)}`;
    }
    await session.release();
  } catch (error) {
    reason = `batch rewrite failed: ${errorMessage(error)}`;
  }
  const session = await ort.InferenceSession.create(modelPath, options);
  return { session, batchMode: 'fixed-1', reason };
}

function tensorShape(meta: ort.InferenceSession.ValueMetadata | undefined): ReadonlyArray<number | string> | undefined {
  return meta?.isTensor ? meta.shape : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Deterministic pseudo-random frame of integer pixel values 0..255 (mulberry32), like a real 0–255 input. */
function testFrame(floats: number, seed: number): Float32Array {
  const frame = new Float32Array(floats);
  let state = seed >>> 0;
  for (let i = 0; i < floats; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    frame[i] = ((t ^ (t >>> 14)) >>> 0) % 256;
  }
  return frame;
}

/**
 * Runs frame A alone (batch 1) and as slot 1 of a batch of 2 (slot 0: frame B) and compares A's output block.
 * @returns undefined when they agree within 1e-3 relative to the block's largest magnitude, else what differed.
 */
async function checkBatchConsistency(session: ort.InferenceSession): Promise<string | undefined> {
  const shape = tensorShape(session.inputMetadata[0]);
  const frameShape = shape?.slice(1);
  if (!frameShape || frameShape.length === 0 || !frameShape.every((d): d is number => typeof d === 'number' && d > 0)) {
    return `cannot build a test frame for input shape [${shape?.join(', ') ?? 'unknown'}]`;
  }
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const floats = frameShape.reduce((a, b) => a * b, 1);
  const frameA = testFrame(floats, 1);
  const pair = new Float32Array(2 * floats);
  pair.set(testFrame(floats, 2), 0);
  pair.set(frameA, floats);

  const alone = (await session.run({ [inputName]: new ort.Tensor('float32', frameA, [1, ...frameShape]) }))[outputName];
  const batched = (await session.run({ [inputName]: new ort.Tensor('float32', pair, [2, ...frameShape]) }))[outputName];
  if (!alone || !batched) return `output ${outputName} missing`;
  const a = alone.data as Float32Array;
  const b = batched.data as Float32Array;
  if (batched.dims[0] !== 2 || b.length !== 2 * a.length) {
    return `a batch of 2 gave output dims [${batched.dims.join(', ')}] for [${alone.dims.join(', ')}] at batch 1`;
  }
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
    const diff = Math.abs(a[i]! - b[a.length + i]!);
    maxDiff = Math.max(maxDiff, diff); // NaN sticks, and fails the check below
  }
  const tolerance = 1e-3 * Math.max(1, maxAbs);
  if (!(maxDiff <= tolerance)) {
    return `a frame in slot 1 of a batch of 2 differs from the same frame alone by ${maxDiff} (tolerance ${tolerance})`;
  }
  return undefined;
}
