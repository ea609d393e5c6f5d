import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import type { JobStore } from '../shared/job-store.js';
import type { KafkaBus } from '../shared/kafka.js';
import type { Store } from '../shared/mongo.js';
import type { ProgressStore } from '../shared/progress.js';
import type { TopicNames } from '../shared/topics.js';
import { sendProblem } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { ProblemSchema } from './schemas.js';

export interface ApiDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  store: Store;
  jobs: JobStore;
  progress: ProgressStore;
  topics: TopicNames;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the request acts for: every query is scoped to it. */
    tenant: string;
  }
}

/** The tenant of unauthenticated deployments; API keys (issue 4) map each key to its own tenant. */
export const DEFAULT_TENANT = 'default';

/** Builds the api without listening: main.ts listens, tests use `inject` or a real socket. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    requestIdHeader: 'x-request-id',
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('tenant', DEFAULT_TENANT);
  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error as Error));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).type('application/problem+json').send({
      type: 'https://vdet.dev/errors/VDET_NOT_FOUND', title: 'Not found', status: 404,
      detail: `There is no route ${request.method} ${request.url.split('?')[0]}.`, code: 'VDET_NOT_FOUND',
    }));

  await app.register(multipart, {
    limits: {
      fileSize: deps.config.http.uploadMaxBytes,
      files: 1,
      fields: 4,
      fieldSize: 64 * 1024,
      parts: 6,
      headerPairs: 100,
    },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'vdet', version: '0.1.0', description: 'Find objects in video: upload a file, get every frame\'s detections.' },
      tags: [{ name: 'jobs', description: 'Uploaded videos and their detections' }, { name: 'health', description: 'Probes' }],
    },
  });
  app.addSchema(ProblemSchema);
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, deps);
  await app.register(jobRoutes, deps);
  return app as unknown as FastifyInstance;
}
