import path from 'node:path';

/** ../shared beside the checkout: the model, test media and reference detections (never committed). */
export const SHARED = path.resolve(process.env['VDET_SHARED'] ?? '../shared');
export const MODEL_PATH = path.join(SHARED, 'models/yolox_nano.onnx');
export const TOUR_VIDEO = path.join(SHARED, 'media/videos/tour-640x360.mp4');
export const imagePath = (name: string) => path.join(SHARED, 'media/images', `${name}.jpg`);
export const referencePath = (name: string) => path.join(SHARED, 'reference', `${name}.json`);
/** The same YOLOX-nano weights in the Ultralytics and the end-to-end export layouts (MODEL.md). */
export const ULTRALYTICS_MODEL_PATH = path.join(SHARED, 'models/yolox_nano-ultralytics-layout.onnx');
export const END2END_MODEL_PATH = path.join(SHARED, 'models/yolox_nano-end2end-layout.onnx');
