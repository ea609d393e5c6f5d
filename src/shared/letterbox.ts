/**
 * Letterbox geometry, shared by whoever resizes frames (processor) and whoever maps boxes back (detector):
 * keep the aspect ratio, fit inside `size × size`, place top-left, pad right and bottom with grey 114.
 * The resized size truncates like YOLOX's own preprocessing (`int(w * r)`), so boxes line up with its reference.
 */
export interface Letterbox {
  /** Model pixels per source pixel. */
  readonly scale: number;
  /** Size of the resized image inside the square, before padding. */
  readonly width: number;
  readonly height: number;
  readonly size: number;
}

export const LETTERBOX_PAD_VALUE = 114;

export function letterbox(sourceWidth: number, sourceHeight: number, size: number): Letterbox {
  if (!(sourceWidth > 0 && sourceHeight > 0)) throw new RangeError(`bad source size ${sourceWidth}x${sourceHeight}`);
  const scale = Math.min(size / sourceWidth, size / sourceHeight);
  const fit = (v: number) => Math.max(1, Math.min(size, Math.floor(v * scale + 1e-6)));
  return { scale, width: fit(sourceWidth), height: fit(sourceHeight), size };
}
