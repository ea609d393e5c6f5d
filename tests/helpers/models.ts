import { describeModelFile } from '../../src/shared/model-file.js';
import type { ModelFormat, ModelSpec, PadPlacement } from '../../src/shared/vision/model-spec.js';

/** A model file's description, as the detector makes it with the default settings (or the given ones). */
export async function modelSpec(file: string, settings: { format?: ModelFormat | 'auto'; pad?: PadPlacement | 'auto' } = {}): Promise<ModelSpec> {
  const model = { path: file, labelsPath: undefined, inputSize: 416, format: settings.format ?? 'auto', pad: settings.pad ?? 'auto' } as const;
  return (await describeModelFile(model)).spec;
}
