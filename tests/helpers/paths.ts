import path from 'node:path';

/** ../shared beside the checkout: the model, test media and reference detections (never committed). */
export const SHARED = path.resolve(process.env['VDET_SHARED'] ?? '../shared');
export const MODEL_PATH = path.join(SHARED, 'models/yolox_nano.onnx');
export const TOUR_VIDEO = path.join(SHARED, 'media/videos/tour-640x360.mp4');
export const imagePath = (name: string) => path.join(SHARED, 'media/images', `${name}.jpg`);
export const referencePath = (name: string) => path.join(SHARED, 'reference', `${name}.json`);
