import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import type { JobStore } from '../store/job-store.js';
import type { Lease, Leases } from '../live/tenant-leases.js';

/** The api's per-tenant caps: jobs queued or running, open event streams, renders of annotated videos. */
export class TenantQuotas {
  readonly eventStreams: Leases;
  readonly renders: Leases;
  readonly maxStreams: number;

  /** `leases` counts what is held open (shared by every replica: live/tenant-leases.ts); `jobs` counts the rest. */
  constructor(
    leases: { eventStreams: Leases; renders: Leases },
    private readonly jobs: Pick<JobStore, 'countInFlight' | 'storedUploadBytes'>,
    private readonly limits: Config['quotas'],
  ) {
    this.maxStreams = limits.streams;
    this.eventStreams = leases.eventStreams;
    this.renders = leases.renders;
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
