import { VdetError } from '../platform/errors.js';
import type { JobModel } from '../store/job-record.js';
import { DEFAULT_MODEL_NAME, modelRef, type ModelRegistry } from '../vision/model-registry.js';
import type { DescribedModel } from '../vision/model-file.js';

/** The model a job runs on, and its labels (the job's `classes` must be among them). */
export interface ModelChoice {
  model: JobModel;
  labels: readonly string[];
}

/** Resolves a job's `options.model` (undefined or `default`: VDET_MODEL) to what the job is pinned to. */
export type ChooseModel = (name: string | undefined) => Promise<ModelChoice>;

/**
 * A registered name resolves to its current version, read from the registry at each submission: a model added or
 * replaced a moment ago is what the next job gets. An unknown name is VDET_MODEL_UNKNOWN (400).
 */
export function modelChooser(
  registry: Pick<ModelRegistry, 'get'>, defaults: { labels: readonly string[]; described?: DescribedModel | undefined },
): ChooseModel {
  return async (name) => {
    if (name === undefined || name === DEFAULT_MODEL_NAME) {
      const sha256 = defaults.described?.sha256;
      return { model: { name: DEFAULT_MODEL_NAME, ...(sha256 ? { sha256 } : {}) }, labels: defaults.labels };
    }
    const found = await registry.get(name);
    if (!found) throw new VdetError('VDET_MODEL_UNKNOWN', `There is no registered model "${name}": GET /v1/models lists the models there are.`);
    return { model: modelRef(found), labels: found.spec.labels };
  };
}
