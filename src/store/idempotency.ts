import type { Collection } from 'mongodb';
import type { Store } from './mongo.js';

/** Idempotency-Key records: (tenant, key) → job id, honoured for 24 hours. */
interface IdempotencyRecord {
  _id: string;
  jobId: string;
  createdAt: Date;
}

const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

function idempotency(store: Store): Collection<IdempotencyRecord> {
  return store.db.collection<IdempotencyRecord>('idempotency');
}

/** Idempotency-Key records, as the api's jobs route uses them. */
export interface IdempotencyKeys {
  /** The job a (tenant, key) named within the last 24 h. */
  find(tenant: string, key: string): Promise<string | undefined>;
  /** Claims (tenant, key) for `jobId`; the job id of whoever claimed it first. */
  claim(tenant: string, key: string, jobId: string): Promise<string>;
  release(tenant: string, key: string): Promise<void>;
}

export function mongoIdempotencyKeys(store: Store): IdempotencyKeys {
  return {
    find: (tenant, key) => findIdempotentJob(store, tenant, key),
    claim: (tenant, key, jobId) => claimIdempotencyKey(store, tenant, key, jobId),
    release: (tenant, key) => releaseIdempotencyKey(store, tenant, key),
  };
}

async function findIdempotentJob(store: Store, tenant: string, key: string): Promise<string | undefined> {
  const record = await idempotency(store).findOne({ _id: `${tenant}:${key}`, createdAt: { $gt: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS) } });
  return record?.jobId;
}

/**
 * Claims (tenant, key) for a new job before its upload is read; when another request claimed it first (a race),
 * returns that request's job id instead. A stale claim (over 24 h) is replaced.
 */
async function claimIdempotencyKey(store: Store, tenant: string, key: string, jobId: string): Promise<string> {
  const _id = `${tenant}:${key}`;
  await idempotency(store).deleteOne({ _id, createdAt: { $lte: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS) } });
  try {
    await idempotency(store).insertOne({ _id, jobId, createdAt: new Date() });
    return jobId;
  } catch (error) {
    const existing = await idempotency(store).findOne({ _id });
    if (existing) return existing.jobId;
    throw error;
  }
}

async function releaseIdempotencyKey(store: Store, tenant: string, key: string): Promise<void> {
  await idempotency(store).deleteOne({ _id: `${tenant}:${key}` });
}
