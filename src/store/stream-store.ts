import type { Redis } from 'ioredis';
import type { Collection, Db } from 'mongodb';
import type { CameraSource } from '../contracts/camera.js';
import type { StreamSettings } from '../contracts/stream.js';
import type { ModelRef } from '../contracts/chunk.js';
import { fromJsonText, ignoringDuplicate, upsertRetried, withJsonText } from './documents.js';
import { RefreshingCache } from '../platform/refreshing-cache.js';
import { StreamFrameStore } from './stream-frame-store.js';
import { streamKey, type StreamRef } from '../contracts/stream-ref.js';
import { mongoStreamTrackingStore, type StreamTrackingRecord, type StreamTrackingStore } from './stream-track-store.js';

export { streamKey, type StreamRef } from '../contracts/stream-ref.js';

/** A stream (collection `streams`, `_id` = {@link streamKey}): who owns it and how it is processed. */
export interface StreamRecord extends StreamRef {
  _id: string;
  settings: StreamSettings;
  /** `settings.model` resolved when the settings were put: the registered version its frames run on (absent: the default). */
  model?: ModelRef;
  /** A camera vdet pulls for this stream (`PUT /v1/streams/{id}/source`); absent for pushed streams. */
  source?: CameraSource & { setAt: Date };
  createdAt: Date;
  updatedAt: Date;
}

/** A stream's settings that hold polygons, kept as JSON text (see withJsonText). */
const JSON_TEXT_SETTINGS = ['zones'] as const satisfies readonly (keyof StreamSettings)[];

/** A stream record as read from the store, its settings as the api took them. */
function streamFromStore(doc: StreamRecord | null): StreamRecord | null {
  if (!doc) return doc;
  const settings = fromJsonText(doc.settings, JSON_TEXT_SETTINGS);
  return settings === doc.settings ? doc : { ...doc, settings };
}

/** Live counters of a stream, kept in Redis. */
export type StreamCounter = 'framesIn' | 'dropped' | 'failed';

export interface StreamStats {
  framesIn: number;
  processed: number;
  dropped: number;
  failed: number;
  fps: number;
  lastSeen: number | null;
  latencyMs: { p50: number | null; p99: number | null };
}

const SETTINGS_CACHE_MS = 2_000;
const LATENCY_SAMPLES = 1000;

/**
 * Streams in MongoDB (owner, settings, processed frames) and their live counters in Redis. A stream is registered
 * by its tenant through the api; with stream tokens off (a single-tenant deployment), a stream first seen on Kafka
 * is registered to the default tenant. Records are cached for two seconds per process, so a settings change through
 * the api applies everywhere within that, with no restart. Counters are best effort (Redis holds nothing MongoDB
 * cannot rebuild).
 */
export class StreamStore {
  readonly streams: Collection<StreamRecord>;
  /** Its stored frames (src/store/stream-frame-store.ts). */
  readonly frames: StreamFrameStore;
  /** Each tracked stream's tracker state (src/store/stream-track-store.ts): the merger's port to it. */
  readonly tracking: StreamTrackingStore;
  private readonly trackingRecords: Collection<StreamTrackingRecord>;
  private readonly records = new RefreshingCache<StreamRecord>(async (key) => streamFromStore(await this.streams.findOne({ _id: key })), SETTINGS_CACHE_MS);

  constructor(db: Db, private readonly redis: Redis, private readonly defaultTenant: string) {
    this.streams = db.collection<StreamRecord>('streams');
    this.frames = new StreamFrameStore(db);
    this.trackingRecords = db.collection<StreamTrackingRecord>('stream_tracking');
    this.tracking = mongoStreamTrackingStore(this.trackingRecords, this.frames);
  }

  async ensureIndexes(): Promise<void> {
    await this.streams.createIndex({ tenant: 1, name: 1 }, { name: 'tenant_name' });
    await this.frames.ensureIndexes();
    await this.moveIntoNamespaces();
  }

