import { VdetError } from '../platform/errors.js';
import type { ModelFormat, PadPlacement } from '../platform/model-settings.js';
import { COCO80_LABELS } from './labels.js';
import type { OnnxFacts } from './onnx-proto.js';

/**
 * What vdet needs to know of a detection model to feed it and read it, found from the file itself (its input and
 * output shapes, and the metadata Ultralytics writes) or set by the operator. Pure: the facts come from
 * readOnnxFacts (onnx-proto.ts), the settings from the config or the model registry.
 *
 * Output layouts:
 * - `yolox`: `[B, anchors, 5 + C]`, rows `dx, dy, log_w, log_h, objectness, C class scores` on the stride 8/16/32
 *   grid (YOLOX's own export, `decode_in_inference=False`). Input BGR 0–255.
 * - `ultralytics`: `[B, 4 + C, N]` (YOLOv8 / YOLO11 `export(format='onnx')`): `cx, cy, w, h` in input pixels, then
 *   C class scores, no objectness; the transposed `[B, N, 4 + C]` is read too. Input RGB 0–1.
 * - `end2end`: `[B, N, 6]` (YOLOv10, YOLO26, any `nms=True` export): `x1, y1, x2, y2, score, class`, NMS done in the
 *   graph. Input RGB 0–1.
 */

export interface ModelSettings {
  readonly format: ModelFormat | 'auto';
  readonly pad: PadPlacement | 'auto';
  /** From a labels file: wins over the file's `names`. */
  readonly labels?: readonly string[] | undefined;
  /** The input size when the file declares neither its height and width nor `imgsz` (a fully dynamic input). */
  readonly fallbackInputSize?: number | undefined;
}

export interface ModelSpec {
  readonly format: ModelFormat;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** Channel order of the input tensor's planes. */
  readonly channels: 'bgr' | 'rgb';
  /** Tensor value per 8-bit pixel value: 1 (0–255) or 1/255 (0–1). */
  readonly pixelScale: number;
  /** Where the letterboxed image sits inside the input (pad value 114 around it). */
  readonly pad: PadPlacement;
  /** Class names in class-id order; a class without one is reported by its id. */
  readonly labels: readonly string[];
  /** Classes the output scores (yolox, ultralytics); undefined for end2end (the class is a value). */
  readonly classes: number | undefined;
  /** ultralytics only: true when the output is `[B, 4 + C, N]` (channels first, as Ultralytics exports). */
  readonly channelsFirst: boolean;
}

type Dim = number | string | undefined;

function invalid(message: string): VdetError {
  return new VdetError('VDET_MODEL_INVALID', message);
}

function shapeText(dims: readonly Dim[]): string {
  return `[${dims.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]`;
}

/** Anchor points of YOLOX's stride 8/16/32 grid for an input of `width × height`. */
export function yoloxAnchorCount(width: number, height: number, strides: readonly number[] = [8, 16, 32]): number {
  return strides.reduce((sum, s) => sum + Math.floor(width / s) * Math.floor(height / s), 0);
}

/**
 * Ultralytics' `names` metadata, a Python dict literal (`{0: 'person', 1: "it's"}`), as labels in id order.
 * @returns undefined when the text is not such a dict with ids 0…n-1.
 */
