import { readFileSync } from 'node:fs';
import type { Detection } from '../../src/contracts/messages.js';
import { boxIou } from '../../src/vision/yolox.js';
import { referencePath } from './paths.js';

export interface ImageReference { width: number; height: number; detections: Detection[] }
export interface VideoReference { width: number; height: number; fps: number; frames: { frame: number; detections: Detection[] }[] }

export function loadReference<T = ImageReference>(name: string): T {
  return JSON.parse(readFileSync(referencePath(name), 'utf8')) as T;
}

/** The best same-label match of `box` among `candidates`, by IoU. */
export function bestMatch(target: Detection, candidates: readonly Detection[]): { iou: number; match?: Detection } {
  let best: { iou: number; match?: Detection } = { iou: 0 };
  for (const c of candidates) {
    if (c.label !== target.label) continue;
    const iou = boxIou(target.box, c.box);
    if (iou > best.iou) best = { iou, match: c };
  }
  return best;
}

/**
 * The acceptance rule for one image: every reference box scoring ≥ 0.5 is found (same label, IoU ≥ 0.85, score
 * within 0.08), and every box we score ≥ 0.6 matches a reference box. Returns the problems, empty when it passes.
 */
export function compareToReference(ours: readonly Detection[], reference: readonly Detection[]): string[] {
  const problems: string[] = [];
  for (const ref of reference.filter((d) => d.score >= 0.5)) {
    const { iou, match } = bestMatch(ref, ours);
    if (!match || iou < 0.85) problems.push(`missed ${ref.label} ${ref.score} ${ref.box.join(',')} (best IoU ${iou.toFixed(3)})`);
    else if (Math.abs(match.score - ref.score) > 0.08) problems.push(`${ref.label} score ${match.score} vs reference ${ref.score}`);
  }
  for (const d of ours.filter((x) => x.score >= 0.6)) {
    const { iou } = bestMatch(d, reference);
    if (iou < 0.85) problems.push(`extra ${d.label} ${d.score} ${d.box.join(',')} (best IoU ${iou.toFixed(3)})`);
  }
  return problems;
}
