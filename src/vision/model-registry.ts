import { VdetError, isVdetError } from '../platform/errors.js';
import { describeModelBytes } from './model-file.js';
import type { ModelRef } from '../contracts/chunk.js';
import { MODEL_NAME_PATTERN } from '../contracts/job-options.js';
import type { ModelSettings, ModelSpec } from './model-spec.js';

/**
 * The model registry: detection models an operator registered by name (`vdet models add`), shared by every machine
 * through the store (the files in GridFS), so that a job can name the model it runs on (`options.model`) and any
 * detector, anywhere, loads it on first need. A name has versions: adding a file under a name that exists makes a
 * new version, the current one from then on; a job is pinned to the version it was submitted with (its sha256), so
 * a new version never changes a job already queued. The models are the operator's, shared by every tenant.
 *
 * The model VDET_MODEL names is not in the registry: it is every detector's own, under the reserved name
 * {@link DEFAULT_MODEL_NAME}, and serves the jobs that name no model.
 */
export { MODEL_NAME_PATTERN };
const NAME = new RegExp(MODEL_NAME_PATTERN);

/** What a job without `options.model` runs on: VDET_MODEL, each detector's own file. Never registered. */
export const DEFAULT_MODEL_NAME = 'default';

/** How the operator asked the file to be read (`--format`, `--pad`, `--labels`); `auto` reads it from the file. */
export type RegistrySettings = Pick<ModelSettings, 'format' | 'pad' | 'labels'> & {
  /** The input size of a file that declares none (a dynamic height and width without `imgsz`): `--input-size`. */
  readonly inputSize?: number | undefined;
};

/** One version of a registered model: its file (by sha256) and how it is read, described when it was added. */
export interface ModelVersion {
  readonly name: string;
  readonly version: number;
  readonly sha256: string;
  readonly bytes: number;
  readonly settings: RegistrySettings;
  readonly spec: ModelSpec;
  readonly addedAt: Date;
}

/** The registry as its users need it; the MongoDB adapter is model-registry-store.ts. */
export interface ModelRegistry {
  /**
   * Describes the file (a model vdet cannot read is refused with VDET_MODEL_INVALID and nothing is stored), stores
   * it and makes it the name's current version.
   */
  add(name: string, file: Uint8Array, settings: RegistrySettings): Promise<ModelVersion>;
  /** The current version of every registered model, by name. */
  list(): Promise<ModelVersion[]>;
  /** The current version of a name, or undefined. */
  get(name: string): Promise<ModelVersion | undefined>;
  /** One version of a name, current or not (what a job is pinned to), or undefined once removed. */
  version(name: string, version: number): Promise<ModelVersion | undefined>;
  /**
   * Removes a name with all its versions and the files no other name uses.
   * @throws VdetError VDET_MODEL_IN_USE while a queued or running job is pinned to one of its versions, or a stream is set to it.
   * @returns false when there was no such name.
   */
  remove(name: string): Promise<boolean>;
  /** A stored model file's bytes. @throws VdetError VDET_MODEL_UNAVAILABLE when it is not stored. */
  openFile(sha256: string): Promise<Buffer>;
}

/** @throws VdetError VDET_VALIDATION for a name that is not lower-case letters, digits, `.`, `_`, `-` (≤ 64), or `default`. */
export function checkModelName(name: string): void {
  if (!NAME.test(name)) {
    throw new VdetError('VDET_VALIDATION', `"${name}" is no model name: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit.`);
  }
  if (name === DEFAULT_MODEL_NAME) throw new VdetError('VDET_VALIDATION', `"${DEFAULT_MODEL_NAME}" is the name of VDET_MODEL, every detector's own model: choose another.`);
}

/** Describes a file for the registry: how it will be read, or VDET_MODEL_INVALID with the shape found. */
export function describeForRegistry(name: string, file: Uint8Array, settings: RegistrySettings): { sha256: string; spec: ModelSpec } {
  checkModelName(name);
  try {
    return describeModelBytes(file, { format: settings.format, pad: settings.pad, labels: settings.labels, fallbackInputSize: settings.inputSize }, `The model file for "${name}"`);
  } catch (error) {
    // The same problems as VDET_MODEL's, set by the command's flags instead of the variables.
    if (!isVdetError(error) || !/VDET_MODEL_(INPUT_SIZE|FORMAT)/.test(error.message)) throw error;
    const message = error.message.replace('set VDET_MODEL_INPUT_SIZE', 'give --input-size').replace('Set VDET_MODEL_FORMAT', 'Give --format');
    throw new VdetError(error.code, message, { cause: error });
  }
}

/** What a job (and its chunks) carries of a registered model version. */
export function modelRef(model: Pick<ModelVersion, 'name' | 'version' | 'sha256'>): ModelRef {
  return { name: model.name, version: model.version, sha256: model.sha256 };
}

/** The model version a job is pinned to, or VDET_MODEL_UNAVAILABLE when it is no longer registered (or is another file). */
export async function pinnedVersion(registry: Pick<ModelRegistry, 'version'>, ref: ModelRef): Promise<ModelVersion> {
  const found = await registry.version(ref.name, ref.version);
  if (!found || found.sha256 !== ref.sha256) {
    throw new VdetError('VDET_MODEL_UNAVAILABLE', `The model "${ref.name}" version ${ref.version} (sha256 ${ref.sha256.slice(0, 12)}…), which the job was submitted with, is no longer registered.`);
  }
  return found;
}

/** A registered model as `GET /v1/models` and `vdet models list` show it. */
export function modelSummary(model: Pick<ModelVersion, 'name' | 'version' | 'sha256' | 'bytes' | 'spec'> & { addedAt?: Date | undefined }) {
  const { spec } = model;
  return {
    name: model.name,
    version: model.version,
    sha256: model.sha256,
    bytes: model.bytes,
    format: spec.format,
    pad: spec.pad,
    inputWidth: spec.inputWidth,
    inputHeight: spec.inputHeight,
    labels: [...spec.labels],
    ...(model.addedAt ? { addedAt: model.addedAt.toISOString() } : {}),
  };
}
