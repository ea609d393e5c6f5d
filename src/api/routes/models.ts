import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DEFAULT_MODEL_NAME, modelSummary } from '../../vision/model-registry.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';

export const ModelSchema = Type.Object({
  name: Type.String({ description: 'What a job names in `options.model`' }),
  version: Type.Integer({ description: 'Counts the files registered under the name (`default`: 0)' }),
  sha256: Type.String({ description: 'The current version\'s file: a job is pinned to it when submitted' }),
  bytes: Type.Integer(),
  format: Type.String({ enum: ['yolox', 'ultralytics', 'end2end'], description: 'Output layout (docs/models.md)' }),
  pad: Type.String({ enum: ['top-left', 'center'], description: 'Where the letterboxed image sits in the input' }),
  inputWidth: Type.Integer(),
  inputHeight: Type.Integer(),
  labels: Type.Array(Type.String(), { description: 'Class names in class-id order (empty: classes are reported by id)' }),
  addedAt: Type.Optional(Type.String({ format: 'date-time' })),
  default: Type.Optional(Type.Boolean({ description: 'The model of jobs that name none (VDET_MODEL)' })),
});

const ModelListSchema = Type.Object({ items: Type.Array(ModelSchema) });

/**
 * The models jobs can run on. They are the operator's (`vdet models add|list|remove`), shared by every tenant: any
 * authenticated caller sees the same list.
 */
export const modelRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'models' | 'defaultModel'>> = async (app, deps) => {
  app.get('/v1/models', {
    schema: {
      summary: 'The models a job can name in `options.model`',
      description: 'The service\'s own model (`default`, VDET_MODEL, where the api can read it) and every model the operator registered '
        + '(`vdet models add NAME FILE`), each at its current version. Models are shared by every tenant.',
      tags: ['models'],
      security: [{ bearer: [] }, { apiKey: [] }],
      response: { 200: ModelListSchema, ...problems(401, 429) },
    },
  }, async () => {
    const registered = (await deps.models.list()).map(modelSummary);
    const own = deps.defaultModel;
    const items = own
      ? [{ ...modelSummary({ name: DEFAULT_MODEL_NAME, version: 0, sha256: own.sha256, bytes: own.bytes, spec: own.spec }), default: true }, ...registered]
      : registered;
    return { items };
  });
};
