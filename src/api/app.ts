import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { JobOptionsSchema } from '../contracts/job-options.js';
import type { ApiDeps } from './deps.js';
import { modelRoutes } from './routes/models.js';
import { registerAuth } from './auth.js';
import { sendProblem } from './problem.js';
import { jobResultRoutes } from './routes/job-results.js';
import { jobSourceRoutes } from './routes/job-source.js';
import { jobExportRoutes } from './routes/job-export.js';
import { AnnotatedVideos } from './annotated-video.js';
import { webUiRoutes } from './web-ui.js';
import { streamRoutes } from './routes/streams.js';
import { streamSourceRoutes } from './routes/stream-source.js';
import { streamTokenRoutes } from './routes/stream-tokens.js';
import { TenantQuotas } from './tenant-quotas.js';
import { StreamSettingsSchema } from '../contracts/stream.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { ProblemSchema } from './schemas.js';
import { DOCS_CSP, registerSecurityHeaders } from './security-headers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the request acts for: every query is scoped to it. */
    tenant: string;
  }
}

/** Builds the api without listening: main.ts listens, tests use `inject` or a real socket. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 4096 }, // long ids reach the schema (400) instead of a bare 414 from the router
    requestIdHeader: 'x-request-id',
    // The client address the per-address limits count (a hop count is valid at run time; Fastify's types omit it).
    trustProxy: deps.config.http.trustProxy as boolean | string,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('tenant', '');
  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error as Error));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).type('application/problem+json').send({
      type: 'https://vdet.dev/errors/VDET_NOT_FOUND', title: 'Not found', status: 404,
      detail: `There is no route ${request.method} ${request.url.split('?')[0]}.`, code: 'VDET_NOT_FOUND',
    }));

  await registerSecurityHeaders(app as unknown as FastifyInstance);
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
      tags: [
        { name: 'jobs', description: 'Uploaded videos and images' },
        { name: 'results', description: 'Detections, summaries and live progress of a job' },
        { name: 'streams', description: 'Live streams pushed to Kafka: stats, settings, detections, live events' },
        { name: 'models', description: 'The detection models jobs can name (registered by the operator, shared by every tenant)' },
        { name: 'health', description: 'Probes (no key needed)' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  });
  app.addSchema(ProblemSchema);
  app.addSchema(JobOptionsSchema);
  app.addSchema(StreamSettingsSchema);
  await registerAuth(app as unknown as FastifyInstance, deps.apiKeys, deps.live.rateLimitCounters, deps.config.http);
  const events = deps.live.openEvents();
  const quotas = new TenantQuotas({
    eventStreams: deps.live.leases('event-streams', deps.config.quotas.eventStreams),
    renders: deps.live.leases('renders', deps.config.quotas.renders),
  }, deps.jobs, deps.config.quotas);
  app.addHook('onClose', async () => events.close());
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, deps);
  await app.register(jobRoutes, { ...deps, quotas });
  await app.register(jobResultRoutes, { ...deps, events, quotas });
  await app.register(streamRoutes, { ...deps, events, quotas });
  await app.register(streamTokenRoutes, deps);
  await app.register(streamSourceRoutes, { ...deps, quotas });
  const mediaKey = deps.config.http.mediaTokenKey ?? await deps.apiKeys.mediaTokenKey();
  await app.register(jobSourceRoutes, { ...deps, annotated: new AnnotatedVideos({ ...deps, quotas }), mediaKey });
  await app.register(jobExportRoutes, deps);
  await app.register(modelRoutes, deps);
  await app.register(webUiRoutes);
  return app as unknown as FastifyInstance;
}
