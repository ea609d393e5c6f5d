import { pino } from 'pino';
import type { Config } from '../platform/config.js';
import type { DescribedModel } from '../vision/model-file.js';
import { BatchScheduler } from '../vision/batch-scheduler.js';
import type { DeviceRunner } from '../vision/onnx/device-runner.js';
import { openDeviceRunners } from '../vision/onnx/open-runners.js';
import { decodeFrames, mediaLimits, probeMedia } from '../media/ffmpeg.js';
import type { DetectEngine } from './run-detect.js';

export interface OpenEngine extends DetectEngine {
  runners: readonly DeviceRunner[];
  /** Fails waiting frames, lets running batches end, stops the devices; idempotent. */
  close(): Promise<void>;
}

/**
 * The real engine: ffmpeg for probing and decoding, one model session per planned device (VDET_DEVICES, as the
 * detector plans them; with `auto`, a CUDA device that fails falls back to the CPU), the detector's batch scheduler.
 */
export async function openEngine(config: Config, model: DescribedModel, warn: (line: string) => void): Promise<OpenEngine> {
  const log = pino({ level: 'silent' }); // the command speaks for itself; the runners' logs are for the services
  const { detector } = config;
  const runners = await openDeviceRunners(config, model, log, {
    skipped: (device) => warn(`vdet: ${device} could not run the model; it is skipped`),
    fellBackToCpu: () => warn('vdet: no CUDA device usable: running on the CPU'),
  });
  // Each runner's close() lets a running batch end first (see device-runner.ts): an early stop (an error,
  // `| head`) never kills a worker mid-run.
  const batchMax = Math.max(...runners.map((r) => r.maxBatch)); // no batch waits to fill past what a device takes
  const scheduler = new BatchScheduler(runners, { batchMax, batchWaitMs: detector.batchWaitMs });
  const limits = mediaLimits(config.processor);
  let closing: Promise<void> | undefined;
  return {
    probe: (file) => probeMedia(file, limits),
    decode: decodeFrames,
    scheduler,
    labels: model.spec.labels,
    input: { width: model.spec.inputWidth, height: model.spec.inputHeight },
    processor: config.processor,
    limits,
    // One batch running on every device and one filling behind it.
    window: Math.max(4, 2 * batchMax * runners.length),
    runners,
    close() {
      closing ??= (async () => {
        scheduler.close();
        for (const runner of runners) await runner.close().catch(() => undefined);
      })();
      return closing;
    },
  };
}
