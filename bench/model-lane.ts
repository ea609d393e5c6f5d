import * as ort from 'onnxruntime-node';
import { loadBatchableSession } from '../src/vision/model-batch.js';
import { writeFrameToTensor } from '../src/vision/tensor.js';
import { buildAnchorGrid, decodeYolox, type DecodeOptions } from '../src/vision/yolox.js';

export interface LaneSpec {
  modelPath: string;
  /** Intra-op threads of the session. */
  threads: number;
  maxBatch: number;
  /** The model's square input size. */
  size: number;
  decode: DecodeOptions;
}

/**
 * One onnxruntime session fed as the detector's device runner feeds it (src/vision/onnx/device-runner.ts): the same
 * session options, one preallocated input tensor, one `writeFrameToTensor` pass per frame, `decodeYolox` per frame.
 */
export interface Lane {
  readonly batchMode: string;
  /**
   * Runs frames `first … first + count` of the pool (wrapping around) as one batch; with `decode`, also decodes each
   * frame's rows into detections. Resolves with the number of detections found (0 without decode).
   */
  run(first: number, count: number, decode: boolean): Promise<number>;
  close(): Promise<void>;
}

export async function openLane(spec: LaneSpec, pool: readonly Uint8Array[]): Promise<Lane> {
  const { session, batchMode, reason } = await loadBatchableSession(spec.modelPath, {
    sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: spec.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' },
  });
  if (batchMode === 'fixed-1' && spec.maxBatch > 1) throw new Error(`the model cannot run batches: ${reason ?? 'unknown'}`);
  const { size } = spec;
  const frameFloats = 3 * size * size;
  const input = new Float32Array(frameFloats * spec.maxBatch);
  const grid = buildAnchorGrid(size);
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  return {
    batchMode,
    async run(first, count, decode) {
      for (let slot = 0; slot < count; slot++) writeFrameToTensor(pool[(first + slot) % pool.length]!, input, slot, size, size);
      const feeds = { [inputName]: new ort.Tensor('float32', input.subarray(0, count * frameFloats), [count, 3, size, size]) };
      const output = (await session.run(feeds))[outputName]!;
      let found = 0;
      if (decode) {
        const data = output.data as Float32Array;
        const rows = data.length / count;
        for (let slot = 0; slot < count; slot++) found += decodeYolox(data, slot * rows, grid, spec.decode).length;
      }
      output.dispose?.();
      return found;
    },
    close: () => session.release(),
  };
}
