/**
 * A tiny reader (and field-level editor) of the protobuf wire format, for ONNX ModelProto files: enough to walk the
 * path ModelProto → graph → input/output → type → shape → dim, and the file's metadata_props, without an ONNX library.
 * Unvisited fields are skipped by their length prefix, so a 100 MB model is walked in microseconds and nothing
 * is re-encoded. Used to make a model's batch dim symbolic (detector/model-batch.ts) and to read a model's
 * shapes and metadata ({@link readOnnxFacts}).
 */
// Field numbers from onnx.proto3, on the paths we read or rewrite.
export const MODEL_METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
export const MODEL_GRAPH = 7;
export const GRAPH_INITIALIZER = 5;
export const GRAPH_INPUT = 11;
export const GRAPH_OUTPUT = 12;
export const TENSOR_NAME = 8; // TensorProto.name
export const VALUE_INFO_NAME = 1;
export const VALUE_INFO_TYPE = 2;
export const TYPE_TENSOR_TYPE = 1;
export const TENSOR_TYPE_SHAPE = 2;
export const SHAPE_DIM = 1;
export const DIM_VALUE = 1;
export const DIM_PARAM = 2;

export const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** One field of a message: where its tag starts, where its value starts and ends (offsets into the message bytes). */
export interface Field {
  readonly no: number;
  readonly wire: number;
  readonly start: number;
  /** First byte after the tag (for length-delimited fields: where the length prefix starts). */
  readonly tagEnd: number;
  /** First byte of the value; for length-delimited fields, the first byte after the length prefix. */
  readonly valueStart: number;
  readonly end: number;
  /** The decoded varint, for varint fields (exact up to 2^53, enough to tell a 1 from anything else). */
  readonly varint: number;
}

export function malformed(what: string): Error {
  return new Error(`Malformed ONNX model: ${what}. The file is truncated or is not an ONNX ModelProto.`);
}

export function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) throw malformed(`varint at byte ${pos} runs past the end of its ${buf.length}-byte message`);
    const byte = buf[pos + i]!;
    value += (byte & 0x7f) * scale; // multiply, not shift: lengths may pass 2^31
    scale *= 128;
    if (byte < 0x80) return { value, next: pos + i + 1 };
  }
  throw malformed(`varint at byte ${pos} is longer than 10 bytes`);
}

/** Walks the top-level fields of one message, checking that every field fits inside it. */
export function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const tag = readVarint(buf, pos);
    const no = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (no === 0) throw malformed(`field number 0 at byte ${start}`);
    const tagEnd = tag.next;
    let valueStart = tagEnd;
    let end: number;
    let varint = 0;
    switch (wire) {
      case WIRE_VARINT: {
        const v = readVarint(buf, valueStart);
        varint = v.value;
        end = v.next;
        break;
      }
      case WIRE_FIXED64:
        end = valueStart + 8;
        break;
      case WIRE_FIXED32:
        end = valueStart + 4;
        break;
      case WIRE_LEN: {
        const len = readVarint(buf, valueStart);
        valueStart = len.next;
        end = valueStart + len.value;
        break;
      }
      default:
        throw malformed(`unsupported wire type ${wire} (field ${no}) at byte ${start}`);
    }
    if (end > buf.length) throw malformed(`field ${no} at byte ${start} runs ${end - buf.length} bytes past the end of its ${buf.length}-byte message`);
    yield { no, wire, start, tagEnd, valueStart, end, varint };
    pos = end;
  }
}

export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Uint8Array.from(out);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

export function payload(buf: Uint8Array, f: Field): Uint8Array {
  return buf.subarray(f.valueStart, f.end);
}

/**
 * Rebuilds `msg` with the length-delimited fields numbered `no` replaced by `edit(payload)` where it returns bytes;
 * the original tag bytes are kept and only the length prefix is re-encoded. Returns undefined when nothing changed.
 */
export function editFields(msg: Uint8Array, no: number | readonly number[], edit: (payload: Uint8Array, field: Field) => Uint8Array | undefined): Uint8Array | undefined {
  const numbers = typeof no === 'number' ? [no] : no;
  const parts: Uint8Array[] = [];
  let copied = 0; // msg[copied …) is not in parts yet
  for (const f of fields(msg)) {
    if (f.wire !== WIRE_LEN || !numbers.includes(f.no)) continue;
    const edited = edit(payload(msg, f), f);
    if (!edited) continue;
    parts.push(msg.subarray(copied, f.tagEnd), encodeVarint(edited.length), edited);
    copied = f.end;
  }
  if (parts.length === 0) return undefined;
  parts.push(msg.subarray(copied));
  return concat(parts);
}

