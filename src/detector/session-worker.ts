import { parentPort, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { loadBatchableSession } from './model-batch.js';
import { writeFrameToTensor } from './tensor.js';

/**
 * One onnxruntime session in its own thread. onnxruntime-node runs a session synchronously on the calling thread,
 * so in the detector's main thread a batch would stall Kafka fetches, produces and heartbeats for its whole run;
 * here it only occupies this worker. The input tensor is allocated once, for the largest batch.
 */
export interface SessionWorkerInput {
  modelPath: string;
  sessionOptions: ort.InferenceSession.SessionOptions;
  batchMax: number;
  inputSize: number;
}
export interface SessionRequest { id: number; pixels: ArrayBuffer; count: number }
export type SessionReply =
  | { ready: true; batchMode: string; reason?: string }
  | { ready: false; error: string }
  | { id: number; output: ArrayBuffer }
  | { id: number; error: string };

const input = workerData as SessionWorkerInput;
const port = parentPort!;
try {
  const { Tensor } = await import('onnxruntime-node');
  const { session, batchMode, reason } = await loadBatchableSession(input.modelPath, { sessionOptions: input.sessionOptions });
  const size = input.inputSize;
  const frameBytes = size * size * 3;
  const frameFloats = frameBytes;
  const maxBatch = batchMode === 'fixed-1' ? 1 : input.batchMax;
  const tensor = new Float32Array(frameFloats * maxBatch);
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  port.on('message', (request: SessionRequest) => {
    void (async () => {
      try {
        const pixels = new Uint8Array(request.pixels);
        for (let slot = 0; slot < request.count; slot++) {
          writeFrameToTensor(pixels.subarray(slot * frameBytes, (slot + 1) * frameBytes), tensor, slot, size, size);
        }
        const feeds = { [inputName]: new Tensor('float32', tensor.subarray(0, request.count * frameFloats), [request.count, 3, size, size]) };
        const result = await session.run(feeds);
        const output = result[outputName]!;
        const copy = new Float32Array(output.data as Float32Array); // a buffer of our own, to hand over without a copy
        output.dispose?.();
        port.postMessage({ id: request.id, output: copy.buffer } satisfies SessionReply, [copy.buffer]);
      } catch (error) {
        port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies SessionReply);
      }
    })();
  });
  port.postMessage({ ready: true, batchMode, ...(reason ? { reason } : {}) } satisfies SessionReply);
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) } satisfies SessionReply);
}
