import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiDeps } from '../app.js';
import { HealthSchema } from '../schemas.js';

const CHECK_TIMEOUT_MS = 2_000;

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS); }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers', tags: ['health'], response: { 200: HealthSchema } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: Kafka, MongoDB and Redis answer',
      description: 'Redis holds only derivable state: without it the api still serves, and reports `degraded`.',
      tags: ['health'],
      response: { 200: HealthSchema, 503: HealthSchema },
    },
  }, async (_request, reply) => {
    const [kafka, mongo, redis] = await Promise.all([
      check(() => deps.bus.ping()),
      check(() => deps.store.ping()),
      check(() => deps.progress.ping()),
    ]);
    const checks = { kafka, mongo, redis };
    if (!kafka.ok || !mongo.ok) return reply.status(503).send({ status: 'unavailable', checks });
    return { status: redis.ok ? 'ok' : 'degraded', checks };
  });
};
