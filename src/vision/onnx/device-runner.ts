import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { Detection } from '../../contracts/messages.js';
import { VdetError } from '../../platform/errors.js';
import { metrics } from '../../platform/metrics.js';
import type { ModelSpec } from '../model-spec.js';
import type { BatchItem, BatchRunner } from '../batch-scheduler.js';
import type { DeviceSpec } from './devices.js';
import type { SessionReply, SessionRequest, SessionWorkerInput } from './session-worker.js';

/**
 * One onnxruntime session on one device, running batches in a worker thread of its own (see session-worker.ts):
 * the detector's event loop stays free for Kafka while a batch runs, and N CPU sessions really run side by side.
 * A batch costs one copy of its frames' pixels into a buffer handed to the worker, and one pass into the tensor;
 * what comes back is each frame's detections, decoded in the worker.
 */
export interface DeviceRunner extends BatchRunner {
  readonly device: DeviceSpec;
  readonly batchMode: string;
  close(): Promise<void>;
}

/** How long close() waits for a running batch before it stops the worker anyway. */
const CLOSE_WAIT_MS = 10_000;

export interface RunnerOptions {
  modelPath: string;
  /** How to feed the model and read its output: frames are decoded in the worker. */
  spec: ModelSpec;
  batchMax: number;
  log: Logger;
}

/** Starts the worker: the compiled JS next to this file, or the TypeScript source through tsx (tests, scripts). */
function startWorker(workerData: SessionWorkerInput): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./session-worker.js', import.meta.url), { workerData });
  const source = new URL('./session-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export async function createDeviceRunner(device: DeviceSpec, options: RunnerOptions): Promise<DeviceRunner> {
  const sessionOptions: ort.InferenceSession.SessionOptions = device.kind === 'cuda'
    ? { executionProviders: [{ name: 'cuda', deviceId: device.deviceId }, 'cpu'], graphOptimizationLevel: 'all' }
    : { executionProviders: ['cpu'], intraOpNumThreads: device.intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const worker = startWorker({ modelPath: options.modelPath, sessionOptions, batchMax: options.batchMax, spec: options.spec });
  const pending = new Map<number, { resolve(detections: Detection[][]): void; reject(error: Error): void }>();
  let nextId = 0;
  const running = new Set<Promise<Detection[][]>>();
  let exited: Error | undefined;
  const ready = new Promise<{ batchMode: string; reason?: string }>((resolve, reject) => {
    worker.on('message', (reply: SessionReply) => {
      if ('ready' in reply) {
        if (reply.ready) resolve(reply);
        else reject(new VdetError('VDET_MODEL_INVALID', `The model ${options.modelPath} could not be loaded on ${device.name}: ${reply.error}`));
        return;
      }
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if ('detections' in reply) waiter?.resolve(reply.detections);
      else waiter?.reject(new VdetError('VDET_INFERENCE_FAILED', `Inference failed on ${device.name}: ${reply.error}`));
    });
    worker.on('error', (error) => {
      exited = error;
      reject(error);
      for (const waiter of pending.values()) waiter.reject(new VdetError('VDET_INTERNAL', `The ${device.name} worker failed.`, { cause: error }));
      pending.clear();
    });
    worker.on('exit', (code) => {
      exited ??= new Error(`worker exited (${code})`);
      for (const waiter of pending.values()) waiter.reject(new VdetError('VDET_INTERNAL', `The ${device.name} worker exited.`, { cause: exited }));
      pending.clear();
    });
  });
  const { batchMode, reason } = await ready.catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  const maxBatch = batchMode === 'fixed-1' ? 1 : options.batchMax;
  options.log.info({ device: device.name, batchMode, maxBatch, reason }, 'model session ready (worker thread)');

  return {
    name: device.name,
    device,
    batchMode,
    maxBatch,
    async run(items: readonly BatchItem[]) {
      if (exited) throw new VdetError('VDET_INTERNAL', `The ${device.name} worker is gone.`, { cause: exited });
      const n = items.length;
      // Frames back to back, each as long as it is (the worker checks each against its layout). A lone frame that
      // owns its whole buffer (a decoded frame) is handed over as it is: no copy, one allocation less a frame.
      const own = ownedBuffer(items);
      const layouts = items.map((item) => item.layout ?? null);
      const decodes = items.map((item) => item.decode);
      const id = nextId++;
      const stopTimer = metrics.inferenceSeconds.startTimer({ device: device.name });
      metrics.batchSize.observe({ device: device.name }, n);
      const reply = new Promise<Detection[][]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const post = (pixels: ArrayBuffer) => worker.postMessage({ id, pixels, layouts, decodes } satisfies SessionRequest, [pixels]);
        try {
          post(own ?? concatenated(items));
        } catch (error) {
          if (!own) throw error;
          post(concatenated(items)); // a buffer that cannot move (memory a native library owns): copied after all
        }
      });
      running.add(reply);
      const detections = await reply.finally(() => running.delete(reply));
      stopTimer();
      items.forEach((item, slot) => {
        try {
          item.finish(detections[slot] ?? []);
        } catch (error) {
          item.fail(error);
        }
      });
    },
    /**
     * Lets a batch that is running end first (bounded): terminating a worker in the middle of an onnxruntime run
     * aborts the whole process.
     */
    async close() {
      if (running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_WAIT_MS);
        });
        await Promise.race([Promise.allSettled([...running]), limit]);
        clearTimeout(timer);
      }
      exited ??= new Error('the runner was closed');
      await worker.terminate();
    },
  };
}

/** The buffer of a batch of one frame whose bytes are a whole buffer of their own (it can move to the worker). */
function ownedBuffer(items: readonly BatchItem[]): ArrayBuffer | undefined {
  const only = items.length === 1 ? items[0]!.pixels : undefined;
  if (!only || only.byteOffset !== 0 || !(only.buffer instanceof ArrayBuffer) || only.byteLength !== only.buffer.byteLength) return undefined;
  return only.buffer;
}

function concatenated(items: readonly BatchItem[]): ArrayBuffer {
  const pixels = new Uint8Array(items.reduce((bytes, item) => bytes + item.pixels.length, 0));
  items.reduce((offset, item) => {
    pixels.set(item.pixels, offset);
    return offset + item.pixels.length;
  }, 0);
  return pixels.buffer;
}
