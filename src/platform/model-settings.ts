/**
 * The names of the model layouts and padding placements an operator may set (VDET_MODEL_FORMAT, VDET_MODEL_PAD, a
 * registered version's settings); what each means, and how `auto` picks one, is src/vision/model-spec.ts's.
 */
export const MODEL_FORMATS = ['yolox', 'ultralytics', 'end2end'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];
export const PAD_PLACEMENTS = ['top-left', 'center'] as const;
export type PadPlacement = (typeof PAD_PLACEMENTS)[number];
