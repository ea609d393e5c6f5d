import type { Redis } from 'ioredis';

/**
 * Where the api's rate limits (@fastify/rate-limit) count: in Redis, under `rate:`, so that every api replica shares
 * them. Without Redis they are not enforced (`skipOnError`): the api keeps serving rather than failing closed on a
 * store that holds no data.
 */
export function sharedRateLimitCounters(redis: Redis) {
  return { redis, nameSpace: 'rate:', skipOnError: true } as const;
}

export type RateLimitCounters = ReturnType<typeof sharedRateLimitCounters>;
