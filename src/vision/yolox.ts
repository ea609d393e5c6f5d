import type { Detection } from '../contracts/messages.js';

/**
 * YOLOX output decoding, pure: from the model's `[anchors, 5 + classes]` rows to boxes in source-frame pixels.
 * See ../shared/models/MODEL.md. The anchor grid is built once per model ({@link buildAnchorGrid}), never per frame.
 */
/** IoU above which NMS drops the weaker of two same-class boxes (the detector's and `vdet detect`'s). */
export const NMS_IOU = 0.45;

export interface AnchorGrid {
  readonly count: number;
  /** Per anchor: grid x, grid y, stride. */
  readonly gx: Float32Array;
  readonly gy: Float32Array;
  readonly stride: Float32Array;
}

export function buildAnchorGrid(inputWidth: number, inputHeight = inputWidth, strides: readonly number[] = [8, 16, 32]): AnchorGrid {
  const cells = strides.map((s) => [Math.floor(inputWidth / s), Math.floor(inputHeight / s)] as const);
  const count = cells.reduce((sum, [nx, ny]) => sum + nx * ny, 0);
  const gx = new Float32Array(count);
  const gy = new Float32Array(count);
  const stride = new Float32Array(count);
  let i = 0;
  strides.forEach((s, level) => {
    const [nx, ny] = cells[level]!;
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        gx[i] = x;
        gy[i] = y;
        stride[i] = s;
      }
    }
  });
  return { count, gx, gy, stride };
}

/** What one frame's decoding needs besides the model's labels: its own threshold and letterbox. */
export type FrameDecode = Pick<DecodeOptions, 'minScore' | 'scale' | 'sourceWidth' | 'sourceHeight'>;

/** Where the image sat in the model input (its top-left corner, model pixels): subtracted before the ratio. */
export interface InputOffset {
  readonly offsetX?: number;
  readonly offsetY?: number;
}

export interface DecodeOptions {
  readonly minScore: number;
  readonly nmsIou: number;
  /** Letterbox ratio: model pixels per source pixel. */
  readonly scale: number;
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  readonly labels: readonly string[];
}

/** A box in model-input pixels, before the letterbox is undone. */
export interface Candidate {
  classId: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Decodes one frame's rows (`output[offset … offset + anchors × rowLength)`): score = objectness × class score,
 * class-aware NMS, boxes divided by the letterbox ratio and clipped to the source frame, best first.
 */
export function decodeYolox(output: Float32Array, offset: number, grid: AnchorGrid, options: DecodeOptions & InputOffset): Detection[] {
  const classes = options.labels.length;
  const rowLength = 5 + classes;
  const byClass = new Map<number, Candidate[]>();
  for (let a = 0; a < grid.count; a++) {
    const row = offset + a * rowLength;
    const objectness = output[row + 4]!;
    if (objectness < options.minScore) continue;
    let box: Candidate | undefined;
    for (let c = 0; c < classes; c++) {
      const score = objectness * output[row + 5 + c]!;
      if (score < options.minScore) continue;
      if (!box) {
        const s = grid.stride[a]!;
        const cx = (output[row]! + grid.gx[a]!) * s;
        const cy = (output[row + 1]! + grid.gy[a]!) * s;
        const w = Math.exp(output[row + 2]!) * s;
        const h = Math.exp(output[row + 3]!) * s;
        box = { classId: c, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
      }
      const candidate = { ...box, classId: c, score };
      const list = byClass.get(c);
      if (list) list.push(candidate);
      else byClass.set(c, [candidate]);
    }
  }
  return suppressAndMap(byClass, options);
}

/** Class-aware NMS over each class's candidates, best first, mapped back to source pixels. */
export function suppressAndMap(byClass: ReadonlyMap<number, Candidate[]>, options: DecodeOptions & InputOffset): Detection[] {
  const kept: Candidate[] = [];
  for (const list of byClass.values()) kept.push(...nonMaximumSuppression(list, options.nmsIou));
  kept.sort((a, b) => b.score - a.score);
  return kept.map((d) => toDetection(d, options));
}

/** A model-input box as a detection: image offset subtracted, divided by the letterbox ratio, clipped to the source. */
export function toDetection(d: Candidate, o: DecodeOptions & InputOffset): Detection {
  const clip = (v: number, offset: number, max: number) => Math.round(Math.min(Math.max((v - offset) / o.scale, 0), max) * 10) / 10;
  const ox = o.offsetX ?? 0;
  const oy = o.offsetY ?? 0;
  return {
    label: o.labels[d.classId] ?? String(d.classId),
    classId: d.classId,
    score: Math.round(d.score * 10_000) / 10_000,
    box: [clip(d.x1, ox, o.sourceWidth), clip(d.y1, oy, o.sourceHeight), clip(d.x2, ox, o.sourceWidth), clip(d.y2, oy, o.sourceHeight)],
  };
}

/** Greedy NMS over one class's candidates. */
export function nonMaximumSuppression<T extends { score: number; x1: number; y1: number; x2: number; y2: number }>(
  candidates: T[],
  iouThreshold: number,
): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const c of sorted) {
    if (kept.every((k) => iou(k, c) <= iouThreshold)) kept.push(c);
  }
  return kept;
}

export function iou(a: { x1: number; y1: number; x2: number; y2: number }, b: { x1: number; y1: number; x2: number; y2: number }): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** IoU of two `[x1, y1, x2, y2]` boxes. */
export function boxIou(a: readonly number[], b: readonly number[]): number {
  return iou({ x1: a[0]!, y1: a[1]!, x2: a[2]!, y2: a[3]! }, { x1: b[0]!, y1: b[1]!, x2: b[2]!, y2: b[3]! });
}
