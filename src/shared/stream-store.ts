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
  private readonly cache = new Map<string, { record: StreamRecord; until: number }>();

  constructor(db: Db, private readonly redis: Redis, private readonly defaultTenant: string) {
    this.streams = db.collection<StreamRecord>('streams');
    this.frames = db.collection<StreamFrameRecord>('stream_frames');
  }

  async ensureIndexes(): Promise<void> {
    await this.streams.createIndex({ tenant: 1, _id: 1 }, { name: 'tenant_stream' });
    await this.frames.createIndex({ stream: 1, ts: 1 }, { name: 'stream_ts' });
    await this.frames.createIndex({ tenant: 1, stream: 1, seq: 1 }, { name: 'tenant_stream_seq', unique: true });
  }

  /** The stream's record, registering it (to the default tenant) on first sight; cached briefly. */
  async get(stream: string): Promise<StreamRecord> {
    const hit = this.cache.get(stream);
    if (hit && hit.until > Date.now()) return hit.record;
    let record = await this.streams.findOne({ _id: stream });
    if (!record) {
      const now = new Date();
      await this.streams.updateOne({ _id: stream }, { $setOnInsert: { tenant: this.defaultTenant, settings: {}, createdAt: now, updatedAt: now } }, { upsert: true })
        .catch((error: { code?: number }) => {
          if (error.code !== 11000) throw error; // registered by another process at the same moment
        });
      record = (await this.streams.findOne({ _id: stream }))!;
    }
    this.cache.set(stream, { record, until: Date.now() + SETTINGS_CACHE_MS });
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

  async count(stream: string, field: 'framesIn' | 'dropped' | 'failed', n = 1): Promise<void> {
    if (n === 0) return;
    await this.redis.multi().hincrby(this.key(stream, 'stats'), field, n).hset(this.key(stream, 'stats'), 'lastSeen', Date.now()).exec().catch(() => undefined);
  }

  async recordProcessed(stream: string, latencies: number[]): Promise<void> {
    const now = Date.now();
    await this.redis.multi()
      .hincrby(this.key(stream, 'stats'), 'processed', latencies.length)
      .lpush(this.key(stream, 'latency'), ...latencies.map((l) => `${now}:${Math.round(l)}`))
      .ltrim(this.key(stream, 'latency'), 0, LATENCY_SAMPLES - 1)
      .exec()
      .catch(() => undefined);
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