  /** Records from before namespaces (`_id` = the bare stream id) move under their tenant's key, once. */
  private async moveIntoNamespaces(): Promise<void> {
    for (const old of await this.streams.find({ name: { $exists: false } }).limit(10_000).toArray()) {
      const ref = { tenant: old.tenant, name: old._id };
      await ignoringDuplicate(() => this.streams.insertOne({ ...old, ...ref, _id: streamKey(ref) }));
      await this.streams.deleteOne({ _id: old._id, name: { $exists: false } });
    }
  }

  /** The stream's record (cached, see {@link RefreshingCache}), or null when its tenant never registered it. */
  get(ref: StreamRef): Promise<StreamRecord | null> {
    return this.records.get(streamKey(ref));
  }

  /** A stream first seen on Kafka with stream tokens off: its record, registering it to the default tenant. */
  async getOrRegister(name: string): Promise<StreamRecord> {
    const ref = { tenant: this.defaultTenant, name };
    const known = await this.get(ref);
    if (known) return known;
    const now = new Date();
    await ignoringDuplicate(() => this.streams.updateOne(
      { _id: streamKey(ref) }, { $setOnInsert: { ...ref, settings: {}, createdAt: now, updatedAt: now } }, { upsert: true },
    ));
    this.records.delete(streamKey(ref));
    return (await this.get(ref))!;
  }

  /** A tenant's stream, read now (the api's view), or null exactly as if it did not exist. */
  async findForTenant(tenant: string, name: string): Promise<StreamRecord | null> {
    return streamFromStore(await this.streams.findOne({ _id: streamKey({ tenant, name }) }));
  }

  /** How many streams the tenant has registered (counted up to `atMost`). */
  countForTenant(tenant: string, atMost: number): Promise<number> {
    return this.streams.countDocuments({ tenant }, { limit: atMost });
  }

  /** A tenant's streams by name (at most a thousand), read now. */
  async list(tenant: string): Promise<StreamRecord[]> {
    const records = await this.streams.find({ tenant }).sort({ name: 1 }).limit(1000).toArray();
    return records.map((r) => streamFromStore(r)!);
  }

  /**
   * Sets a stream's settings in the tenant's namespace, registering the stream when it is new, with the registered
   * model version `settings.model` resolved to (undefined: the default model).
   */
  async putSettings(ref: StreamRef, settings: StreamSettings, model?: ModelRef): Promise<StreamRecord> {
    const now = new Date();
    const key = streamKey(ref);
    // One atomic write that answers the record as written: a read after it could find the stream deleted meanwhile.
    const record = await upsertRetried(() => this.streams.findOneAndUpdate({ _id: key }, {
      $set: { settings: withJsonText(settings, JSON_TEXT_SETTINGS), updatedAt: now, ...(model ? { model } : {}) },
      ...(model ? {} : { $unset: { model: '' as const } }),
      $setOnInsert: { ...ref, createdAt: now },
    },
      { upsert: true, returnDocument: 'after' },
    ));
    this.records.delete(key);
    return streamFromStore(record)!;
  }

  /** Sets the camera a processor pulls for the stream, registering the stream when it is new. */
  async putSource(ref: StreamRef, source: CameraSource): Promise<StreamRecord> {
    const now = new Date();
    const key = streamKey(ref);
    const record = await upsertRetried(() => this.streams.findOneAndUpdate(
      { _id: key }, { $set: { source: { ...source, setAt: now }, updatedAt: now }, $setOnInsert: { ...ref, settings: {}, createdAt: now } },
      { upsert: true, returnDocument: 'after' },
    ));
    this.records.delete(key);
    return streamFromStore(record)!;
  }

  /** Stops pulling the stream's camera (the stream stays, and frames may still be pushed to it). */
  async removeSource(ref: StreamRef): Promise<boolean> {
    const { modifiedCount } = await this.streams.updateOne({ _id: streamKey(ref), source: { $exists: true } }, { $unset: { source: '' }, $set: { updatedAt: new Date() } });
    this.records.delete(streamKey(ref));
    return modifiedCount > 0;
  }

