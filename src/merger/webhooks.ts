import type { Logger } from 'pino';
import type { Collection, Db } from 'mongodb';
import { PUBLIC_ONLY, type AddressPolicy } from '../platform/address-policy.js';
import type { ApiKeyStore } from '../store/api-keys.js';
import { AddressRefused, guardedPost, type Resolver } from '../platform/guarded-http.js';
import { ignoringDuplicate } from '../store/documents.js';
import { jobFromStore, type JobRecord } from '../store/job-record.js';
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
interface WebhookRecord {
  _id: string;
  tenant: string;
  url: string;
  body: string;
  attempts: number;
  nextAt: Date;
  leaseUntil: Date;
  createdAt: Date;
  deliveredAt?: Date;
  lastError?: string;
}

const LEASE_MS = 30_000;
const GIVE_UP_AFTER_MS = 3 * 24 * 3600 * 1000;
const TIMEOUT_MS = 10_000;
/** Deliveries under way at once per merger, and of those at most this many to one tenant: a slow receiver holds
 * two of eight, never the others' callbacks. */
const IN_FLIGHT = 8;
const IN_FLIGHT_PER_TENANT = 2;

export class WebhookOutbox {
  private readonly outbox: Collection<WebhookRecord>;
  private timer: NodeJS.Timeout | undefined;
  private claiming = false;
  private inFlight = 0;
  private readonly perTenant = new Map<string, number>();

  constructor(
    db: Db, private readonly jobs: Collection<JobRecord>, private readonly keys: ApiKeyStore, private readonly log: Logger,
    private readonly network: { policy: AddressPolicy; resolve?: Resolver } = { policy: PUBLIC_ONLY },
  ) {
    this.outbox = db.collection<WebhookRecord>('webhooks');
  }

  async ensureIndexes(): Promise<void> {
    await this.outbox.createIndex({ deliveredAt: 1, nextAt: 1 }, { name: 'due' });
  }

  /**
   * Queues the callbacks of jobs that ended (whoever ended them: processor, merger or reaper) and marks them, so
   * each is queued once; the outbox id (job, outcome) makes a repeat harmless.
   */
  private async enqueueEnded(): Promise<void> {
    const ended = await this.jobs.find({
      status: { $in: ['done', 'failed'] }, 'options.callbackUrl': { $exists: true }, callbackQueuedAt: { $exists: false },
    }).limit(100).toArray();
    for (const job of ended.map(jobFromStore)) {
      await this.enqueue(job);
      await this.jobs.updateOne({ _id: job._id }, { $set: { callbackQueuedAt: new Date() } });
    }
  }

  private async enqueue(job: JobRecord): Promise<void> {
    const url = job.options.callbackUrl;
    if (!url) return;
    const body = JSON.stringify({
      id: job._id, status: job.status, filename: job.filename, media: job.media ?? null, counts: job.counts ?? {},
      summary: job.summary ?? {}, error: job.error, createdAt: job.createdAt, finishedAt: job.finishedAt,
    });
    const now = new Date();
    await ignoringDuplicate(() => this.outbox.updateOne(
      { _id: `${job._id}:${job.status}` },
      { $setOnInsert: { tenant: job.tenant, url, body, attempts: 0, nextAt: now, leaseUntil: new Date(0), createdAt: now } },
      { upsert: true },
    ));
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
      const now = new Date();
      const due = await this.outbox.findOneAndUpdate(
        { deliveredAt: { $exists: false }, nextAt: { $lte: now }, leaseUntil: { $lte: now }, ...(busy.length > 0 ? { tenant: { $nin: busy } } : {}) },
        { $set: { leaseUntil: new Date(now.getTime() + LEASE_MS) } },
        { returnDocument: 'after' },
      );
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
      await this.outbox.updateOne({ _id: hook._id }, { $set: { deliveredAt: new Date() }, $inc: { attempts: 1 } });
      return;
    }
    const attempts = hook.attempts + 1;
    const expired = Date.now() - hook.createdAt.getTime() > GIVE_UP_AFTER_MS;
    this.log.warn({ webhook: hook._id, attempts, error, expired }, 'webhook not delivered');
    await this.outbox.updateOne({ _id: hook._id }, {
      $set: {
        attempts, lastError: error, leaseUntil: new Date(0),
        nextAt: expired ? new Date(8.64e15) : new Date(Date.now() + backoffMs(attempts, 1_000, 3_600_000, () => 0.5 + Math.random() / 2)),
      },
    });
  }
}
