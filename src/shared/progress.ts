import { Redis } from 'ioredis';
import type { Config } from './config.js';

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
  ping(): Promise<void>;
  close(): Promise<void>;
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

export function createProgressStore(config: Config['redis']): ProgressStore {
  const redis = new Redis(config.url, {
    keyPrefix: config.keyPrefix,
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on('error', () => undefined); // reported through ping() and failed calls; reconnects by itself
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
      await redis.publish(`${config.keyPrefix}events:job:${jobId}`, JSON.stringify(event));
    },
    async forget(jobId) {
      await redis.del(chunksKey(jobId), framesKey(jobId));
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
