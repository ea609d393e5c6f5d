import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { pino } from 'pino';
import type { Config } from '../shared/config.js';
import { BatchScheduler, type BatchRunner } from '../detector/batch-scheduler.js';
import { createDeviceRunner, type DeviceRunner } from '../detector/device-runner.js';
import { planDevices, visibleCudaDevices } from '../detector/devices.js';
import { buildAnchorGrid } from '../detector/yolox.js';
import { decodeFrames, mediaLimits, probeMedia } from '../processor/ffmpeg.js';
import type { DetectEngine } from './run-detect.js';

export interface OpenEngine extends DetectEngine {
  runners: readonly DeviceRunner[];
  /** Fails waiting frames, lets running batches end, stops the devices; idempotent. */
  close(): Promise<void>;
}

function nvidiaSmiList(): string | undefined {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/**
 * The real engine: ffmpeg for probing and decoding, one model session per planned device (VDET_DEVICES, as the
 * detector plans them; with `auto`, a CUDA device that fails falls back to the CPU), the detector's batch scheduler.
 */
export async function openEngine(config: Config, labels: readonly string[], warn: (line: string) => void): Promise<OpenEngine> {
  const log = pino({ level: 'silent' }); // the command speaks for itself; the runners' logs are for the services
  const { detector, model } = config;
  const cudaDevices = visibleCudaDevices(detector.cudaVisibleDevices, detector.devices === 'cpu' || detector.devices.startsWith('cpu:') ? undefined : nvidiaSmiList());
  const runnerOptions = { modelPath: model.path, inputSize: model.inputSize, batchMax: detector.batchMax, log };
  const runners: DeviceRunner[] = [];
  for (const device of planDevices(detector.devices, { cpuCores: os.availableParallelism(), cudaDevices })) {
    try {
      runners.push(await createDeviceRunner(device, runnerOptions));
    } catch (error) {
      if (device.kind !== 'cuda' || detector.devices !== 'auto') throw error;
      warn(`vdet: ${device.name} could not run the model; it is skipped`);
    }
  }
  if (runners.length === 0) {
    warn('vdet: no CUDA device usable: running on the CPU');
    for (const device of planDevices('cpu', { cpuCores: os.availableParallelism(), cudaDevices: [] })) runners.push(await createDeviceRunner(device, runnerOptions));
  }
  // A worker terminated in the middle of a model run aborts the whole process (onnxruntime throws into a dead
  // thread): close() lets running batches end first, which matters when a run stops early (an error, `| head`).
  const running = new Set<Promise<void>>();
  const tracked = runners.map((runner): BatchRunner => ({
    name: runner.name,
    maxBatch: runner.maxBatch,
    run(items) {
      const run = runner.run(items);
      running.add(run);
      void run.catch(() => undefined).finally(() => running.delete(run));
      return run;
    },
  }));
  const scheduler = new BatchScheduler(tracked, { batchMax: detector.batchMax, batchWaitMs: detector.batchWaitMs });
  const limits = mediaLimits(config.processor);
  let closing: Promise<void> | undefined;
  return {
    probe: (file) => probeMedia(file, limits),
    decode: decodeFrames,
    scheduler,
    grid: buildAnchorGrid(model.inputSize),
    labels,
    inputSize: model.inputSize,
    processor: config.processor,
    limits,
    // One batch running on every device and one filling behind it.
    window: Math.max(2, 2 * detector.batchMax * runners.length),
    runners,
    close() {
      closing ??= (async () => {
        scheduler.close();
        await Promise.allSettled([...running]);
        for (const runner of runners) await runner.close().catch(() => undefined);
      })();
      return closing;
    },
  };
}
