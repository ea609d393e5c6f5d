import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

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

/** A per-tenant cap on things held open for a while: at most `max` leases a tenant at once. */
export interface Leases {
  readonly max: number;
  /** A lease, or null when the tenant holds `max` already. */
  acquire(tenant: string): Promise<Lease | null>;
}

/**
 * A per-tenant cap on things held open for a while (event streams, renders), counted in Redis so that every api
 * replica shares it. A lease is renewed while it is held and lapses on its own if its holder dies. Without Redis the
 * cap is not enforced (like the rate limits: the api keeps serving rather than failing closed).
 */
export class TenantLeases implements Leases {
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