const utf8 = new TextDecoder();

/** The last occurrence of a string field (protobuf: last one wins), or undefined. */
export function stringField(msg: Uint8Array, no: number): string | undefined {
  let value: string | undefined;
  for (const f of fields(msg)) {
    if (f.no === no && f.wire === WIRE_LEN) value = utf8.decode(payload(msg, f));
  }
  return value;
}

/** A graph input or output: its name and declared dims (a number, a symbolic name, or undefined when not declared). */
export interface OnnxTensorInfo {
  readonly name: string;
  readonly dims: readonly (number | string | undefined)[];
}

/** What a model file says of itself: its data inputs (initializers left out), outputs, and metadata_props. */
export interface OnnxFacts {
  readonly inputs: readonly OnnxTensorInfo[];
  readonly outputs: readonly OnnxTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
}

function tensorDims(info: Uint8Array): (number | string | undefined)[] {
  const dims: (number | string | undefined)[] = [];
  for (const type of fields(info)) {
    if (type.no !== VALUE_INFO_TYPE || type.wire !== WIRE_LEN) continue;
    for (const tensorType of fields(payload(info, type))) {
      if (tensorType.no !== TYPE_TENSOR_TYPE || tensorType.wire !== WIRE_LEN) continue;
      const tt = payload(payload(info, type), tensorType);
      for (const shape of fields(tt)) {
        if (shape.no !== TENSOR_TYPE_SHAPE || shape.wire !== WIRE_LEN) continue;
        dims.length = 0;
        const shapeBytes = payload(tt, shape);
        for (const dim of fields(shapeBytes)) {
          if (dim.no !== SHAPE_DIM || dim.wire !== WIRE_LEN) continue;
          let value: number | string | undefined;
          const dimBytes = payload(shapeBytes, dim);
          for (const f of fields(dimBytes)) {
            if (f.no === DIM_VALUE && f.wire === WIRE_VARINT) value = f.varint;
            else if (f.no === DIM_PARAM && f.wire === WIRE_LEN) value = utf8.decode(payload(dimBytes, f));
          }
          dims.push(value);
        }
      }
    }
  }
  return dims;
}

/**
 * Reads a model's graph inputs (without the initializers old exporters list there), outputs and metadata_props
 * from the ModelProto bytes alone: no session, no onnxruntime.
 * @throws Error when the bytes are not a well-formed ModelProto along the walked path, or carry no graph.
 */
export function readOnnxFacts(model: Uint8Array): OnnxFacts {
  const metadata: Record<string, string> = {};
  let graph: Uint8Array | undefined;
  for (const f of fields(model)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.no === MODEL_GRAPH) graph = payload(model, f);
    else if (f.no === MODEL_METADATA_PROPS) {
      const entry = payload(model, f);
      const key = stringField(entry, ENTRY_KEY);
      if (key !== undefined) metadata[key] = stringField(entry, ENTRY_VALUE) ?? '';
    }
  }
  if (!graph) throw malformed('no graph (ModelProto field 7)');
  const initializers = new Set<string>();
  const inputs: OnnxTensorInfo[] = [];
  const outputs: OnnxTensorInfo[] = [];
  for (const f of fields(graph)) {
    if (f.no === GRAPH_INITIALIZER && f.wire === WIRE_LEN) {
      const name = stringField(payload(graph, f), TENSOR_NAME);
      if (name !== undefined) initializers.add(name);
    }
  }
  for (const f of fields(graph)) {
    if (f.wire !== WIRE_LEN || (f.no !== GRAPH_INPUT && f.no !== GRAPH_OUTPUT)) continue;
    const info = payload(graph, f);
    const name = stringField(info, VALUE_INFO_NAME) ?? '';
    if (f.no === GRAPH_INPUT && initializers.has(name)) continue;
    (f.no === GRAPH_INPUT ? inputs : outputs).push({ name, dims: tensorDims(info) });
  }
  return { inputs, outputs, metadata };
}
