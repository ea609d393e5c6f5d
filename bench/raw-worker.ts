import { parentPort, workerData } from 'node:worker_threads';
import { openLane, type LaneSpec } from './model-lane.js';

/**
 * One model lane in its own thread (bench/raw-model.ts starts one per session): onnxruntime-node runs a session
 * synchronously on the calling thread, so sessions only run in parallel from different threads.
 */
export interface WorkerInput {
  spec: LaneSpec;
  /** The frame pool, shared with the main thread: `frames` frames of `frameBytes` bytes. */
  pool: SharedArrayBuffer;
  frameBytes: number;
  frames: number;
}
export interface WorkerRequest { id: number; first: number; count: number; decode: boolean }
export type WorkerReply = { ready: true; batchMode: string } | { id: number; found: number } | { id: number; error: string };

const { spec, pool, frameBytes, frames } = workerData as WorkerInput;
const port = parentPort!;
const lane = await openLane(spec, Array.from({ length: frames }, (_, i) => new Uint8Array(pool, i * frameBytes, frameBytes)));
port.on('message', (request: WorkerRequest) => {
  lane.run(request.first, request.count, request.decode).then(
    (found) => port.postMessage({ id: request.id, found } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ id: request.id, error: String(error) } satisfies WorkerReply),
  );
});
port.postMessage({ ready: true, batchMode: lane.batchMode } satisfies WorkerReply);
