/** What is known about one label over some frames: enough to answer a job's summary and counts without a scan. */
export interface LabelSummary {
  /** Detections with this label. */
  detections: number;
  /** Frames with at least one. */
  frames: number;
  /** Most in one frame. */
  maxPerFrame: number;
  firstMs: number;
  lastMs: number;
  /** Tracking on: distinct objects (track ids) with this label. */
  objects?: number;
}

/** Per label; written by the merger (per chunk, then per job), read by the api. */
export type Summary = Record<string, LabelSummary>;

/** Combines chunk summaries into a job's, labels ordered by detections, most first. */
export function combineSummaries(parts: Iterable<Summary>): Summary {
  const total: Summary = {};
  for (const part of parts) {
    for (const [label, s] of Object.entries(part)) {
      const t = total[label];
      if (!t) total[label] = withoutObjects(s);
      else {
        t.detections += s.detections;
        t.frames += s.frames;
        t.maxPerFrame = Math.max(t.maxPerFrame, s.maxPerFrame);
        t.firstMs = Math.min(t.firstMs, s.firstMs);
        t.lastMs = Math.max(t.lastMs, s.lastMs);
      }
    }
  }
  return Object.fromEntries(Object.entries(total).sort(([, a], [, b]) => b.detections - a.detections));
}

/** Detections per label, from a summary. */
export function countsOf(summary: Summary): Record<string, number> {
  return Object.fromEntries(Object.entries(summary).map(([label, s]) => [label, s.detections]));
}


/** Objects are distinct track ids, which do not add up across parts: set from the tracks, never summed. */
function withoutObjects(s: LabelSummary): LabelSummary {
  const { objects: _objects, ...rest } = s;
  return rest;
}

/** A summary with each label's distinct objects beside its detections (0 for a label without a track). */
export function withObjects(summary: Summary, objects: Record<string, number>): Summary {
  return Object.fromEntries(Object.entries(summary).map(([label, s]) => [label, { ...s, objects: objects[label] ?? 0 }]));
}
