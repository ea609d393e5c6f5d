import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import type { JobStore } from '../store/job-store.js';

/**
 * Takes a lease when the tenant holds fewer than `max` live ones: the set's expired leases are dropped first (a
 * replica that died leaves nothing held for longer than a lease), then the count, then the add, in one step.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export interface Lease {
  release(): Promise<void>;
}

/**
 * A per-tenant cap on things held open for a while (event streams, renders), counted in Redis so that every api
 * replica shares it. A lease is renewed while it is held and lapses on its own if its holder dies. Without Redis the
 * cap is not enforced (like the rate limits: the api keeps serving rather than failing closed).
 */
export class TenantLeases {
  constructor(
    private readonly redis: Redis,
    private readonly what: string,
    readonly max: number,
    private readonly leaseMs = 60_000,
  ) {}

  /** A lease, or null when the tenant holds `max` already. */
  async acquire(tenant: string): Promise<Lease | null> {
    const key = `quota:${this.what}:${tenant}`;
    const id = randomUUID();
    const take = () => this.redis.eval(ACQUIRE, 1, key, Date.now(), this.max, Date.now() + this.leaseMs, id, this.leaseMs * 2);
    const granted = await take().then((n) => Number(n) === 1, () => true);
    if (!granted) return null;
    const renew = setInterval(() => {
      void this.redis.zadd(key, 'XX', Date.now() + this.leaseMs, id).catch(() => undefined);
    }, this.leaseMs / 3);
    renew.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await this.redis.zrem(key, id).catch(() => undefined);
      },
    };
  }
}

/** The api's per-tenant caps: jobs queued or running, open event streams, renders of annotated videos. */
export class TenantQuotas {
  readonly eventStreams: TenantLeases;
  readonly renders: TenantLeases;
  readonly maxStreams: number;

  constructor(redis: Redis, private readonly jobs: JobStore, private readonly limits: Config['quotas']) {
    this.maxStreams = limits.streams;
    this.eventStreams = new TenantLeases(redis, 'event-streams', limits.eventStreams);
    this.renders = new TenantLeases(redis, 'renders', limits.renders);
  }

  /** Refuses a new job while the tenant has `jobsInFlight` queued or running (checked before the upload is read). */
  async admitJob(tenant: string): Promise<void> {
    const inFlight = await this.jobs.countInFlight(tenant, this.limits.jobsInFlight);
    if (inFlight >= this.limits.jobsInFlight) {
      throw quotaExceeded(`This tenant has ${inFlight} jobs queued or running, the most it may (VDET_TENANT_MAX_JOBS_IN_FLIGHT); wait for one to end`, 30);
    }
  }

  /**
   * Refuses an upload while the tenant's stored uploads reach VDET_TENANT_MAX_STORED_BYTES; with `incoming`, also
   * one that would pass it once stored (checked before the upload is read, and again with its size).
   */
  async admitUpload(tenant: string, incoming = 0): Promise<void> {
    const max = this.limits.storedUploadBytes;
    if (max === 0) return;
    const stored = await this.jobs.storedUploadBytes(tenant);
    if (stored + incoming > max || (incoming === 0 && stored >= max)) {
      throw quotaExceeded(`This tenant keeps ${stored} bytes of uploads${incoming ? ` and this one has ${incoming}` : ''}, over the ${max} it may (VDET_TENANT_MAX_STORED_BYTES); delete old jobs or let retention remove them`, 3600);
    }
  }

  /** Refuses registering one more stream once the tenant has VDET_TENANT_MAX_STREAMS (an existing one may always change). */
  async admitStream(tenant: string, isNew: boolean, count: () => Promise<number>): Promise<void> {
    if (!isNew) return;
    const streams = await count();
    if (streams >= this.limits.streams) {
      throw quotaExceeded(`This tenant has ${streams} streams, the most it may (VDET_TENANT_MAX_STREAMS); remove one first`, 3600);
    }
  }

  /** A lease on one of the tenant's open event streams, or VDET_QUOTA_EXCEEDED. */
  async openEventStream(tenant: string): Promise<Lease> {
    const lease = await this.eventStreams.acquire(tenant);
    if (!lease) throw quotaExceeded(`This tenant has ${this.eventStreams.max} event streams open, the most it may (VDET_TENANT_MAX_EVENT_STREAMS); close one`, 10);
    return lease;
  }

  /** A lease on one of the tenant's renders under way, or VDET_QUOTA_EXCEEDED. */
  async startRender(tenant: string): Promise<Lease> {
    const lease = await this.renders.acquire(tenant);
    if (!lease) throw quotaExceeded(`This tenant has ${this.renders.max} annotated videos rendering, the most it may (VDET_TENANT_MAX_RENDERS); wait for one`, 30);
    return lease;
  }
}

function quotaExceeded(sentence: string, retryAfterS: number): VdetError {
  return new VdetError('VDET_QUOTA_EXCEEDED', `${sentence}, and retry in about ${retryAfterS} s.`, { retryAfterS });
}
