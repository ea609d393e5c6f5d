import { spawn } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { buildAnchorGrid, decodeYolox } from '../src/vision/yolox.js';
import { writeFrameToTensor } from '../src/vision/tensor.js';
import type { Letterbox } from '../src/media/letterbox.js';

/**
 * The peer a user would write instead of running vdet: one Node process, ffmpeg piping letterboxed BGR frames into
 * it, one onnxruntime session with its default options (all cores), `await session.run` per frame, YOLOX decode.
 * No batching, no workers, no Kafka: what vdet has to beat end to end.
 */
export interface NaiveLoopResult {
  frames: number;
  seconds: number;
  fps: number;
  detections: number;
}

export async function runNaiveLoop(video: string, modelPath: string, box: Letterbox, labels: readonly string[], minScore: number): Promise<NaiveLoopResult> {
  const size = box.inputWidth; // YOLOX-nano's square input
  const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'all' });
  const grid = buildAnchorGrid(size);
  const tensor = new Float32Array(3 * size * size);
  const input = new ort.Tensor('float32', tensor, [1, 3, size, size]);
  const started = performance.now();
  const ffmpeg = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', video, '-map', '0:v:0', '-an',
    '-vf', `scale=w=${box.width}:h=${box.height}:flags=bilinear,format=bgr24`, '-f', 'rawvideo', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const frameBytes = box.width * box.height * 3;
  const layout = { width: box.width, height: box.height, order: 'bgr' as const };
  let frames = 0;
  let detections = 0;
  let pending: Buffer = Buffer.alloc(0);
  for await (const data of ffmpeg.stdout as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    while (pending.length >= frameBytes) {
      writeFrameToTensor(pending.subarray(0, frameBytes), tensor, 0, size, size, layout);
      pending = pending.subarray(frameBytes);
      const output = (await session.run({ [session.inputNames[0]!]: input }))[session.outputNames[0]!]!;
      detections += decodeYolox(output.data as Float32Array, 0, grid, {
        minScore, nmsIou: 0.45, scale: box.scale, sourceWidth: Math.round(box.width / box.scale), sourceHeight: Math.round(box.height / box.scale), labels,
      }).length;
      frames++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return { frames, seconds, fps: frames / seconds, detections };
}
