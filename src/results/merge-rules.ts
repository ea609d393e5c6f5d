import type { FrameDetections } from '../contracts/messages.js';
import type { Summary } from '../contracts/summary.js';

export { combineSummaries, countsOf, type Summary } from '../contracts/summary.js';

/** Pure merge rules: the per-label summary of a chunk. */
export function summarizeFrames(frames: readonly FrameDetections[]): Summary {
  const summary: Summary = {};
  for (const frame of frames) {
    const perLabel = new Map<string, number>();
    for (const d of frame.detections) perLabel.set(d.label, (perLabel.get(d.label) ?? 0) + 1);
    for (const [label, n] of perLabel) {
      const s = summary[label];
      if (!s) {
        summary[label] = { detections: n, frames: 1, maxPerFrame: n, firstMs: frame.ptsMs, lastMs: frame.ptsMs };
      } else {
        s.detections += n;
        s.frames += 1;
        s.maxPerFrame = Math.max(s.maxPerFrame, n);
        s.firstMs = Math.min(s.firstMs, frame.ptsMs);
        s.lastMs = Math.max(s.lastMs, frame.ptsMs);
      }
    }
  }
  return summary;
}

/** A job is complete when every planned chunk has been merged (merged counts distinct chunks). */
export function isComplete(plan: { chunks: number } | undefined, mergedChunks: number): boolean {
  return plan !== undefined && mergedChunks >= plan.chunks;
}
