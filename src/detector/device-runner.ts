import type * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { VdetError } from '../shared/errors.js';
import type { BatchItem, BatchRunner } from './batch-scheduler.js';
import type { DeviceSpec } from './devices.js';
import { loadBatchableSession } from './model-batch.js';
import { writeFrameToTensor } from './tensor.js';
import { metrics } from '../shared/metrics.js';

/**
 * One onnxruntime session on one device, running batches. The input tensor is allocated once for the largest batch
 * and reused (one run at a time per device), so a batch costs one pass over its frames' pixels and nothing more.
 */
export interface DeviceRunner extends BatchRunner {
  readonly device: DeviceSpec;
  readonly batchMode: string;
  close(): Promise<void>;
}

export interface RunnerOptions {
  modelPath: string;
  inputSize: number;
  batchMax: number;
  log: Logger;
}

export async function createDeviceRunner(device: DeviceSpec, options: RunnerOptions): Promise<DeviceRunner> {
  const sessionOptions: ort.InferenceSession.SessionOptions = device.kind === 'cuda'
    ? { executionProviders: [{ name: 'cuda', deviceId: device.deviceId }, 'cpu'], graphOptimizationLevel: 'all' }
    : { executionProviders: ['cpu'], intraOpNumThreads: device.intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  let loaded: Awaited<ReturnType<typeof loadBatchableSession>>;
  try {
    loaded = await loadBatchableSession(options.modelPath, { sessionOptions });
  } catch (cause) {
    throw new VdetError('VDET_MODEL_INVALID', `The model ${options.modelPath} could not be loaded on ${device.name}.`, { cause });
  }
  const { session, batchMode } = loaded;
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const maxBatch = batchMode === 'fixed-1' ? 1 : options.batchMax;
  const size = options.inputSize;
  const frameFloats = 3 * size * size;
  const input = new Float32Array(frameFloats * maxBatch);
  const { Tensor } = await import('onnxruntime-node');
  options.log.info({ device: device.name, batchMode, maxBatch, reason: loaded.reason }, 'model session ready');

  return {
    name: device.name,
    device,
    batchMode,
    maxBatch,
    async run(items: readonly BatchItem[]) {
      const n = items.length;
      items.forEach((item, slot) => writeFrameToTensor(item.pixels, input, slot, size, size));
      const feeds = { [inputName]: new Tensor('float32', input.subarray(0, n * frameFloats), [n, 3, size, size]) };
      let result: ort.InferenceSession.OnnxValueMapType;
      const stopTimer = metrics.inferenceSeconds.startTimer({ device: device.name });
      metrics.batchSize.observe({ device: device.name }, n);
      try {
        result = await session.run(feeds);
        stopTimer();
      } catch (cause) {
        throw new VdetError('VDET_INFERENCE_FAILED', `Inference failed on ${device.name}.`, { cause });
      }
      const output = result[outputName]!;
      const data = output.data as Float32Array;
      const rowsPerFrame = data.length / n;
      items.forEach((item, slot) => {
        try {
          item.finish(data, slot * rowsPerFrame);
        } catch (error) {
          item.fail(error);
        }
      });
      output.dispose?.();
    },
    async close() {
      await session.release();
    },
  };
}
