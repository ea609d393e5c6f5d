import { encodeChunk, type ChunkHeader } from '../src/contracts/chunk.js';
import { createKafkaBus } from '../src/kafka/kafka.js';
import { createLogger } from '../src/platform/logger.js';
import { topicNames } from '../src/contracts/topics.js';
import { createTestEnv } from '../tests/helpers/stack.js';

export interface PublishCost {
  /** Wall time of encodeChunk + vdet's KafkaBus.send (acks=all), per frame: what the processor awaits. */
  wallMs: number;
  /** CPU time of this process for the same (chunk encoding, kafkajs record batch and CRC-32C, socket writes). */
  cpuMs: number;
}

const CHUNK_FRAMES = 16;

/**
 * Publishes `chunks` chunks of 16 frames through vdet's own Kafka adapter to a throw-away topic on the local stack,
 * once with raw frames and once with the JPEG ones, one chunk at a time as the processor does; per-frame costs.
 */
export async function measurePublish(raw: readonly Buffer[], jpeg: readonly Buffer[], chunks: number): Promise<{ raw: PublishCost; jpeg: PublishCost }> {
  const env = createTestEnv();
  const bus = createKafkaBus(env.config.kafka, createLogger('warn', 'bench'));
  const topic = topicNames(env.config.kafka.topicPrefix).chunks;
  const header = (chunk: number) => ({
    v: 1, jobId: 'bench', tenant: 'bench', chunk, pixelFormat: 'bgr24', frameWidth: 416, frameHeight: 416,
    sourceWidth: 1280, sourceHeight: 720, scale: 0.325, minScore: 0.3,
    frames: Array.from({ length: CHUNK_FRAMES }, (_, i) => ({ frame: chunk * CHUNK_FRAMES + i, ptsMs: 0 })),
  }) as ChunkHeader;
  const publish = async (frames: readonly Buffer[]): Promise<PublishCost> => {
    let wall = 0;
    let cpu = 0;
    for (let chunk = -1; chunk < chunks; chunk++) { // chunk -1 warms up the producer connection
      const pixels = Array.from({ length: CHUNK_FRAMES }, (_, i) => frames[(Math.max(chunk, 0) * CHUNK_FRAMES + i) % frames.length]!);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await bus.send(topic, [{ key: 'bench', value: encodeChunk(header(Math.max(chunk, 0)), pixels) }]);
      if (chunk < 0) continue;
      wall += performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      cpu += (used.user + used.system) / 1000;
    }
    return { wallMs: wall / (chunks * CHUNK_FRAMES), cpuMs: cpu / (chunks * CHUNK_FRAMES) };
  };
  try {
    await bus.ensureTopics(topicNames(env.config.kafka.topicPrefix));
    return { raw: await publish(raw), jpeg: await publish(jpeg) };
  } finally {
    await bus.close();
    await env.cleanup();
  }
}
