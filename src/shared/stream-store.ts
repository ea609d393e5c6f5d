import type { Redis } from 'ioredis';
import type { Collection, Db } from 'mongodb';
import type { Detection } from './contracts/messages.js';
import type { StreamSettings } from './contracts/stream.js';

/** A stream (collection `streams`): who owns it and how it is processed. Registered on its first frame. */
export interface StreamRecord {
  _id: string;
  tenant: string;
  settings: StreamSettings;
  createdAt: Date;
  updatedAt: Date;
}

/** One processed stream frame (collection `stream_frames`), unique per (stream, seq). */
export interface StreamFrameRecord {
  _id: string;
  tenant: string;
  stream: string;
  seq: number;
  ts: number;
  width: number;
  height: number;
  detections: Detection[];
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
 * Streams in MongoDB (owner, settings, processed frames) and their live counters in Redis. Settings are cached for
 * two seconds per process, so a change through the api applies everywhere within that, with no restart. Counters
 * are best effort (Redis holds nothing MongoDB cannot rebuild).
 */
export class StreamStore {
  readonly streams: Collection<StreamRecord>;
  readonly frames: Collection<StreamFrameRecord>;
  private readonly cache = new Map<string, { record: StreamRecord; until: number; refreshing: boolean }>();

  constructor(db: Db, private readonly redis: Redis, private readonly defaultTenant: string) {
    this.streams = db.collection<StreamRecord>('streams');
    this.frames = db.collection<StreamFrameRecord>('stream_frames');
  }

  async ensureIndexes(): Promise<void> {
    await this.streams.createIndex({ tenant: 1, _id: 1 }, { name: 'tenant_stream' });
    await this.frames.createIndex({ stream: 1, ts: 1 }, { name: 'stream_ts' });
    await this.frames.createIndex({ tenant: 1, stream: 1, seq: 1 }, { name: 'tenant_stream_seq', unique: true });
  }

  /**
   * The stream's record, registering it (to the default tenant) on first sight. Cached: after two seconds a read
   * still answers from the cache and refreshes it in the background, so a settings change applies within about that
   * and no frame waits for MongoDB once its stream is known.
   */
  async get(stream: string): Promise<StreamRecord> {
    const hit = this.cache.get(stream);
    if (hit) {
      if (hit.until <= Date.now() && !hit.refreshing) {
        hit.refreshing = true;
        void this.load(stream).catch(() => {
          hit.refreshing = false; // MongoDB is away: keep the last settings, try again on the next frame
        });
      }
      return hit.record;
    }
    return this.load(stream);
  }

  private async load(stream: string): Promise<StreamRecord> {
    let record = await this.streams.findOne({ _id: stream });
    if (!record) {
      const now = new Date();
      await this.streams.updateOne({ _id: stream }, { $setOnInsert: { tenant: this.defaultTenant, settings: {}, createdAt: now, updatedAt: now } }, { upsert: true })
        .catch((error: { code?: number }) => {
          if (error.code !== 11000) throw error; // registered by another process at the same moment
        });
      record = (await this.streams.findOne({ _id: stream }))!;
    }
    this.cache.set(stream, { record, until: Date.now() + SETTINGS_CACHE_MS, refreshing: false });
    return record;
  }

  /** A tenant's stream, or null exactly as if it did not exist. */
  findForTenant(tenant: string, stream: string): Promise<StreamRecord | null> {
    return this.streams.findOne({ _id: stream, tenant });
  }

  /** Sets a stream's settings, claiming an unknown stream for the tenant; null when another tenant owns it. */
  async putSettings(tenant: string, stream: string, settings: StreamSettings): Promise<StreamRecord | null> {
    const now = new Date();
    try {
      await this.streams.updateOne(
        { _id: stream, tenant },
        { $set: { settings, updatedAt: now }, $setOnInsert: { createdAt: now } },
        { upsert: true },
      );
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return null; // the id exists under another tenant
      throw error;
    }
    this.cache.delete(stream);
    return this.findForTenant(tenant, stream);
  }

  private key(stream: string, what: string): string {
    return `stream:${stream}:${what}`;
  }

  async count(stream: string, field: StreamCounter, n = 1): Promise<void> {
    await this.countAll(new Map([[stream, { [field]: n }]]));
  }

  /** Adds several streams' counters in one Redis round trip (best effort, like every counter here). */
  async countAll(counts: ReadonlyMap<string, Partial<Record<StreamCounter, number>>>): Promise<void> {
    const changed = [...counts].filter(([, fields]) => Object.values(fields).some((n) => n));
    if (changed.length === 0) return;
    const tx = this.redis.multi();
    const now = Date.now();
    for (const [stream, fields] of changed) {
      for (const [field, n] of Object.entries(fields)) if (n) tx.hincrby(this.key(stream, 'stats'), field, n);
      tx.hset(this.key(stream, 'stats'), 'lastSeen', now);
    }
    await tx.exec().catch(() => undefined);
  }

  /**
   * Counts processed frames, keeps their latencies for the stats, and announces each result on the stream's
   * events channel (server-sent events), all in one round trip.
   */
  async recordProcessed(stream: string, latencies: number[], events?: { channel: string; messages: string[] }): Promise<void> {
    const now = Date.now();
    const tx = this.redis.multi()
      .hincrby(this.key(stream, 'stats'), 'processed', latencies.length)
      .lpush(this.key(stream, 'latency'), ...latencies.map((l) => `${now}:${Math.round(l)}`))
      .ltrim(this.key(stream, 'latency'), 0, LATENCY_SAMPLES - 1);
    for (const message of events?.messages ?? []) tx.publish(events!.channel, message);
    await tx.exec().catch(() => undefined);
  }

  async stats(stream: string): Promise<StreamStats> {
    const [hash, samples] = await Promise.all([
      this.redis.hgetall(this.key(stream, 'stats')).catch(() => ({} as Record<string, string>)),
      this.redis.lrange(this.key(stream, 'latency'), 0, LATENCY_SAMPLES - 1).catch(() => [] as string[]),
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
