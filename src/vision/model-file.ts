import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../platform/config.js';
import { VdetError, isVdetError } from '../platform/errors.js';
import { COCO80_LABELS, readLabelsFile } from './labels.js';
import { readOnnxFacts } from './onnx-proto.js';
import { describeModel, type ModelSettings, type ModelSpec } from './model-spec.js';

/** A model file, described: how to feed and read it, and which bytes it is. */
export interface DescribedModel {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly spec: ModelSpec;
}

/** A model's bytes, described (see model-spec.ts); `where` names it in errors. */
export function describeModelBytes(bytes: Uint8Array, settings: ModelSettings, where: string): { sha256: string; spec: ModelSpec } {
  let facts;
  try {
    facts = readOnnxFacts(bytes);
  } catch (cause) {
    throw new VdetError('VDET_MODEL_INVALID', `${where} is not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  try {
    return { sha256: createHash('sha256').update(bytes).digest('hex'), spec: describeModel(facts, settings) };
  } catch (error) {
    if (isVdetError(error)) throw new VdetError(error.code, `${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Reads and describes the configured model file (VDET_MODEL, VDET_MODEL_FORMAT, VDET_MODEL_PAD, VDET_LABELS,
 * VDET_MODEL_INPUT_SIZE): a layout vdet cannot read fails here, at start-up, with the shape it found.
 */
export function describeModelFile(model: Config['model'], path = model.path): Promise<DescribedModel> {
  const key = JSON.stringify([path, model.labelsPath, model.inputSize, model.format, model.pad]);
  let described = descriptions.get(key);
  if (!described) {
    described = readAndDescribe(model, path);
    descriptions.set(key, described);
    described.catch(() => descriptions.delete(key)); // a failure is not remembered: the next caller reads again
  }
  return described;
}

/** Descriptions made in this process, by file and settings: one read and hash each. */
const descriptions = new Map<string, Promise<DescribedModel>>();

async function readAndDescribe(model: Config['model'], path: string): Promise<DescribedModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new VdetError('VDET_MODEL_INVALID', `The model ${path} cannot be read: ${(cause as Error).message}.`, { cause });
  }
  const labels = model.labelsPath ? await readLabelsFile(model.labelsPath) : undefined;
  const settings: ModelSettings = { format: model.format, pad: model.pad, labels, fallbackInputSize: model.inputSize };
  return { path, bytes: bytes.length, ...describeModelBytes(bytes, settings, `The model ${path}`) };
}

/**
 * For roles that only need the model's input size and labels (api, processor), and may run where the model file is
 * not (a Kubernetes processor pod): the file's description when it can be read, else VDET_MODEL_INPUT_SIZE and the
 * labels file (or COCO's 80). A file that is there but unreadable as a model still fails.
 */
export async function modelGeometry(model: Config['model']): Promise<{ inputWidth: number; inputHeight: number; labels: readonly string[]; fromFile: boolean; described?: DescribedModel }> {
  try {
    const described = await describeModelFile(model);
    const { spec } = described;
    return { inputWidth: spec.inputWidth, inputHeight: spec.inputHeight, labels: spec.labels, fromFile: true, described };
  } catch (error) {
    const missing = isVdetError(error) && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    if (!missing) throw error;
    const labels = model.labelsPath ? await readLabelsFile(model.labelsPath) : COCO80_LABELS;
    return { inputWidth: model.inputSize, inputHeight: model.inputSize, labels, fromFile: false };
  }
}
