import type { Detection } from '../contracts/messages.js';
import type { Roi } from '../contracts/job-options.js';
import { insidePolygon } from './zones.js';

/** The per-job filters applied after decoding: labels, region of interest, and a cap per frame. */
export interface DetectionFilter {
  classes?: string[] | undefined;
  maxDetections?: number | undefined;
  roi?: Roi | undefined;
}

/** Keeps the detections a job asked for; `detections` are best-first, so the cap keeps the best. */
export function applyDetectionFilter(detections: Detection[], filter: DetectionFilter | undefined, width: number, height: number): Detection[] {
  if (!filter) return detections;
  let kept = detections;
  if (filter.classes) {
    const wanted = new Set(filter.classes);
    kept = kept.filter((d) => wanted.has(d.label));
  }
  if (filter.roi) {
    const roi = filter.roi;
    kept = kept.filter((d) => {
      const cx = (d.box[0] + d.box[2]) / 2 / width;
      const cy = (d.box[1] + d.box[3]) / 2 / height;
      return 'rect' in roi
        ? cx >= roi.rect[0] && cx <= roi.rect[2] && cy >= roi.rect[1] && cy <= roi.rect[3]
        : insidePolygon([cx, cy], roi.polygon);
    });
  }
  if (filter.maxDetections !== undefined) kept = kept.slice(0, filter.maxDetections);
  return kept;
}

/**
 * A frame's detections decoded down to the tracker's threshold, split: `detections`, scoring at least `minScore`, get
 * the job's filters exactly as without tracking (the cap counts only them); `trackOnly`, below minScore, only the
 * label and region filters and a cap of their own, for the tracker alone. NMS keeps a box by stronger boxes only, so
 * decoding further down changes none of the boxes at minScore and up.
 */
export function splitForTracking(
  decoded: Detection[], filter: DetectionFilter | undefined, width: number, height: number, minScore: number,
): { detections: Detection[]; trackOnly: Detection[] } {
  const stored: Detection[] = [];
  const below: Detection[] = [];
  for (const d of decoded) (d.score >= minScore ? stored : below).push(d);
  return { detections: applyDetectionFilter(stored, filter, width, height), trackOnly: applyDetectionFilter(below, filter, width, height) };
}
