import { spawn } from 'node:child_process';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadBatchableSession } from '../src/vision/model-batch.js';
import { outputDecoder } from '../src/vision/model-output.js';
import { writeFrameToTensor } from '../src/vision/tensor.js';
import { NMS_IOU } from '../src/vision/yolox.js';
import { letterbox } from '../src/media/letterbox.js';
import { describeModelFile } from '../src/vision/model-file.js';
import { padOffsets } from '../src/vision/model-spec.js';

/**
 * Each model layout's cost per frame on this machine (`npm run bench:models`): the tensor fill, the model run and the
 * output decode, one session of 1 thread at batch 1 (the naive loop's shape), on the same 96 frames of the tour
 * video. The three shared files hold the same YOLOX-nano weights (../shared/models/MODEL.md), so the differences are
 * the layouts' own: the graph's extra decode (and NMS) against vdet's decode in JavaScript.
 */
const SHARED = path.resolve(process.env['VDET_SHARED'] ?? '../shared');
const VIDEO = path.join(SHARED, 'media/videos/tour-640x360.mp4');
const MODELS = ['yolox_nano.onnx', 'yolox_nano-ultralytics-layout.onnx', 'yolox_nano-end2end-layout.onnx'];
const FRAMES = 96;
const REPEATS = 3;

async function compactFrames(width: number, height: number): Promise<Buffer[]> {
  const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', VIDEO, '-frames:v', String(FRAMES), '-vf', `scale=w=${width}:h=${height}:flags=bilinear,format=bgr24`, '-f', 'rawvideo', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  for await (const data of child.stdout as AsyncIterable<Buffer>) chunks.push(data);
  const all = Buffer.concat(chunks);
  const bytes = width * height * 3;
  return Array.from({ length: all.length / bytes }, (_, i) => all.subarray(i * bytes, (i + 1) * bytes));
}

const rows: string[] = [];
for (const name of MODELS) {
  const model = await describeModelFile({ path: path.join(SHARED, 'models', name), labelsPath: undefined, inputSize: 416, format: 'auto', pad: 'auto' });
  const { spec } = model;
  const box = letterbox(640, 360, { width: spec.inputWidth, height: spec.inputHeight });
  const frames = await compactFrames(box.width, box.height);
  const { session } = await loadBatchableSession(model.path, { sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' } });
  const tensor = new Float32Array(3 * spec.inputWidth * spec.inputHeight);
  const input = new ort.Tensor('float32', tensor, [1, 3, spec.inputHeight, spec.inputWidth]);
  const at = padOffsets(spec, box.width, box.height);
  const encoding = { channels: spec.channels, pixelScale: spec.pixelScale, offsetX: at.x, offsetY: at.y };
  const layout = { width: box.width, height: box.height, order: 'bgr' as const };
  const decode = outputDecoder(spec);
  const options = { minScore: 0.3, nmsIou: NMS_IOU, scale: box.scale, sourceWidth: 640, sourceHeight: 360, labels: spec.labels, offsetX: at.x, offsetY: at.y };
  let best = { fill: Infinity, run: Infinity, decode: Infinity };
  let detections = 0;
  for (let r = 0; r < REPEATS; r++) {
    const ms = { fill: 0, run: 0, decode: 0 };
    detections = 0;
    for (const frame of frames) {
      let t = performance.now();
      writeFrameToTensor(frame, tensor, 0, spec.inputWidth, spec.inputHeight, layout, encoding);
      ms.fill += performance.now() - t;
      t = performance.now();
      const output = (await session.run({ [spec.inputName]: input }))[spec.outputName]!;
      ms.run += performance.now() - t;
      t = performance.now();
      detections += decode(output.data as Float32Array, output.dims, 0, options).length;
      ms.decode += performance.now() - t;
    }
    if (ms.run + ms.decode < best.run + best.decode) best = ms;
  }
  await session.release();
  const per = (v: number) => (v / frames.length).toFixed(2);
  rows.push(`| ${name} | ${spec.format} | ${per(best.fill)} | ${per(best.run)} | ${per(best.decode)} | ${per(best.fill + best.run + best.decode)} | ${(detections / frames.length).toFixed(2)} |`);
}
console.log(`Model layouts, ${FRAMES} frames of tour-640x360.mp4, 1 session × 1 thread, batch 1, best of ${REPEATS} (ms a frame):\n`);
console.log('| file | layout | tensor fill | model | decode | total | detections/frame |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
