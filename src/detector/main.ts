import type { Infra } from '../runtime/infra.js';
import type { Service } from '../platform/service.js';
import { describeModelFile } from '../vision/model-file.js';
import { metrics } from '../platform/metrics.js';
import { addReadinessCheck } from '../runtime/ops-server.js';
import { createDetector } from './app.js';
import { loadRegisteredModel, loadedModel, type LoadedModel } from '../vision/onnx/loaded-model.js';
import { ModelPool } from '../vision/onnx/model-pool.js';
import { openDeviceRunners } from '../vision/onnx/open-runners.js';

/** How long a registered model that failed to load is refused before a chunk may try it again. */
const MODEL_RETRY_AFTER_MS = 60_000;

export async function startDetector(infra: Infra): Promise<Service> {
  const { config } = infra;
  const log = infra.log.child({ role: 'detector' });
  const model = await describeModelFile(config.model);
  log.info({ model: model.path, sha256: model.sha256, format: model.spec.format, input: `${model.spec.inputWidth}x${model.spec.inputHeight}`, pad: model.spec.pad, classes: model.spec.classes ?? model.spec.labels.length }, 'model described');
  const events = {
    skipped: (device: string, error: unknown) => log.warn({ device, err: error }, 'CUDA session failed; this device is skipped'),
    fellBackToCpu: () => log.warn('no CUDA device usable: falling back to the CPU'),
  };
  const runners = await openDeviceRunners(config, model, log, events);
  const defaultModel = loadedModel(runners, model.spec, config, log, 'default');
  // Registered models (vdet models add): loaded from the store on a chunk's first need, so that a model added or
  // replaced while this detector runs is served without a restart.
  const models = new ModelPool<LoadedModel>(defaultModel, {
    maxLoaded: config.detector.modelsMax,
    retryAfterMs: MODEL_RETRY_AFTER_MS,
    load: (ref) => loadRegisteredModel(ref, { config, log, models: infra.models, events }),
    loaded: (ref, ms) => {
      metrics.modelLoads.inc({ model: ref.name, outcome: 'ok' });
      metrics.modelsLoaded.set(models.loaded().length);
      log.info({ model: ref.name, version: ref.version, ms }, 'registered model ready');
    },
    failed: (ref, error) => {
      metrics.modelLoads.inc({ model: ref.name, outcome: 'failed' });
      log.error({ model: ref.name, version: ref.version, sha256: ref.sha256, err: error }, 'registered model failed to load; its chunks fail');
    },
    evicted: (ref) => {
      metrics.modelsLoaded.set(models.loaded().length);
      log.info({ model: ref.name, version: ref.version }, 'registered model unloaded (least recently used)');
    },
  });
  const removeCheck = addReadinessCheck('models', () => {
    const failures = models.failures();
    return failures.length === 0 ? { ok: true }
      : { ok: false, error: failures.map((f) => `${f.ref.name}@${f.ref.version}: ${f.error.message}`).join('; ') };
  });
  const detector = createDetector({ ...infra, log, defaultModel, models });
  await detector.start();
  return {
    name: 'detector',
    close: async () => {
      removeCheck();
      await detector.close();
    },
  };
}
