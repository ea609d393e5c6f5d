import { readFile } from 'node:fs/promises';
import { VdetError } from '../platform/errors.js';

/** The 80 COCO class names in class-id order: the labels of YOLOX models trained on COCO. */
export const COCO80_LABELS: readonly string[] = Object.freeze([
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
  'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
  'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
  'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
  'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
  'hair drier', 'toothbrush',
]);

/** Labels from a file: one a line, in class-id order (blank lines skipped). */
export async function readLabelsFile(labelsPath: string): Promise<readonly string[]> {
  let text: string;
  try {
    text = await readFile(labelsPath, 'utf8');
  } catch (cause) {
    throw new VdetError('VDET_CONFIG_INVALID', `The labels file ${labelsPath} cannot be read: ${(cause as Error).message}.`, { cause });
  }
  const labels = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (labels.length === 0) throw new VdetError('VDET_CONFIG_INVALID', `The labels file ${labelsPath} has no labels (one a line, in class-id order).`);
  return Object.freeze(labels);
}
