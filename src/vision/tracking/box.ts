/** A box in source-frame pixels, `[x1, y1, x2, y2]` (the detections' layout). */
export type Box = readonly [number, number, number, number];

/** IoU of two `[x1, y1, x2, y2]` boxes; 0 when they do not overlap or one is empty. */
export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * The Kalman filter's measurement of a box: centre x, centre y, aspect ratio (width / height), height. A box with no
 * height is given a tiny one, so that the ratio stays finite.
 */
export function measurementOf(box: Box): [number, number, number, number] {
  const w = Math.max(box[2] - box[0], 0);
  const h = Math.max(box[3] - box[1], 1e-3);
  return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, w / h, h];
}

/** The box of a Kalman state whose first four values are centre x, centre y, aspect ratio, height. */
export function boxOfState(state: ArrayLike<number>): Box {
  const h = state[3]!;
  const w = state[2]! * h;
  const cx = state[0]!;
  const cy = state[1]!;
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}
