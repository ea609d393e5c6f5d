import { boxIou } from '../../src/vision/yolox.js';
import type { Detection } from '../../src/contracts/messages.js';
import type { FrameItem } from './client.js';

/** One frame's detections, as the api, `vdet detect` and the bench see them. */
export interface FrameResult {
  frame: number;
  detections: { label: string; score: number; box: readonly number[] }[];
}

/** How many of `reference`'s boxes `candidate` has (recall) and how many of its own are right (precision): same frame, same label, IoU ≥ 0.5, one to one. */
export function agreement(reference: readonly FrameResult[], candidate: readonly FrameResult[]): { recall: number; precision: number; referenceBoxes: number; candidateBoxes: number } {
  const byFrame = new Map(candidate.map((f) => [f.frame, f.detections]));
  let matched = 0;
  let referenceBoxes = 0;
  let candidateBoxes = 0;
  for (const f of candidate) candidateBoxes += f.detections.length;
  for (const f of reference) {
    referenceBoxes += f.detections.length;
    const unused = [...(byFrame.get(f.frame) ?? [])];
    for (const d of [...f.detections].sort((a, b) => b.score - a.score)) {
      let best = -1;
      let bestIou = 0.5;
      unused.forEach((c, k) => {
        const iou = c.label === d.label ? boxIou(d.box, c.box) : 0;
        if (iou >= bestIou) [best, bestIou] = [k, iou];
      });
      if (best >= 0) {
        unused.splice(best, 1);
        matched++;
      }
    }
  }
  return { recall: referenceBoxes ? matched / referenceBoxes : 1, precision: candidateBoxes ? matched / candidateBoxes : 1, referenceBoxes, candidateBoxes };
}

/**
 * The acceptance rule against the service: same frames, per frame the same labels (as many of each), and each
 * box paired one to one (best IoU first) with a same-label box at IoU ≥ `minIou`.
 */
export function compareToService(ours: readonly FrameItem[], service: readonly FrameItem[], minIou: number) {
  const problems: string[] = [];
  let worstIou = 1;
  let worstScore = 0;
  if (ours.length !== service.length) problems.push(`${ours.length} frames, the service ${service.length}`);
  for (let i = 0; i < Math.min(ours.length, service.length); i++) {
    const a = ours[i]!;
    const b = service[i]!;
    if (a.frame !== b.frame || a.ptsMs !== b.ptsMs) problems.push(`frame ${a.frame} at ${a.ptsMs} ms, the service's ${b.frame} at ${b.ptsMs} ms`);
    const labels = (ds: readonly Detection[]) => ds.map((d) => d.label).sort().join(',');
    if (labels(a.detections) !== labels(b.detections)) {
      problems.push(`frame ${a.frame}: labels ${labels(a.detections)}, the service ${labels(b.detections)}`);
      continue;
    }
    const unused = [...b.detections];
    for (const d of [...a.detections].sort((x, y) => y.score - x.score)) {
      let best = -1;
      let bestIou = -1;
      unused.forEach((c, k) => {
        const iou = c.label === d.label ? boxIou(d.box, c.box) : -1;
        if (iou > bestIou) [best, bestIou] = [k, iou];
      });
      const match = unused.splice(best, 1)[0]!;
      worstIou = Math.min(worstIou, bestIou);
      worstScore = Math.max(worstScore, Math.abs(match.score - d.score));
      if (bestIou < minIou) problems.push(`frame ${a.frame}: ${d.label} ${d.box.join(',')} vs ${match.box.join(',')} IoU ${bestIou.toFixed(4)}`);
    }
  }
  return { problems, worstIou, worstScore };
}
