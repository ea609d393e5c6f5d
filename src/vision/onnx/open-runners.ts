import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../../platform/config.js';
import type { ModelSpec } from '../model-spec.js';
import { createDeviceRunner, type DeviceRunner } from './device-runner.js';
import { planDevices, visibleCudaDevices } from './devices.js';

function nvidiaSmiList(): string | undefined {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export interface RunnerEvents {
  /** A CUDA device that could not run the model under `auto`: it is skipped. */
  skipped(device: string, error: unknown): void;
  /** No CUDA device was usable under `auto`: CPU sessions run instead. */
  fellBackToCpu(): void;
}

/**
 * One model session per planned device (VDET_DEVICES: see devices.ts), each in its worker thread. Under `auto`, a
 * CUDA device that fails is skipped, and with none left the CPU runs the model; an explicit list fails instead.
 * Used by the detector role and by `vdet detect`.
 */
export async function openDeviceRunners(config: Config, model: { path: string; spec: ModelSpec }, log: Logger, events: RunnerEvents): Promise<DeviceRunner[]> {
  const { detector } = config;
  const cpuOnly = detector.devices === 'cpu' || detector.devices.startsWith('cpu:');
  const cudaDevices = visibleCudaDevices(detector.cudaVisibleDevices, cpuOnly ? undefined : nvidiaSmiList());
  const devices = planDevices(detector.devices, { cpuCores: os.availableParallelism(), cudaDevices });
  log.info({ requested: detector.devices, cudaDevices, devices }, 'devices planned');
  const options = (device: { kind: string }) => ({
    modelPath: model.path, spec: model.spec, batchMax: device.kind === 'cpu' ? detector.cpuBatchMax : detector.batchMax, log,
  });
  const runners: DeviceRunner[] = [];
  try {
    for (const device of devices) {
      try {
        runners.push(await createDeviceRunner(device, options(device)));
      } catch (error) {
        if (device.kind !== 'cuda' || detector.devices !== 'auto') throw error;
        events.skipped(device.name, error);
      }
    }
    if (runners.length === 0) {
      events.fellBackToCpu();
      for (const device of planDevices('cpu', { cpuCores: os.availableParallelism(), cudaDevices: [] })) {
        runners.push(await createDeviceRunner(device, options(device)));
      }
    }
  } catch (error) {
    // All or nothing: a model is never left running on some of the devices it was planned for.
    for (const runner of runners) await runner.close().catch(() => undefined);
    throw error;
  }
  return runners;
}
