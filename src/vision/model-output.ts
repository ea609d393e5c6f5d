import type { Detection } from '../contracts/messages.js';
import type { ModelSpec } from './model-spec.js';
import { buildAnchorGrid, decodeYolox, suppressAndMap, toDetection, type Candidate, type DecodeOptions, type InputOffset } from './yolox.js';

/**
 * Turns one frame's block of the model's output into detections, for each layout vdet reads (see model-spec.ts).
 * Pure. The output is the whole batch's; `slot` picks the frame.
 */
export type OutputDecoder = (output: Float32Array, dims: readonly number[], slot: number, options: DecodeOptions & InputOffset) => Detection[];

/** The decoder of a model's layout; YOLOX's anchor grid is built here once, never per frame. */
export function outputDecoder(spec: Pick<ModelSpec, 'format' | 'inputWidth' | 'inputHeight' | 'channelsFirst'>): OutputDecoder {
  switch (spec.format) {
    case 'yolox': {
      const grid = buildAnchorGrid(spec.inputWidth, spec.inputHeight);
      return (output, dims, slot, options) => decodeYolox(output, slot * frameFloats(dims), grid, options);
    }
    case 'ultralytics':
      return (output, dims, slot, options) => decodeUltralytics(output, dims, slot, spec.channelsFirst, options);
    case 'end2end':
      return decodeEnd2end;
  }
}

function frameFloats(dims: readonly number[]): number {
  return dims.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * Ultralytics `[B, 4 + C, N]` (or `[B, N, 4 + C]`): `cx, cy, w, h` in input pixels, then each class's score (no
 * objectness). Every class scoring ≥ minScore gives a candidate, then class-aware NMS: the rule YOLOX's reference
 * decode uses, so the same weights in either layout give the same boxes.
 */
export function decodeUltralytics(output: Float32Array, dims: readonly number[], slot: number, channelsFirst: boolean, options: DecodeOptions & InputOffset): Detection[] {
  const rows = channelsFirst ? dims[1]! : dims[2]!; // 4 + C
  const boxes = channelsFirst ? dims[2]! : dims[1]!;
  const base = slot * rows * boxes;
  // Value r of box j is at base + r * rowStep + j * boxStep. Classes outside, boxes inside: channels first (as
  // Ultralytics exports), each class's scores are one contiguous run.
  const rowStep = channelsFirst ? boxes : 1;
  const boxStep = channelsFirst ? 1 : rows;
  const byClass = new Map<number, Candidate[]>();
  for (let c = 0; c < rows - 4; c++) {
    const scores = base + (4 + c) * rowStep;
    for (let j = 0; j < boxes; j++) {
      const score = output[scores + j * boxStep]!;
      if (!(score >= options.minScore) || score <= 0) continue;
      const at = base + j * boxStep;
      const cx = output[at]!;
      const cy = output[at + rowStep]!;
      const w = output[at + 2 * rowStep]!;
      const h = output[at + 3 * rowStep]!;
      const candidate = { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, classId: c, score };
      const list = byClass.get(c);
      if (list) list.push(candidate);
      else byClass.set(c, [candidate]);
    }
  }
  return suppressAndMap(byClass, options);
}

/**
 * End-to-end `[B, N, 6]`: `x1, y1, x2, y2, score, class` a row, NMS already done in the graph. Rows scoring under
 * minScore (and the all-zero rows after the last detection) are left out; best first.
 */
export function decodeEnd2end(output: Float32Array, dims: readonly number[], slot: number, options: DecodeOptions & InputOffset): Detection[] {
  const boxes = dims[1]!;
  const base = slot * boxes * 6;
  const found: Candidate[] = [];
  for (let j = 0; j < boxes; j++) {
    const row = base + j * 6;
    const score = output[row + 4]!;
    if (!(score >= options.minScore) || score <= 0) continue;
    const classId = Math.round(output[row + 5]!);
    if (!(classId >= 0)) continue;
    found.push({ x1: output[row]!, y1: output[row + 1]!, x2: output[row + 2]!, y2: output[row + 3]!, score, classId });
  }
  found.sort((a, b) => b.score - a.score);
  return found.map((d) => toDetection(d, options));
}
