import { boxIou } from '../../src/detector/yolox.js';

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
