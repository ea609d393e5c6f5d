import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { describeModelFile } from '../shared/model-file.js';
import { createDetector } from './app.js';
import { openDeviceRunners } from './open-runners.js';

export async function startDetector(infra: Infra): Promise<Service> {
  const { config } = infra;
  const log = infra.log.child({ role: 'detector' });
  const model = await describeModelFile(config.model);
  log.info({ model: model.path, sha256: model.sha256, format: model.spec.format, input: `${model.spec.inputWidth}x${model.spec.inputHeight}`, pad: model.spec.pad, classes: model.spec.classes ?? model.spec.labels.length }, 'model described');
  const runners = await openDeviceRunners(config, model, log, {
    skipped: (device, error) => log.warn({ device, err: error }, 'CUDA session failed; this device is skipped'),
    fellBackToCpu: () => log.warn('no CUDA device usable: falling back to the CPU'),
  });
  const detector = createDetector({ ...infra, log, runners, spec: model.spec });
  await detector.start();
  return { name: 'detector', close: () => detector.close() };
}
