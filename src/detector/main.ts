import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { loadLabels } from '../shared/labels.js';
import { createDetector } from './app.js';
import { openDeviceRunners } from './open-runners.js';

export async function startDetector(infra: Infra): Promise<Service> {
  const { config } = infra;
  const log = infra.log.child({ role: 'detector' });
  const labels = await loadLabels(config.model.labelsPath);
  const runners = await openDeviceRunners(config, labels, log, {
    skipped: (device, error) => log.warn({ device, err: error }, 'CUDA session failed; this device is skipped'),
    fellBackToCpu: () => log.warn('no CUDA device usable: falling back to the CPU'),
  });
  const detector = createDetector({ ...infra, log, runners });
  await detector.start();
  return { name: 'detector', close: () => detector.close() };
}
