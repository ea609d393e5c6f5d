import type { Logger } from 'pino';
import { PUBLIC_ONLY, type AddressPolicy } from '../platform/address-policy.js';
import type { ApiKeyStore } from '../store/api-keys.js';
import { AddressRefused, guardedPost, type Resolver } from '../platform/guarded-http.js';
import type { JobRecord } from '../store/job-record.js';
import type { WebhookOutboxStore, WebhookRecord } from '../store/webhook-outbox.js';
import { backoffMs } from '../platform/retry.js';
import { webhookHeaders } from '../platform/webhook-signature.js';

/**
 * Job callbacks: when a job with a `callbackUrl` ends, a POST with its summary, signed with the tenant's secret
 * (`X-Vdet-Timestamp`, `X-Vdet-Key-Id`, `X-Vdet-Signature: v1=<hex HMAC-SHA256 of timestamp "." body>`:
 * src/platform/webhook-signature.ts, docs/security.md), retried with backoff until a 2xx — at least once.
 * Deliveries are an outbox in MongoDB (`webhooks`), so a restart loses none; a lease lets several mergers share it.
 * Several are under way at once, a few per tenant at most, so one slow receiver delays no other tenant's callbacks.
 * During a secret's rotation overlap, each delivery is signed by both the new and the previous secret.
 * Every attempt resolves the URL's host and connects only to addresses the policy allows (public ones, unless the
 * operator allows more); a refused address is retried like any failure, as DNS may change back.
 */

const LEASE_MS = 30_000;
const GIVE_UP_AFTER_MS = 3 * 24 * 3600 * 1000;
const TIMEOUT_MS = 10_000;
/** Deliveries under way at once per merger, and of those at most this many to one tenant: a slow receiver holds
 * two of eight, never the others' callbacks. */
const IN_FLIGHT = 8;
const IN_FLIGHT_PER_TENANT = 2;

export class WebhookOutbox {
  private timer: NodeJS.Timeout | undefined;
  private claiming = false;
  private inFlight = 0;
  private readonly perTenant = new Map<string, number>();

  constructor(
    private readonly outbox: WebhookOutboxStore, private readonly keys: ApiKeyStore, private readonly log: Logger,
    private readonly network: { policy: AddressPolicy; resolve?: Resolver } = { policy: PUBLIC_ONLY },
  ) {}

  async ensureIndexes(): Promise<void> {
    await this.outbox.ensureIndexes();
  }

  /**
   * Queues the callbacks of jobs that ended (whoever ended them: processor, merger or reaper) and marks them, so
   * each is queued once; the outbox id (job, outcome) makes a repeat harmless.
   */
  private async enqueueEnded(): Promise<void> {
    for (const job of await this.outbox.endedUnqueued(100)) {
      const url = job.options.callbackUrl;
      if (url) await this.outbox.queue(job, url, callbackBody(job));
    }
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Every second: queues what ended, then claims due deliveries while fewer than {@link IN_FLIGHT} are under way,
   * skipping tenants that have {@link IN_FLIGHT_PER_TENANT} under way, and starts each without waiting for it.
   */
  private kick(): void {
    if (this.claiming) return;
    this.claiming = true;
    void this.claimAndStart().catch((error: unknown) => this.log.warn({ err: error }, 'webhook delivery pass failed')).finally(() => {
      this.claiming = false;
    });
  }

  private async claimAndStart(): Promise<void> {
    await this.enqueueEnded();
    while (this.inFlight < IN_FLIGHT) {
      const busy = [...this.perTenant].filter(([, n]) => n >= IN_FLIGHT_PER_TENANT).map(([tenant]) => tenant);
      const due = await this.outbox.claimDue(busy, LEASE_MS);
      if (!due) return;
      this.inFlight++;
      this.perTenant.set(due.tenant, (this.perTenant.get(due.tenant) ?? 0) + 1);
      void this.deliver(due).catch((error: unknown) => this.log.warn({ err: error, webhook: due._id }, 'webhook delivery failed')).finally(() => {
        this.inFlight--;
        const left = this.perTenant.get(due.tenant)! - 1;
        if (left > 0) this.perTenant.set(due.tenant, left);
        else this.perTenant.delete(due.tenant);
      });
    }
  }

  private async deliver(hook: WebhookRecord): Promise<void> {
    const secrets = await this.keys.webhookSecrets(hook.tenant);
    let error: string | undefined;
    try {
      const headers = { 'content-type': 'application/json', 'x-vdet-delivery': hook._id, ...webhookHeaders(secrets, hook.body) };
      const status = await guardedPost(hook.url, hook.body, headers, { ...this.network, timeoutMs: TIMEOUT_MS });
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (cause) {
      error = cause instanceof AddressRefused ? `refused: ${cause.message}` : cause instanceof Error ? cause.message : String(cause);
    }
    if (!error) {
      await this.outbox.delivered(hook._id);
      return;
    }
    const attempts = hook.attempts + 1;
    const expired = Date.now() - hook.createdAt.getTime() > GIVE_UP_AFTER_MS;
    this.log.warn({ webhook: hook._id, attempts, error, expired }, 'webhook not delivered');
    await this.outbox.retryAt(hook._id, attempts, error,
      expired ? new Date(8.64e15) : new Date(Date.now() + backoffMs(attempts, 1_000, 3_600_000, () => 0.5 + Math.random() / 2)));
  }
}

/** What a job's callback says: its outcome and summary. */
function callbackBody(job: JobRecord): string {
  return JSON.stringify({
    id: job._id, status: job.status, filename: job.filename, media: job.media ?? null, counts: job.counts ?? {},
    summary: job.summary ?? {}, error: job.error, createdAt: job.createdAt, finishedAt: job.finishedAt,
  });
}
