import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { createDetector } from './app.js';
import { createDeviceRunner, type DeviceRunner } from './device-runner.js';
import { planDevices, visibleCudaDevices } from './devices.js';
import { loadLabels } from '../shared/labels.js';

function nvidiaSmiList(): string | undefined {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export async function startDetector(infra: Infra): Promise<Service> {
  const { config } = infra;
  const log = infra.log.child({ role: 'detector' });
  const cudaDevices = visibleCudaDevices(config.detector.cudaVisibleDevices, config.detector.devices === 'cpu' ? undefined : nvidiaSmiList());
  const devices = planDevices(config.detector.devices, { cpuCores: os.availableParallelism(), cudaDevices });
  log.info({ requested: config.detector.devices, cudaDevices, devices }, 'devices planned');
  const runners: DeviceRunner[] = [];
  for (const device of devices) {
    try {
      runners.push(await createDeviceRunner(device, { modelPath: config.model.path, inputSize: config.model.inputSize, batchMax: config.detector.batchMax, log }));
    } catch (error) {
      if (device.kind !== 'cuda' || config.detector.devices !== 'auto') throw error;
      log.warn({ device: device.name, err: error }, 'CUDA session failed; this device is skipped');
    }
  }
  if (runners.length === 0) {
    log.warn('no CUDA device usable: falling back to the CPU');
    for (const device of planDevices('cpu', { cpuCores: os.availableParallelism(), cudaDevices: [] })) {
      runners.push(await createDeviceRunner(device, { modelPath: config.model.path, inputSize: config.model.inputSize, batchMax: config.detector.batchMax, log }));
    }
  }
  const detector = createDetector({ ...infra, log, runners, labels: await loadLabels(config.model.labelsPath) });
  await detector.start();
  return { name: 'detector', close: () => detector.close() };
}
