import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../platform/config.js';
import type { ModelRef } from '../../contracts/chunk.js';
import { VdetError } from '../../platform/errors.js';
import { pinnedVersion, type ModelRegistry } from '../model-registry.js';
import type { ModelSpec } from '../model-spec.js';
import { BatchScheduler, type BatchItem } from '../batch-scheduler.js';
import type { DeviceRunner } from './device-runner.js';
import { openDeviceRunners, type RunnerEvents } from './open-runners.js';

/** One model a detector runs: its sessions on every device and the batch queue that feeds them (one model a batch). */
export interface LoadedModel {
  readonly spec: Pick<ModelSpec, 'inputWidth' | 'inputHeight'>;
  readonly runners: readonly DeviceRunner[];
  submit(items: readonly BatchItem[]): void;
  close(): Promise<void>;
}

/** Batches a model's runners: the scheduler's rules, one queue per model. */
export function loadedModel(runners: readonly DeviceRunner[], spec: LoadedModel['spec'], config: Config, log: Logger, name: string): LoadedModel {
  const scheduler = new BatchScheduler(runners, {
    batchMax: Math.max(...runners.map((r) => r.maxBatch)), // no batch waits to fill past what a device takes
    batchWaitMs: config.detector.batchWaitMs,
    onBatch: (device, items) => {
      if (log.isLevelEnabled('debug')) log.debug({ model: name, device, frames: items.length, queues: [...new Set(items.map((i) => i.queue))] }, 'batch');
    },
  });
  return {
    spec,
    runners,
    submit: (items) => scheduler.submit(items),
    async close() {
      scheduler.close();
      for (const runner of runners) await runner.close().catch(() => undefined);
    },
  };
}

/**
 * Loads a registered model version as a detector needs it: its record (the spec it was described with when added),
 * its file from the store into VDET_MODEL_CACHE_DIR (under its sha256, checked again each time it is read), then a
 * session on every device. All or nothing: a device whose session fails closes the ones opened before it.
 * @throws VdetError VDET_MODEL_UNAVAILABLE when the version is no longer registered or its file is gone or altered.
 */
export async function loadRegisteredModel(
  ref: ModelRef, deps: { config: Config; log: Logger; models: Pick<ModelRegistry, 'version' | 'openFile'>; events: RunnerEvents },
): Promise<LoadedModel> {
  const { config, log } = deps;
  const version = await pinnedVersion(deps.models, ref);
  const file = await cachedFile(ref.sha256, config.detector.modelCacheDir, () => deps.models.openFile(ref.sha256));
  const runners = await openDeviceRunners(config, { path: file, spec: version.spec }, log.child({ model: ref.name, version: ref.version }), deps.events);
  log.info({ model: ref.name, version: ref.version, sha256: ref.sha256, format: version.spec.format, input: `${version.spec.inputWidth}x${version.spec.inputHeight}`, pad: version.spec.pad, devices: runners.map((r) => r.name) }, 'registered model loaded');
  return loadedModel(runners, version.spec, config, log, ref.name);
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The model file at `<dir>/<sha256>.onnx`, fetched when it is missing or not that file. */
async function cachedFile(sha256: string, dir: string, fetch: () => Promise<Buffer>): Promise<string> {
  const file = path.join(dir, `${sha256}.onnx`);
  const present = await readFile(file).catch(() => undefined);
  if (present && sha256Of(present) === sha256) return file;
  const bytes = await fetch();
  if (sha256Of(bytes) !== sha256) throw new VdetError('VDET_MODEL_UNAVAILABLE', `The stored model file ${sha256.slice(0, 12)}… does not match its sha256.`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.${Date.now()}.partial`;
  try {
    await writeFile(partial, bytes, { mode: 0o600 });
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return file;
}
