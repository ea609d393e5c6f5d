import { randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { hashKey } from './api-keys.js';
import { RefreshingCache } from '../platform/refreshing-cache.js';
import type { StreamRef } from './stream-store.js';

/**
 * An ingest token (collection `stream_tokens`): the credential a camera puts in each frame's `vdet-token` header.
 * It grants one thing, pushing frames into one stream of one tenant. Stored as its SHA-256 (the token is 32 random
 * bytes: no slow hash is needed); shown once, when it is minted.
 */
export interface StreamTokenRecord extends StreamRef {
  /** Short id, also inside the token, so that a user can tell which token a camera holds. */
  _id: string;
  hash: string;
  createdAt: Date;
  /** Refreshed at most every few seconds while frames come in with it: whether a token is still used, for rotation. */
  lastUsedAt?: Date;
}

export interface StreamTokenView {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Several tokens at a time, so a camera can move to a new one before the old one is revoked; this many at most. */
export const TOKENS_PER_STREAM = 10;
const TOKEN_CACHE_MS = 2_000;
const TOKEN_PREFIX = 'vdet_st_';
const TOKEN_SHAPE = /^vdet_st_[0-9a-f]{12}_[\w-]{32}$/;

/**
 * Mints, lists and revokes ingest tokens (the api), and resolves a frame's token to its stream (the processor).
 * Resolution is cached for two seconds per process: a revoked token stops working within about that. A string that
 * is not even shaped like a token is refused without asking MongoDB.
 */
export class StreamTokenStore {
  private readonly tokens: Collection<StreamTokenRecord>;
  private readonly resolved = new RefreshingCache<StreamRef>((hash) => this.lookUp(hash), TOKEN_CACHE_MS);

  constructor(db: Db) {
    this.tokens = db.collection<StreamTokenRecord>('stream_tokens');
  }

  async ensureIndexes(): Promise<void> {
    await this.tokens.createIndex({ hash: 1 }, { name: 'hash', unique: true });
    await this.tokens.createIndex({ tenant: 1, name: 1 }, { name: 'tenant_name' });
  }

  /** A new token for the stream; the returned `token` is the only copy. Null when the stream has the most it may. */
  async mint(ref: StreamRef): Promise<{ token: string; view: StreamTokenView } | null> {
    if ((await this.tokens.countDocuments({ tenant: ref.tenant, name: ref.name })) >= TOKENS_PER_STREAM) return null;
    const id = randomBytes(6).toString('hex');
    const token = `${TOKEN_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    const record: StreamTokenRecord = { _id: id, tenant: ref.tenant, name: ref.name, hash: hashKey(token), createdAt: new Date() };
    await this.tokens.insertOne(record);
    return { token, view: view(record) };
  }

  async list(ref: StreamRef): Promise<StreamTokenView[]> {
    const records = await this.tokens.find({ tenant: ref.tenant, name: ref.name }).sort({ createdAt: 1 }).toArray();
    return records.map(view);
  }

  /** Revokes one token of the stream; false when the stream has no token with this id. */
  async revoke(ref: StreamRef, id: string): Promise<boolean> {
    return (await this.tokens.deleteOne({ _id: id, tenant: ref.tenant, name: ref.name })).deletedCount > 0;
  }

  /** Revokes every token of the stream (the stream is being removed). */
  async revokeAll(ref: StreamRef): Promise<void> {
    await this.tokens.deleteMany({ tenant: ref.tenant, name: ref.name });
  }

  /** The stream a token grants, or null for no such token (revoked, never minted, or not a token at all). */
  resolve(token: string): Promise<StreamRef | null> {
    if (!TOKEN_SHAPE.test(token)) return Promise.resolve(null);
    return this.resolved.get(hashKey(token));
  }

  private async lookUp(hash: string): Promise<StreamRef | null> {
    const record = await this.tokens.findOneAndUpdate({ hash }, { $set: { lastUsedAt: new Date() } }, { returnDocument: 'after' });
    return record ? { tenant: record.tenant, name: record.name } : null;
  }
}

function view(record: StreamTokenRecord): StreamTokenView {
  return { id: record._id, createdAt: record.createdAt.toISOString(), lastUsedAt: record.lastUsedAt?.toISOString() ?? null };
}
