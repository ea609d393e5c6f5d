import { parentPort, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { Detection } from '../../contracts/messages.js';
import { loadBatchableSession } from '../model-batch.js';
import { padOffsets, type ModelSpec } from '../model-spec.js';
import { outputDecoder } from '../model-output.js';
import { layoutBytes, writeFrameToTensor, type FrameLayout } from '../tensor.js';
import { NMS_IOU, type FrameDecode } from '../yolox.js';

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
  /** How to feed the model and read its output (model-spec.ts). */
  spec: ModelSpec;
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
  const { spec } = input;
  const width = spec.inputWidth;
  const height = spec.inputHeight;
  const frameFloats = width * height * 3;
  const maxBatch = batchMode === 'fixed-1' ? 1 : input.batchMax;
  const tensor = new Float32Array(frameFloats * maxBatch);
  const decode = outputDecoder(spec);
  const inputName = spec.inputName;
  const outputName = spec.outputName;
  port.on('message', (request: SessionRequest) => {
    void (async () => {
      try {
        const pixels = new Uint8Array(request.pixels);
        const count = request.layouts.length;
        let offset = 0;
        // Where each frame's image sits in the input: the tensor fill puts it there, the decode takes it off again.
        const offsets = request.layouts.map((layout, slot) => {
          const bytes = layoutBytes(width, height, layout ?? undefined);
          const at = layout ? padOffsets(spec, layout.width, layout.height) : { x: 0, y: 0 };
          const encoding = { channels: spec.channels, pixelScale: spec.pixelScale, offsetX: at.x, offsetY: at.y };
          writeFrameToTensor(pixels.subarray(offset, offset + bytes), tensor, slot, width, height, layout ?? undefined, encoding);
          offset += bytes;
          return at;
        });
        const feeds = { [inputName]: new Tensor('float32', tensor.subarray(0, count * frameFloats), [count, 3, height, width]) };
        const result = await session.run(feeds);
        const output = result[outputName]!;
        const data = output.data as Float32Array;
        const dims = output.dims;
        const detections = request.decodes.map((frame, slot) => decode(data, dims, slot, {
          ...frame, nmsIou: NMS_IOU, labels: spec.labels, offsetX: offsets[slot]!.x, offsetY: offsets[slot]!.y,
        }));
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
