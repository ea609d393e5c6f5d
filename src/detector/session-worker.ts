import { parentPort, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { Detection } from '../shared/contracts/messages.js';
import { loadBatchableSession } from './model-batch.js';
import { layoutBytes, writeFrameToTensor, type FrameLayout } from './tensor.js';
import { NMS_IOU, buildAnchorGrid, decodeYolox, type FrameDecode } from './yolox.js';

/**
 * One onnxruntime session in its own thread. onnxruntime-node runs a session synchronously on the calling thread,
 * so in the detector's main thread a batch would stall Kafka fetches, produces and heartbeats for its whole run;
 * here it only occupies this worker. The input tensor is allocated once, for the largest batch. The output (over a
 * megabyte a frame) is decoded here too, so only each frame's few detections cross back to the main thread.
 */
export interface SessionWorkerInput {
  modelPath: string;
  sessionOptions: ort.InferenceSession.SessionOptions;
  batchMax: number;
  inputSize: number;
  labels: readonly string[];
}
/** A batch: its frames' bytes back to back, each laid out as its entry in `layouts` says (null: a whole BGR frame). */
export interface SessionRequest { id: number; pixels: ArrayBuffer; layouts: (FrameLayout | null)[]; decodes: FrameDecode[] }
export type SessionReply =
  | { ready: true; batchMode: string; reason?: string }
  | { ready: false; error: string }
  | { id: number; detections: Detection[][] }
  | { id: number; error: string };

const input = workerData as SessionWorkerInput;
const port = parentPort!;
try {
  const { Tensor } = await import('onnxruntime-node');
  const { session, batchMode, reason } = await loadBatchableSession(input.modelPath, { sessionOptions: input.sessionOptions });
  const size = input.inputSize;
  const frameFloats = size * size * 3;
  const maxBatch = batchMode === 'fixed-1' ? 1 : input.batchMax;
  const tensor = new Float32Array(frameFloats * maxBatch);
  const grid = buildAnchorGrid(size);
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  port.on('message', (request: SessionRequest) => {
    void (async () => {
      try {
        const pixels = new Uint8Array(request.pixels);
        const count = request.layouts.length;
        let offset = 0;
        request.layouts.forEach((layout, slot) => {
          const bytes = layoutBytes(size, size, layout ?? undefined);
          writeFrameToTensor(pixels.subarray(offset, offset + bytes), tensor, slot, size, size, layout ?? undefined);
          offset += bytes;
        });
        const feeds = { [inputName]: new Tensor('float32', tensor.subarray(0, count * frameFloats), [count, 3, size, size]) };
        const result = await session.run(feeds);
        const output = result[outputName]!;
        const data = output.data as Float32Array;
        const rowsPerFrame = data.length / count;
        const detections = request.decodes.map((decode, slot) => decodeYolox(data, slot * rowsPerFrame, grid, { ...decode, nmsIou: NMS_IOU, labels: input.labels }));
        output.dispose?.();
        port.postMessage({ id: request.id, detections } satisfies SessionReply);
      } catch (error) {
        port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies SessionReply);
      }
    })();
  });
  port.postMessage({ ready: true, batchMode, ...(reason ? { reason } : {}) } satisfies SessionReply);
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) } satisfies SessionReply);
}
