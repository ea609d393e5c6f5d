import type { Summary } from '../contracts/summary.js';

/** Detections per label as an aligned table, most first (`vdet detect`, `vdet submit --wait`). */
export function summaryTable(summary: Summary): string {
  const rows = Object.entries(summary).map(([label, s]) => [
    label, String(s.detections), String(s.frames), String(s.maxPerFrame), (s.firstMs / 1000).toFixed(2), (s.lastMs / 1000).toFixed(2),
  ]);
  if (rows.length === 0) return 'no detections';
  const header = ['label', 'detections', 'frames', 'max/frame', 'first s', 'last s'];
  return alignedTable(header, rows, 1);
}

/** Rows under a header, columns padded; the first `leftColumns` columns align left, the rest right. */
export function alignedTable(header: readonly string[], rows: readonly (readonly string[])[], leftColumns: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [format(header), ...rows.map(format)].join('\n');
}
