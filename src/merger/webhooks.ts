import type { Logger } from 'pino';
import type { Collection, Db } from 'mongodb';
import { PUBLIC_ONLY, type AddressPolicy } from '../shared/address-policy.js';
import type { ApiKeyStore } from '../shared/api-keys.js';
import { AddressRefused, guardedPost, type Resolver } from '../shared/guarded-http.js';
import type { JobRecord } from '../shared/mongo.js';
import { backoffMs } from '../shared/retry.js';
import { webhookHeaders } from '../shared/webhook-signature.js';

/**
 * Job callbacks: when a job with a `callbackUrl` ends, a POST with its summary, signed with the tenant's secret
 * (`X-Vdet-Timestamp`, `X-Vdet-Key-Id`, `X-Vdet-Signature: v1=<hex HMAC-SHA256 of timestamp "." body>`:
 * src/shared/webhook-signature.ts, docs/security.md), retried with backoff until a 2xx — at least once.
 * Deliveries are an outbox in MongoDB (`webhooks`), so a restart loses none; a lease lets several mergers share it.
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

export class WebhookOutbox {
  private readonly outbox: Collection<WebhookRecord>;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

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
    for (const job of ended) {
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
    await this.outbox.updateOne(
      { _id: `${job._id}:${job.status}` },
      { $setOnInsert: { tenant: job.tenant, url, body, attempts: 0, nextAt: now, leaseUntil: new Date(0), createdAt: now } },
      { upsert: true },
    ).catch((error: { code?: number }) => {
      if (error.code !== 11000) throw error;
    });
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.deliverDue().catch((error: unknown) => this.log.warn({ err: error }, 'webhook delivery pass failed')).finally(() => {
      this.running = false;
    });
  }

  private async deliverDue(): Promise<void> {
    await this.enqueueEnded();
    for (let i = 0; i < 50; i++) {
      const now = new Date();
      const due = await this.outbox.findOneAndUpdate(
        { deliveredAt: { $exists: false }, nextAt: { $lte: now }, leaseUntil: { $lte: now } },
        { $set: { leaseUntil: new Date(now.getTime() + LEASE_MS) } },
        { returnDocument: 'after' },
      );
      if (!due) return;
      await this.deliver(due);
    }
  }

  private async deliver(hook: WebhookRecord): Promise<void> {
    const secret = await this.keys.webhookSecret(hook.tenant);
    let error: string | undefined;
    try {
      const headers = { 'content-type': 'application/json', 'x-vdet-delivery': hook._id, ...webhookHeaders(secret, hook.body) };
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
