import { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import { streamKey, type StreamRef } from '../contracts/stream-ref.js';

/**
 * Live job progress in Redis. Progress counts distinct chunks (a set per job), so a redelivered chunk changes
 * nothing. Redis holds nothing that MongoDB cannot rebuild: when it is down or lost, readers fall back to MongoDB.
 */
export interface ProgressStore {
  /** Records a merged chunk; returns the job's frames done (counting each chunk once). */
  recordChunk(jobId: string, chunk: number, frames: number): Promise<number>;
  framesDone(jobId: string): Promise<number | undefined>;
  /** Publishes a job event (progress, done, failed) for live listeners on any api process. */
  publish(jobId: string, event: JobEvent): Promise<void>;
  forget(jobId: string): Promise<void>;
  /** Flags a job as cancelled so that workers skip what is left of it (false when Redis cannot say). */
  markCancelled(jobId: string): Promise<void>;
  isCancelled(jobId: string): Promise<boolean>;
  ping(): Promise<void>;
}

export type JobEvent =
  | { type: 'progress'; framesDone: number; framesTotal: number }
  | { type: 'done' | 'failed'; status: string };

const TTL_S = 7 * 24 * 3600;

// SADD then INCRBY only when the chunk is new: one round trip, atomic, idempotent.
const RECORD_CHUNK = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if added == 1 then
  local n = redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return n
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`;

/**
 * The process's Redis connection. Commands fail fast while Redis is down (no offline queue): nothing in Redis is
 * needed for correctness, so callers degrade instead of waiting. It reconnects by itself.
 */
export function connectRedis(config: Config['redis']): Redis {
  const redis = new Redis(config.url, {
    keyPrefix: config.keyPrefix,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on('error', () => undefined); // reported through ping() and failed calls
  return redis;
}

/** Redis channel of a job's live events (not key-prefixed by ioredis, so the prefix is added here). */
export function jobEventsChannel(config: Config['redis'], jobId: string): string {
  return `${config.keyPrefix}events:job:${jobId}`;
}

/** Redis channel of a stream's live results. */
export function streamEventsChannel(config: Config['redis'], stream: StreamRef): string {
  return `${config.keyPrefix}events:stream:${streamKey(stream)}`;
}

export function createProgressStore(redis: Redis, config: Config['redis']): ProgressStore {
  const chunksKey = (jobId: string) => `job:${jobId}:chunks`;
  const framesKey = (jobId: string) => `job:${jobId}:frames`;
  return {
    async recordChunk(jobId, chunk, frames) {
      const result = await redis.eval(RECORD_CHUNK, 2, chunksKey(jobId), framesKey(jobId), chunk, frames, TTL_S);
      return Number(result);
    },
    async framesDone(jobId) {
      const value = await redis.get(framesKey(jobId));
      return value === null ? undefined : Number(value);
    },
    async publish(jobId, event) {
      await redis.publish(jobEventsChannel(config, jobId), JSON.stringify(event));
    },
    async forget(jobId) {
      await redis.del(chunksKey(jobId), framesKey(jobId));
    },
    async markCancelled(jobId) {
      await redis.set(`cancelled:${jobId}`, '1', 'EX', TTL_S);
    },
    async isCancelled(jobId) {
      return (await redis.exists(`cancelled:${jobId}`).catch(() => 0)) === 1;
    },
    async ping() {
      await redis.ping();
    },
  };
}