export function parseNamesLiteral(text: string): string[] | undefined {
  const entries = [...text.matchAll(/(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)];
  if (entries.length === 0) return undefined;
  const labels: string[] = [];
  for (const [, id, single, double] of entries) labels[Number(id)] = (single ?? double ?? '').replace(/\\(.)/g, '$1');
  for (let i = 0; i < labels.length; i++) if (labels[i] === undefined) return undefined;
  return labels;
}

/** `imgsz` metadata (`[640, 640]`, `[480, 640]` as height, width, or `640`). */
function parseImgsz(text: string | undefined): { height: number; width: number } | undefined {
  const numbers = (text ?? '').match(/\d+/g)?.map(Number) ?? [];
  if (numbers.length === 1) return { height: numbers[0]!, width: numbers[0]! };
  if (numbers.length === 2) return { height: numbers[0]!, width: numbers[1]! };
  return undefined;
}

function inputGeometry(facts: OnnxFacts, settings: ModelSettings): { name: string; width: number; height: number } {
  const input = facts.inputs[0];
  if (!input) throw invalid('The model has no input.');
  if (facts.inputs.length > 1) throw invalid(`The model has ${facts.inputs.length} inputs (${facts.inputs.map((i) => i.name).join(', ')}); vdet feeds one image input.`);
  const [, channels, h, w] = input.dims;
  if (input.dims.length !== 4 || (typeof channels === 'number' && channels !== 3)) {
    throw invalid(`The model's input ${input.name} has shape ${shapeText(input.dims)}; vdet feeds [batch, 3, height, width] images (NCHW).`);
  }
  const declared = typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? { height: h, width: w } : undefined;
  const size = declared ?? parseImgsz(facts.metadata['imgsz'])
    ?? (settings.fallbackInputSize ? { height: settings.fallbackInputSize, width: settings.fallbackInputSize } : undefined);
  if (!size) throw invalid(`The model's input ${input.name} has shape ${shapeText(input.dims)} and no imgsz metadata: set VDET_MODEL_INPUT_SIZE.`);
  if (size.width < 32 || size.height < 32 || size.width > 4096 || size.height > 4096) throw invalid(`The model's input is ${size.width}x${size.height}; vdet runs inputs of 32 to 4096 pixels a side.`);
  return { name: input.name, ...size };
}

const LAYOUTS_TEXT = 'vdet reads [batch, anchors, 5 + classes] (yolox), [batch, 4 + classes, boxes] (ultralytics) and [batch, boxes, 6] (end2end)';

/** The output layout, from the settings or from the shapes and metadata. */
function chooseFormat(requested: ModelSettings['format'], dims: readonly Dim[], metadata: OnnxFacts['metadata'], names: number | undefined, anchors: number): ModelFormat {
  if (requested !== 'auto') return requested;
  const [, d1, d2] = dims;
  if (metadata['end2end']?.toLowerCase() === 'true') return 'end2end';
  const written = metadata['names'] !== undefined || metadata['task'] !== undefined; // by Ultralytics' exporter
  if (!written && d1 === anchors && typeof d2 === 'number' && d2 > 5) return 'yolox';
  if (d2 === 6 && d1 !== 6 && (names === undefined || names + 4 !== 6)) return 'end2end';
  if (names !== undefined && (d1 === names + 4 || d2 === names + 4)) return 'ultralytics';
  if (typeof d1 === 'number' && d1 > 4 && (typeof d2 !== 'number' || d1 < d2)) return 'ultralytics';
  throw invalid(`The model's output has shape ${shapeText(dims)}, which is no layout vdet knows: ${LAYOUTS_TEXT}. Set VDET_MODEL_FORMAT if the file is one of them.`);
}

/** Checks the output shape against the layout; returns the class count it scores and, for ultralytics, its orientation. */
function classesOf(format: ModelFormat, dims: readonly Dim[], names: number | undefined): { classes: number | undefined; channelsFirst: boolean } {
  const [, d1, d2] = dims;
  const wrong = () => invalid(`The model's output has shape ${shapeText(dims)}, not the ${format} layout: ${LAYOUTS_TEXT}.`);
  if (format === 'end2end') {
    if (d2 !== 6) throw wrong();
    return { classes: undefined, channelsFirst: false };
  }
  if (format === 'yolox') {
    if (typeof d2 !== 'number' || d2 < 6) throw wrong();
    return { classes: d2 - 5, channelsFirst: false };
  }
  // ultralytics: the class rows are the short side unless the names say otherwise
  const byNames = names !== undefined && (d1 === names + 4 || d2 === names + 4) ? d1 === names + 4 : undefined;
  const first = byNames ?? (typeof d1 === 'number' && d1 > 4 && (typeof d2 !== 'number' || d1 < d2));
  const rows = first ? d1 : d2;
  if (typeof rows !== 'number' || rows < 5) throw wrong();
  return { classes: rows - 4, channelsFirst: first };
}

/**
 * Describes a model from what its file says and the operator's settings.
 * @throws VdetError VDET_MODEL_INVALID, naming the shape it found, when vdet cannot feed or read the model.
 */
export function describeModel(facts: OnnxFacts, settings: ModelSettings): ModelSpec {
  const input = inputGeometry(facts, settings);
  const output = facts.outputs[0];
  if (!output) throw invalid('The model has no output.');
  if (output.dims.length !== 3) throw invalid(`The model's output ${output.name} has shape ${shapeText(output.dims)}: ${LAYOUTS_TEXT}.`);
  const named = facts.metadata['names'] !== undefined ? parseNamesLiteral(facts.metadata['names']) : undefined;
  const given = settings.labels ?? named;
  const anchors = yoloxAnchorCount(input.width, input.height);
  const format = chooseFormat(settings.format, output.dims, facts.metadata, given?.length, anchors);
  const { classes, channelsFirst } = classesOf(format, output.dims, given?.length);
  if (format === 'yolox' && typeof output.dims[1] === 'number' && output.dims[1] !== anchors) {
    throw invalid(`The model's output has shape ${shapeText(output.dims)}, ${output.dims[1]} anchor rows; a ${input.width}x${input.height} YOLOX input has ${anchors} (strides 8, 16, 32).`);
  }
  const labels = given ?? (format === 'yolox' && classes === COCO80_LABELS.length ? COCO80_LABELS : []);
  if (classes !== undefined && labels.length > 0 && labels.length !== classes) {
    throw invalid(`The model scores ${classes} classes but ${settings.labels ? 'the labels file' : "the file's names"} ${labels.length === 1 ? 'has 1 name' : `has ${labels.length} names`}.`);
  }
  const rgb01 = format !== 'yolox';
  return {
    format,
    inputName: input.name,
    outputName: output.name,
    inputWidth: input.width,
    inputHeight: input.height,
    channels: rgb01 ? 'rgb' : 'bgr',
    pixelScale: rgb01 ? 1 / 255 : 1,
    pad: settings.pad !== 'auto' ? settings.pad : format === 'yolox' ? 'top-left' : 'center',
    labels: Object.freeze([...labels]),
    classes,
    channelsFirst,
  };
}

/** Where a `width × height` letterboxed image sits inside the model input: Ultralytics' rounding for `center`. */
export function padOffsets(spec: Pick<ModelSpec, 'pad' | 'inputWidth' | 'inputHeight'>, width: number, height: number): { x: number; y: number } {
  if (spec.pad === 'top-left') return { x: 0, y: 0 };
  return { x: Math.max(0, Math.round((spec.inputWidth - width) / 2 - 0.1)), y: Math.max(0, Math.round((spec.inputHeight - height) / 2 - 0.1)) };
}
