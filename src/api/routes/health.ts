import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiDeps } from '../deps.js';
import { registry } from '../../platform/metrics.js';
import { isOperator, readiness, readinessFor } from '../../runtime/ops-server.js';
import { HealthSchema } from '../schemas.js';

export const healthRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'config' | 'bus' | 'store' | 'progress'>> = async (app, deps) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers', tags: ['health'], response: { 200: HealthSchema } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: Kafka, MongoDB and Redis answer',
      description: 'Redis holds only derivable state: without it the api still serves, and reports `degraded`. '
        + 'The checks and their errors are shown only with `Authorization: Bearer <VDET_OPS_TOKEN>`; anyone else gets the status.',
      tags: ['health'],
      response: { 200: HealthSchema, 503: HealthSchema },
    },
  }, async (request, reply) => {
    const report = await readiness(deps);
    const shown = readinessFor(report, isOperator(request.headers.authorization, deps.config.http.opsToken));
    return reply.status(report.status === 'unavailable' ? 503 : 200).send(shown);
  });

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (of every role in this process)', tags: ['health'], produces: ['text/plain'], response: { 200: { type: 'string' } } },
  }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
};