  /** Every stream with a camera source, of every tenant (what processors share out), read now. */
  async withSources(limit = 10_000): Promise<StreamRecord[]> {
    const records = await this.streams.find({ source: { $exists: true } }).limit(limit).toArray();
    return records.map((r) => streamFromStore(r)!);
  }

  /** Forgets a stream: its record, stored frames and counters (its tokens are the token store's). */
  async remove(ref: StreamRef): Promise<boolean> {
    const { deletedCount } = await this.streams.deleteOne({ _id: streamKey(ref) });
    this.records.delete(streamKey(ref));
    await this.frames.remove(ref);
    await this.trackingRecords.deleteOne({ _id: streamKey(ref) });
    await this.redis.del(this.key(ref, 'stats'), this.key(ref, 'latency')).catch(() => undefined);
    return deletedCount > 0;
  }

  private key(ref: StreamRef, what: string): string {
    return `stream:${streamKey(ref)}:${what}`;
  }

  async count(ref: StreamRef, field: StreamCounter, n = 1): Promise<void> {
    await this.countAll(new Map([[streamKey(ref), { ref, fields: { [field]: n } }]]));
  }

  /** Adds several streams' counters (keyed by {@link streamKey}) in one Redis round trip (best effort, like every counter here). */
  async countAll(counts: ReadonlyMap<string, { ref: StreamRef; fields: Partial<Record<StreamCounter, number>> }>): Promise<void> {
    const changed = [...counts.values()].filter(({ fields }) => Object.values(fields).some((n) => n));
    if (changed.length === 0) return;
    const tx = this.redis.multi();
    const now = Date.now();
    for (const { ref, fields } of changed) {
      for (const [field, n] of Object.entries(fields)) if (n) tx.hincrby(this.key(ref, 'stats'), field, n);
      tx.hset(this.key(ref, 'stats'), 'lastSeen', now);
    }
    await tx.exec().catch(() => undefined);
  }

  /**
   * Counts processed frames, keeps their latencies for the stats, and announces each result on the stream's
   * events channel (server-sent events), all in one round trip.
   */
  async recordProcessed(ref: StreamRef, latencies: number[], events?: { channel: string; messages: string[] }): Promise<void> {
    const now = Date.now();
    const tx = this.redis.multi()
      .hincrby(this.key(ref, 'stats'), 'processed', latencies.length)
      .lpush(this.key(ref, 'latency'), ...latencies.map((l) => `${now}:${Math.round(l)}`))
      .ltrim(this.key(ref, 'latency'), 0, LATENCY_SAMPLES - 1);
    for (const message of events?.messages ?? []) tx.publish(events!.channel, message);
    await tx.exec().catch(() => undefined);
  }

  async stats(ref: StreamRef): Promise<StreamStats> {
    const [hash, samples] = await Promise.all([
      this.redis.hgetall(this.key(ref, 'stats')).catch(() => ({} as Record<string, string>)),
      this.redis.lrange(this.key(ref, 'latency'), 0, LATENCY_SAMPLES - 1).catch(() => [] as string[]),
    ]);
    const parsed = samples.map((s) => s.split(':').map(Number) as [number, number]);
    const latencies = parsed.map(([, l]) => l).sort((a, b) => a - b);
    const recent = parsed.filter(([at]) => at > Date.now() - 10_000).length;
    const q = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! : null);
    return {
      framesIn: Number(hash['framesIn'] ?? 0),
      processed: Number(hash['processed'] ?? 0),
      dropped: Number(hash['dropped'] ?? 0),
      failed: Number(hash['failed'] ?? 0),
      fps: recent / 10,
      lastSeen: hash['lastSeen'] ? Number(hash['lastSeen']) : null,
      latencyMs: { p50: q(0.5), p99: q(0.99) },
    };
  }
}
