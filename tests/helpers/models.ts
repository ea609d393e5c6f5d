import { describeModelFile } from '../../src/vision/model-file.js';
import type { ModelFormat, PadPlacement } from '../../src/platform/model-settings.js';
import type { ModelSpec } from '../../src/vision/model-spec.js';

/** A model file's description, as the detector makes it with the default settings (or the given ones). */
export async function modelSpec(file: string, settings: { format?: ModelFormat | 'auto'; pad?: PadPlacement | 'auto' } = {}): Promise<ModelSpec> {
  const model = { path: file, labelsPath: undefined, inputSize: 416, format: settings.format ?? 'auto', pad: settings.pad ?? 'auto' } as const;
  return (await describeModelFile(model)).spec;
}
