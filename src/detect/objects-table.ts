import type { Summary } from '../contracts/summary.js';
import { alignedTable, summaryTable } from '../results/summary-table.js';

/** Per label, the distinct objects tracked (confirmed track ids). */
export type ObjectCounts = Record<string, number>;

/** Each file has its own tracker, so its objects are its own: the counts of several files add up. */
export function combineObjectCounts(parts: Iterable<ObjectCounts>): ObjectCounts {
  const total: ObjectCounts = {};
  for (const part of parts) for (const [label, n] of Object.entries(part)) total[label] = (total[label] ?? 0) + n;
  return total;
}

/**
 * `vdet detect`'s table: the summary's, with an `objects` column after the label when the run tracked objects
 * (undefined: untracked, the summary's table as it is).
 */
export function detectTable(summary: Summary, objects: ObjectCounts | undefined): string {
  if (!objects) return summaryTable(summary);
  const rows = Object.entries(summary).map(([label, s]) => [
    label, String(objects[label] ?? 0), String(s.detections), String(s.frames), String(s.maxPerFrame), (s.firstMs / 1000).toFixed(2), (s.lastMs / 1000).toFixed(2),
  ]);
  if (rows.length === 0) return 'no detections';
  return alignedTable(['label', 'objects', 'detections', 'frames', 'max/frame', 'first s', 'last s'], rows, 1);
}
