import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { ignoringDuplicate } from './documents.js';

/**
 * API keys, stored hashed (SHA-256 of a 32-byte random secret: no slow hash is needed for keys that cannot be
 * guessed), each belonging to one tenant. A key is shown once, when it is created.
 */
export interface ApiKeyRecord {
  _id: string;
  tenant: string;
  name: string;
  hash: string;
  createdAt: Date;
  revokedAt?: Date;
}

export interface TenantRecord {
  _id: string;
  /** Signs webhook bodies (HMAC-SHA256). */
  webhookSecret: string;
  /** The secret before the last rotation, which still signs alongside the new one until `previousUntil`. */
  previousWebhookSecret?: string;
  previousUntil?: Date;
  createdAt: Date;
}

/** A server-wide key vdet generates once and keeps, so that every replica shares it (`server_keys`). */
interface ServerKeyRecord {
  _id: string;
  key: string;
  createdAt: Date;
}

export interface ApiKeyIdentity {
  keyId: string;
  tenant: string;
}

const KEY_PREFIX = 'vdet_';

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeyStore {
  private readonly keys: Collection<ApiKeyRecord>;
  private readonly tenants: Collection<TenantRecord>;
  private readonly serverKeys: Collection<ServerKeyRecord>;

  constructor(db: Db) {
    this.keys = db.collection<ApiKeyRecord>('api_keys');
    this.tenants = db.collection<TenantRecord>('tenants');
    this.serverKeys = db.collection<ServerKeyRecord>('server_keys');
  }

  async ensureIndexes(): Promise<void> {
    await this.keys.createIndex({ hash: 1 }, { name: 'hash', unique: true });
  }

  /** Creates a key; the returned `key` is the only copy of the secret. */
  async create(tenant: string, name: string): Promise<{ id: string; key: string; tenant: string; name: string }> {
    const id = randomBytes(6).toString('hex');
    const key = `${KEY_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    await this.ensureTenant(tenant);
    await this.keys.insertOne({ _id: id, tenant, name, hash: hashKey(key), createdAt: new Date() });
    return { id, key, tenant, name };
  }

  /** Makes sure a given key exists (VDET_BOOTSTRAP_KEY): idempotent, so every process may run it at start-up. */
  async ensure(key: string, tenant: string, name: string): Promise<void> {
    const hash = hashKey(key);
    await this.ensureTenant(tenant);
    await ignoringDuplicate(() => this.keys.updateOne(
      { hash },
      { $setOnInsert: { _id: `boot-${hash.slice(0, 12)}`, tenant, name, hash, createdAt: new Date() } },
      { upsert: true },
    ));
  }

  async verify(key: string): Promise<ApiKeyIdentity | undefined> {
    if (key.length < 8 || key.length > 256) return undefined;
    const record = await this.keys.findOne({ hash: hashKey(key) });
    if (!record || record.revokedAt) return undefined;
    return { keyId: record._id, tenant: record.tenant };
  }

  list(): Promise<Omit<ApiKeyRecord, 'hash'>[]> {
    return this.keys.find({}, { projection: { hash: 0 } }).sort({ createdAt: 1 }).toArray();
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.keys.updateOne({ _id: id, revokedAt: { $exists: false } }, { $set: { revokedAt: new Date() } });
    return result.modifiedCount === 1;
  }

  async webhookSecret(tenant: string): Promise<string> {
    return (await this.webhookSecrets(tenant))[0]!;
  }

  /** The secrets that sign the tenant's webhooks now: the current one, and the previous one during an overlap. */
  async webhookSecrets(tenant: string): Promise<string[]> {
    await this.ensureTenant(tenant);
    const record = (await this.tenants.findOne({ _id: tenant }))!;
    const overlapping = record.previousWebhookSecret && record.previousUntil && record.previousUntil > new Date();
    return overlapping ? [record.webhookSecret, record.previousWebhookSecret!] : [record.webhookSecret];
  }

  /**
   * A new webhook secret for the tenant; the old one keeps signing beside it for `overlapMs`, so receivers can move
   * to the new one without a missed delivery (each delivery carries both signatures meanwhile).
   */
  async rotateWebhookSecret(tenant: string, overlapMs: number): Promise<string> {
    const current = await this.webhookSecret(tenant);
    const next = randomBytes(32).toString('base64url');
    await this.tenants.updateOne({ _id: tenant, webhookSecret: current }, {
      $set: { webhookSecret: next, previousWebhookSecret: current, previousUntil: new Date(Date.now() + overlapMs) },
    });
    return (await this.webhookSecret(tenant));
  }

  /**
   * The key that signs media tokens when VDET_MEDIA_TOKEN_KEY is not set: 32 random bytes made by the first api to
   * ask (the others read the same document), never a tenant's secret.
   */
  async mediaTokenKey(): Promise<string> {
    await ignoringDuplicate(() => this.serverKeys.updateOne(
      { _id: 'media-token' },
      { $setOnInsert: { key: randomBytes(32).toString('base64url'), createdAt: new Date() } },
      { upsert: true },
    ));
    const record = await this.serverKeys.findOne({ _id: 'media-token' });
    return record!.key;
  }

  private async ensureTenant(tenant: string): Promise<void> {
    await ignoringDuplicate(() => this.tenants.updateOne(
      { _id: tenant },
      { $setOnInsert: { webhookSecret: randomBytes(32).toString('base64url'), createdAt: new Date() } },
      { upsert: true },
    ));
  }
}
