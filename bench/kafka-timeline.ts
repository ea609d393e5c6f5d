import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../src/platform/config.js';

/**
 * When the detector published each chunk's result: the create-time timestamps of a job's `chunk` outcomes on the
 * detections topic, read back with a throw-away consumer group (under the run's topic prefix, so the run's cleanup
 * deletes it). Resolves with what it found within `timeoutMs`: chunk index → epoch ms.
 */
export async function detectionTimes(config: Config, topic: string, jobId: string, chunks: number, timeoutMs = 30_000): Promise<Map<number, number>> {
  const kafka = new Kafka({ brokers: [...config.kafka.brokers], clientId: 'vdet-bench', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}bench-timeline` });
  const times = new Map<number, number>();
  let complete: () => void = () => undefined;
  const allSeen = new Promise<void>((resolve) => (complete = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key?.toString() !== jobId || !message.value) return;
        const outcome = JSON.parse(message.value.toString()) as { kind?: string; chunk?: number };
        if (outcome.kind === 'chunk' && typeof outcome.chunk === 'number') times.set(outcome.chunk, Number(message.timestamp));
        if (times.size >= chunks) complete();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allSeen, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return times;
}
