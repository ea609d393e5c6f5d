import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiKeyIdentity, ApiKeyStore } from '../shared/api-keys.js';
import { VdetError } from '../shared/errors.js';

/** Routes that answer without a key: probes, metrics, the API's own documentation and the viewer's static files. */
const OPEN_PREFIXES = ['/healthz', '/readyz', '/metrics', '/docs', '/openapi.json', '/app'];
/** A job's source or annotated video with a signed `token` and no key: the route itself verifies the token. */
const SOURCE_PATH = /^\/v1\/jobs\/[^/]+\/(?:source|annotated\.mp4)$/;
const CACHE_MS = 10_000;

function keyOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/**
 * Every /v1 request needs an API key (`Authorization: Bearer <key>` or `X-API-Key`); the key decides the tenant,
 * and every query is scoped to it. Verified keys are cached for 10 s, so a revocation takes effect within that.
 * Each key gets `rateLimitPerMinute` requests a minute, counted in Redis; without Redis the limit is not enforced
 * (the api keeps serving rather than failing closed on a store that holds no data).
 */
export function registerAuth(app: FastifyInstance, keys: ApiKeyStore, redis: Redis, rateLimitPerMinute: number): void {
  const cache = new Map<string, { identity: ApiKeyIdentity | undefined; until: number }>();

  const identify = async (key: string) => {
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.identity;
    const identity = await keys.verify(key);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { identity, until: Date.now() + CACHE_MS });
    return identity;
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (path === '/' || OPEN_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return;
    const key = keyOf(request);
    if (!key && SOURCE_PATH.test(path) && /[?&]token=/.test(request.url)) return;
    if (!key) throw new VdetError('VDET_UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
    const identity = await identify(key);
    if (!identity) throw new VdetError('VDET_UNAUTHORIZED', 'The API key is not valid (unknown or revoked).');
    request.tenant = identity.tenant;
    const window = Math.floor(Date.now() / 60_000);
    const counterKey = `rate:${identity.keyId}:${window}`;
    const used = await redis.multi().incr(counterKey).expire(counterKey, 61).exec().then(
      (results) => Number(results?.[0]?.[1] ?? 0),
      () => 0,
    );
    if (used > rateLimitPerMinute) {
      const retryAfter = Math.max(1, 60 - Math.floor((Date.now() / 1000) % 60));
      void reply.header('retry-after', String(retryAfter));
      throw new VdetError('VDET_RATE_LIMITED', `This key may make ${rateLimitPerMinute} requests a minute; retry in ${retryAfter} s.`);
    }
  });
}
