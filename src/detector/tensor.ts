/**
 * Packs a letterboxed frame (HWC, 8-bit BGR, as the processor sends it) into one slot of a float32 NCHW input
 * tensor in a single pass. The model wants BGR 0–255 (no normalisation), so the channel order is kept.
 */
export function writeFrameToTensor(pixels: Uint8Array, tensor: Float32Array, slot: number, width: number, height: number): void {
  const plane = width * height;
  if (pixels.length !== plane * 3) throw new RangeError(`frame has ${pixels.length} bytes, expected ${plane * 3}`);
  const base = slot * plane * 3;
  if (base + plane * 3 > tensor.length) throw new RangeError(`slot ${slot} is outside the tensor`);
  const b = base;
  const g = base + plane;
  const r = base + 2 * plane;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    tensor[b + i] = pixels[p]!;
    tensor[g + i] = pixels[p + 1]!;
    tensor[r + i] = pixels[p + 2]!;
  }
}
