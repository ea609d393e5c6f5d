import type { Collection, Db } from 'mongodb';
import { ignoringDuplicate } from './documents.js';
import { jobFromStore, type JobRecord } from './job-record.js';

/** One job callback to deliver (collection `webhooks`, `_id` = `{jobId}:{status}`): the outbox src/merger/webhooks.ts drains. */
export interface WebhookRecord {
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

/**
 * The webhook outbox in MongoDB: callbacks queued once per (job, outcome), claimed under a lease (so several mergers
 * share it, and a crashed one's claims come back), marked delivered or moved to their next attempt.
 */
export class WebhookOutboxStore {
  private readonly outbox: Collection<WebhookRecord>;

  constructor(db: Db, private readonly jobs: Collection<JobRecord>) {
    this.outbox = db.collection<WebhookRecord>('webhooks');
  }

  async ensureIndexes(): Promise<void> {
    await this.outbox.createIndex({ deliveredAt: 1, nextAt: 1 }, { name: 'due' });
  }

  /** Jobs that ended with a `callbackUrl` whose callback is not queued yet (at most `limit`). */
  async endedUnqueued(limit: number): Promise<JobRecord[]> {
    const ended = await this.jobs.find({
      status: { $in: ['done', 'failed'] }, 'options.callbackUrl': { $exists: true }, callbackQueuedAt: { $exists: false },
    }).limit(limit).toArray();
    return ended.map(jobFromStore);
  }

  /** Queues a job's callback (a repeat, by its id, changes nothing) and marks the job as queued. */
  async queue(job: Pick<JobRecord, '_id' | 'status' | 'tenant'>, url: string, body: string): Promise<void> {
    const now = new Date();
    await ignoringDuplicate(() => this.outbox.updateOne(
      { _id: `${job._id}:${job.status}` },
      { $setOnInsert: { tenant: job.tenant, url, body, attempts: 0, nextAt: now, leaseUntil: new Date(0), createdAt: now } },
      { upsert: true },
    ));
    await this.jobs.updateOne({ _id: job._id }, { $set: { callbackQueuedAt: new Date() } });
  }

  /** Claims one due delivery for `leaseMs`, of a tenant not in `busy`; null when none is due. */
  async claimDue(busy: readonly string[], leaseMs: number): Promise<WebhookRecord | null> {
    const now = new Date();
    return this.outbox.findOneAndUpdate(
      { deliveredAt: { $exists: false }, nextAt: { $lte: now }, leaseUntil: { $lte: now }, ...(busy.length > 0 ? { tenant: { $nin: [...busy] } } : {}) },
      { $set: { leaseUntil: new Date(now.getTime() + leaseMs) } },
      { returnDocument: 'after' },
    );
  }

  async delivered(id: string): Promise<void> {
    await this.outbox.updateOne({ _id: id }, { $set: { deliveredAt: new Date() }, $inc: { attempts: 1 } });
  }

  /** An attempt failed: the next one at `nextAt`, its lease given back. */
  async retryAt(id: string, attempts: number, error: string, nextAt: Date): Promise<void> {
    await this.outbox.updateOne({ _id: id }, { $set: { attempts, lastError: error, leaseUntil: new Date(0), nextAt } });
  }
}
