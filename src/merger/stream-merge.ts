import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { StreamFramesDone } from '../shared/contracts/messages.js';
import { StreamResult } from '../shared/contracts/stream.js';
import type { KafkaBus } from '../shared/kafka.js';
import { streamEventsChannel } from '../shared/progress.js';
import { metrics } from '../shared/metrics.js';
import type { StreamStore } from '../shared/stream-store.js';
import type { TopicNames } from '../shared/topics.js';

export interface StreamMergeDeps {
  bus: KafkaBus;
  streams: StreamStore;
  redis: Redis;
  topics: TopicNames;
  config: Config;
}

/**
 * Stores a stream chunk's frames (upserts, unique per stream and sequence number: a redelivery changes nothing),
 * then publishes each frame's result to `vdet.results` in sequence order, then counts and announces them.
 * After a crash between the store and the publish, the redelivered chunk publishes again: `vdet.results` is
 * at-least-once, and consumers dedupe by (stream, seq).
 */
export async function mergeStreamFrames(deps: StreamMergeDeps, received: StreamFramesDone): Promise<void> {
  const dropped = received.frames.filter((f) => f.dropped).length;
  if (dropped > 0) await deps.streams.count(received.stream, 'dropped', dropped);
  const outcome = { ...received, frames: received.frames.filter((f) => !f.dropped) };
  if (outcome.frames.length === 0) return;
  await deps.streams.frames.bulkWrite(outcome.frames.map((f) => ({
    replaceOne: {
      filter: { _id: `${outcome.stream}:${f.seq}` },
      replacement: { tenant: outcome.tenant, stream: outcome.stream, seq: f.seq, ts: f.ts, width: f.width, height: f.height, detections: f.detections },
      upsert: true,
    },
  })), { ordered: false });
  const now = Date.now();
  const results = outcome.frames.map((f) => ({
    stream: outcome.stream, seq: f.seq, ts: f.ts, width: f.width, height: f.height, detections: f.detections, latencyMs: now - f.ts,
  }));
  await deps.bus.send(deps.topics.results, results.map((r) => ({ key: outcome.stream, value: StreamResult.encode(r) })));
  await deps.streams.recordProcessed(outcome.stream, results.map((r) => r.latencyMs));
  metrics.framesMerged.inc({ source: 'stream' }, results.length);
  for (const r of results) metrics.streamLatencySeconds.observe(r.latencyMs / 1000);
  const channel = streamEventsChannel(deps.config.redis, outcome.stream);
  for (const r of results) await deps.redis.publish(channel, JSON.stringify(r)).catch(() => undefined);
}
