import type { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import { JobEventHub, type EventHub } from './event-hub.js';
import { sharedRateLimitCounters, type RateLimitCounters } from './rate-limit-counters.js';
import { TenantLeases, type Leases } from './tenant-leases.js';

/**
 * The api's live state, shared by every replica: job and stream events for server-sent events, per-tenant leases on
 * what is held open, and where the rate limits count.
 */
export interface ApiLiveState {
  /** A subscriber to job and stream events (one per api process; closed with it). */
  openEvents(): EventHub;
  /** At most `max` leases of `what` a tenant at once (event streams, renders). */
  leases(what: string, max: number): Leases;
  /** Where @fastify/rate-limit counts; undefined: in this process's memory only. */
  rateLimitCounters: RateLimitCounters | undefined;
}

/** The api's live state in Redis (the process's one connection; the event hub opens a subscriber of its own). */
export function redisApiLiveState(redis: Redis, config: Config['redis']): ApiLiveState {
  return {
    openEvents: () => new JobEventHub(redis, config),
    leases: (what, max) => new TenantLeases(redis, what, max),
    rateLimitCounters: sharedRateLimitCounters(redis),
  };
}
