/**
 * Letterbox geometry, shared by whoever resizes frames (processor) and whoever maps boxes back (detector):
 * keep the aspect ratio, fit inside the model's `inputWidth × inputHeight`, pad with grey 114. Where the image sits
 * in the input (top-left or centred) is the model's business (ModelSpec.pad): the frames travel without padding.
 * The resized size truncates like YOLOX's own preprocessing (`int(w * r)`), so boxes line up with its reference.
 */
export interface Letterbox {
  /** Model pixels per source pixel. */
  readonly scale: number;
  /** Size of the resized image inside the input, before padding. */
  readonly width: number;
  readonly height: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
}

export const LETTERBOX_PAD_VALUE = 114;

/** A model's input size, in pixels. */
export interface ModelInput {
  readonly width: number;
  readonly height: number;
}

/** The model input a letterbox fills: a `size × size` square, or `width × height`. */
export type InputSize = number | ModelInput;

export function letterbox(sourceWidth: number, sourceHeight: number, input: InputSize): Letterbox {
  if (!(sourceWidth > 0 && sourceHeight > 0)) throw new RangeError(`bad source size ${sourceWidth}x${sourceHeight}`);
  const inputWidth = typeof input === 'number' ? input : input.width;
  const inputHeight = typeof input === 'number' ? input : input.height;
  const scale = Math.min(inputWidth / sourceWidth, inputHeight / sourceHeight);
  const fit = (v: number, max: number) => Math.max(1, Math.min(max, Math.floor(v * scale + 1e-6)));
  return { scale, width: fit(sourceWidth, inputWidth), height: fit(sourceHeight, inputHeight), inputWidth, inputHeight };
}
