import { LETTERBOX_PAD_VALUE } from '../shared/letterbox.js';

/**
 * How a frame's bytes are laid out when they are not a whole `width × height` BGR picture: only the letterboxed
 * image (`width × height` of this layout, the top-left of the model input) in `order`; the rest is padding the
 * tensor fill adds. Live-stream frames travel this way: 44 % fewer bytes for a 16:9 picture, and no padding or
 * channel swap in the processor.
 */
export interface FrameLayout {
  width: number;
  height: number;
  order: 'bgr' | 'rgb';
}

/**
 * Packs a letterboxed frame (HWC, 8-bit, as the processor sends it) into one slot of a float32 NCHW input tensor in
 * a single pass. The model wants BGR 0–255 (no normalisation): BGR bytes keep their order, RGB bytes are swapped on
 * the way, and a compact frame (see {@link FrameLayout}) gets the letterbox's grey around it here.
 */
export function writeFrameToTensor(
  pixels: Uint8Array, tensor: Float32Array, slot: number, width: number, height: number, layout?: FrameLayout,
): void {
  const plane = width * height;
  const w = layout?.width ?? width;
  const h = layout?.height ?? height;
  if (w > width || h > height || w < 1 || h < 1) throw new RangeError(`a ${w}x${h} image does not fit a ${width}x${height} frame`);
  if (pixels.length !== w * h * 3) throw new RangeError(`frame has ${pixels.length} bytes, expected ${w * h * 3}`);
  const base = slot * plane * 3;
  if (base + plane * 3 > tensor.length) throw new RangeError(`slot ${slot} is outside the tensor`);
  const rgb = layout?.order === 'rgb';
  const first = rgb ? base + 2 * plane : base; // the plane of each pixel's first byte
  const second = base + plane;
  const third = rgb ? base : base + 2 * plane;
  if (w === width && h === height) {
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      tensor[first + i] = pixels[p]!;
      tensor[second + i] = pixels[p + 1]!;
      tensor[third + i] = pixels[p + 2]!;
    }
    return;
  }
  for (let y = 0, p = 0; y < h; y++) {
    const row = y * width;
    for (let x = 0; x < w; x++, p += 3) {
      tensor[first + row + x] = pixels[p]!;
      tensor[second + row + x] = pixels[p + 1]!;
      tensor[third + row + x] = pixels[p + 2]!;
    }
    for (const start of [first, second, third]) tensor.fill(LETTERBOX_PAD_VALUE, start + row + w, start + row + width);
  }
  for (const start of [first, second, third]) tensor.fill(LETTERBOX_PAD_VALUE, start + h * width, start + plane);
}

/** Bytes of one frame as it travels: its layout's image, or the whole frame. */
export function layoutBytes(width: number, height: number, layout?: FrameLayout): number {
  return (layout?.width ?? width) * (layout?.height ?? height) * 3;
}
