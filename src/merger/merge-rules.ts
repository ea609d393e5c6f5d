import type { FrameDetections } from '../shared/contracts/messages.js';

/** Pure merge rules: per-label counts of a chunk, and their sum over a job. */
export function countLabels(frames: readonly FrameDetections[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const frame of frames) {
    for (const d of frame.detections) counts[d.label] = (counts[d.label] ?? 0) + 1;
  }
  return counts;
}

export function sumCounts(parts: Iterable<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const part of parts) {
    for (const [label, n] of Object.entries(part)) total[label] = (total[label] ?? 0) + n;
  }
  return Object.fromEntries(Object.entries(total).sort(([, a], [, b]) => b - a));
}

/** A job is complete when every planned chunk has been merged (merged counts distinct chunks). */
export function isComplete(plan: { chunks: number } | undefined, mergedChunks: number): boolean {
  return plan !== undefined && mergedChunks >= plan.chunks;
}
