import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimitCounters } from '../live/rate-limit-counters.js';
import type { ApiKeyIdentity, ApiKeyStore } from '../store/api-keys.js';
import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';

/** Routes that answer without a key: probes, metrics, the API's own documentation and the viewer's static files. */
const OPEN_PREFIXES = ['/healthz', '/readyz', '/metrics', '/docs', '/openapi.json', '/app'];
/** A job's source or annotated video with a signed `token` and no key: the route itself verifies the token. */
const SOURCE_PATH = /^\/v1\/jobs\/[^/]+\/(?:source|annotated\.mp4)$/;
const CACHE_MS = 10_000;
const CACHE_ENTRIES = 10_000;
const MINUTE = 60_000;

function keyOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/**
 * Verified keys for 10 s (a revocation takes effect within that), and keys found invalid, each in its own bounded
 * map: a flood of junk keys can only push out other junk, never the keys of the tenants being served.
 */
export class KeyCache {
  private readonly valid = new Map<string, { identity: ApiKeyIdentity; until: number }>();
  private readonly invalid = new Map<string, number>();

  constructor(private readonly keys: Pick<ApiKeyStore, 'verify'>) {}

  /** A key verified within the last 10 s, answered without a lookup. */
  known(key: string): ApiKeyIdentity | undefined {
    const hit = this.valid.get(key);
    return hit && hit.until > Date.now() ? hit.identity : undefined;
  }

  async identify(key: string): Promise<ApiKeyIdentity | undefined> {
    const now = Date.now();
    const hit = this.known(key);
    if (hit) return hit;
    if ((this.invalid.get(key) ?? 0) > now) return undefined;
    const identity = await this.keys.verify(key);
    const into = identity ? this.valid : this.invalid;
    into.delete(key);
    if (into.size >= CACHE_ENTRIES) into.delete(into.keys().next().value!);
    if (identity) this.valid.set(key, { identity, until: now + CACHE_MS });
    else this.invalid.set(key, now + CACHE_MS);
    return identity;
  }
}

type Limits = Pick<Config['http'], 'rateLimitPerMinute' | 'rateLimitPerAddressPerMinute' | 'authFailuresPerMinute'>;

/**
 * Every /v1 request needs an API key (`Authorization: Bearer <key>` or `X-API-Key`); the key decides the tenant,
 * and every query is scoped to it. Three limits, counted in Redis by @fastify/rate-limit so that every api replica
 * shares them (without Redis they are not enforced: the api keeps serving rather than failing closed on a store
 * that holds no data):
 * - per client address, before anything else: `rateLimitPerAddressPerMinute` requests a minute (token URLs too);
 * - per address, wrong keys: after `authFailuresPerMinute` in a minute, the address gets 429 without a key lookup
 *   for any key not verified in the last few seconds (a tenant's key in use keeps working behind a shared NAT);
 * - per key, once it is verified: `rateLimitPerMinute` requests a minute.
 * The client address is the socket's, or the one `VDET_TRUST_PROXY`'s proxies forwarded.
 */
export async function registerAuth(app: FastifyInstance, keys: ApiKeyStore, counters: RateLimitCounters | undefined, limits: Limits): Promise<void> {
  await app.register(rateLimit, { global: false, ...counters });
  const keyIds = new WeakMap<FastifyRequest, string>();
  const perAddress = app.createRateLimit({ keyGenerator: (r) => `address:${r.ip}`, max: limits.rateLimitPerAddressPerMinute, timeWindow: MINUTE });
  const failures = app.createRateLimit({ keyGenerator: (r) => `auth-failures:${r.ip}`, max: limits.authFailuresPerMinute, timeWindow: MINUTE });
  const perKey = app.createRateLimit({ keyGenerator: (r) => `key:${keyIds.get(r)}`, max: limits.rateLimitPerMinute, timeWindow: MINUTE });
  const cache = new KeyCache(keys);

  const refuse = (ttlS: number, sentence: string): never => {
    const retryAfterS = Math.max(1, ttlS);
    throw new VdetError('VDET_RATE_LIMITED', `${sentence}; retry in ${retryAfterS} s.`, { retryAfterS });
  };

  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    if (path === '/' || OPEN_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return;
    const address = await perAddress(request);
    if (!address.isAllowed && address.isExceeded) {
      refuse(address.ttlInSeconds, `This address may make ${limits.rateLimitPerAddressPerMinute} requests a minute`);
    }
    const key = keyOf(request);
    if (!key && SOURCE_PATH.test(path) && /[?&]token=/.test(request.url)) return;
    if (!key) throw new VdetError('VDET_UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
    // A key verified a moment ago passes; any other waits out an address that has been guessing.
    const failed = cache.known(key) ? undefined : await failures(request, { increment: false });
    if (failed && !failed.isAllowed && failed.remaining === 0) {
      refuse(failed.ttlInSeconds, `This address sent ${limits.authFailuresPerMinute} invalid API keys within a minute`);
    }
    const identity = await cache.identify(key);
    if (!identity) {
      await failures(request);
      throw new VdetError('VDET_UNAUTHORIZED', 'The API key is not valid (unknown or revoked).');
    }
    request.tenant = identity.tenant;
    keyIds.set(request, identity.keyId);
    const used = await perKey(request);
    if (!used.isAllowed && used.isExceeded) refuse(used.ttlInSeconds, `This key may make ${limits.rateLimitPerMinute} requests a minute`);
  });
}
