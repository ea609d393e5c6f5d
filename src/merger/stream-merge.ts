import type { Config } from '../platform/config.js';
import type { StreamFramesDone } from '../contracts/messages.js';
import { StreamResult } from '../contracts/stream.js';
import type { KafkaBus } from '../kafka/bus.js';
import { streamEventsChannel } from '../live/progress.js';
import { metrics } from '../platform/metrics.js';
import { streamKey, type StreamStore } from '../store/stream-store.js';
import type { StreamTrackingStore } from '../store/stream-track-store.js';
import type { TopicNames } from '../contracts/topics.js';
import { zoneSettingsOf } from '../results/tracks.js';
import type { ZoneEvent } from '../vision/zones.js';
import { trackStreamChunk } from './stream-tracking.js';

export interface StreamMergeDeps {
  bus: KafkaBus;
  streams: StreamStore;
  /** Where each tracked stream's tracking stands (the merger's keeps the records it saved: stream-tracking-cache.ts). */
  tracking: StreamTrackingStore;
  topics: TopicNames;
  config: Config;
}

/**
 * Stores a stream chunk's frames (frames at or below the stream's highest stored sequence number are a redelivery's
 * and change nothing) and counts its dropped frames and those that failed to decode. In the chunk's turn: the stream's chunks are numbered in the
 * order they are stored (src/store/stream-frame-store.ts).
 */
export async function storeStreamFrames(deps: StreamMergeDeps, received: StreamFramesDone): Promise<void> {
  const { stream, tenant } = received;
  const ref = { tenant, name: stream };
  const dropped = received.frames.filter((f) => f.dropped && !f.failed).length;
  const failed = received.frames.filter((f) => f.failed).length;
  const frames = received.frames.filter((f) => !f.dropped);
  await Promise.all([
    dropped > 0 ? deps.streams.count(ref, 'dropped', dropped) : undefined,
    failed > 0 ? deps.streams.count(ref, 'failed', failed) : undefined,
    frames.length > 0 ? deps.streams.frames.append(ref, frames) : undefined,
  ]);
}

/**
 * A stream chunk's turn, in partition order: publishes each frame's result to `vdet.results` in sequence order, then
 * counts and announces them, while its frames are stored (see {@link storeStreamFrames}). The result goes out first,
 * as it is what a live consumer waits for; the offset is committed only after all of it (commit after write), so a crash
 * in between redelivers the chunk, which publishes again: `vdet.results` is at-least-once, consumers dedupe by
 * (stream, seq).
 *
 * A tracked stream (the chunk carries `tracking`) is tracked here first, in order (src/merger/stream-tracking.ts);
 * its frames are stored with their track ids, and the tracker's
 * state is saved last, so a redelivery at any point gives the same ids. With zones or lines (they come in the chunk,
 * with the tracker settings, from the stream's settings when the processor read them), each result carries what its
 * frame changed in them (`events`); the counts are saved with the tracker's state.
 */
export async function publishStreamFrames(deps: StreamMergeDeps, chunk: StreamFramesDone): Promise<void> {
  const { stream, tenant } = chunk;
  const ref = { tenant, name: stream };
  const tracked = chunk.tracking ? await trackStreamChunk(deps.tracking, streamKey(ref), tenant, chunk, zoneSettingsOf(chunk)) : undefined;
  const received = tracked ? { ...chunk, frames: tracked.frames } : chunk;
  const storing = storeStreamFrames(deps, received);
  storing.catch(() => undefined); // awaited below, after the results went out
  await publishResults(deps, received, storing, tracked?.events);
  await tracked?.save();
}

async function publishResults(deps: StreamMergeDeps, received: StreamFramesDone, stored: Promise<void>, events?: ReadonlyMap<number, ZoneEvent[]>): Promise<void> {
  const { stream, tenant } = received;
  const ref = { tenant, name: stream };
  const now = Date.now();
  const results = received.frames.filter((f) => !f.dropped).map((f): StreamResult => {
    const changed = events?.get(f.seq);
    return { stream, tenant, seq: f.seq, ts: f.ts, width: f.width, height: f.height, detections: f.detections, latencyMs: now - f.ts, ...(changed ? { events: changed } : {}) };
  });
  if (results.length === 0) return stored;
  await deps.bus.send(deps.topics.results, results.map((r) => ({ key: stream, value: StreamResult.encode(r) })));
  metrics.framesMerged.inc({ source: 'stream' }, results.length);
  for (const r of results) metrics.streamLatencySeconds.observe(r.latencyMs / 1000);
  const live = { channel: streamEventsChannel(deps.config.redis, ref), messages: results.map((r) => JSON.stringify(r)) };
  await Promise.all([stored, deps.streams.recordProcessed(ref, results.map((r) => r.latencyMs), live)]);
}
