import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import { encodeChunk, type ChunkHeader } from '../shared/contracts/chunk.js';
import { FRAME_HEADERS } from '../shared/contracts/stream.js';
import { sendToDeadLetters } from '../shared/dead-letter.js';
import { VdetError } from '../shared/errors.js';
import type { ConsumerHandle, IncomingMessage, KafkaBus } from '../shared/kafka.js';
import { sniffImage } from '../shared/media-sniff.js';
import { metrics } from '../shared/metrics.js';
import type { StreamCounter, StreamRecord, StreamStore } from '../shared/stream-store.js';
import { groupId, type TopicNames } from '../shared/topics.js';
import { letterboxImage } from './image-letterbox.js';
import { DEFAULT_MAX_LAG_MS, admitFrame, chunkRuns, type AdmissionState } from './stream-policy.js';
import type { ModelInput } from '../shared/letterbox.js';

export interface StreamProcessorDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  streams: StreamStore;
  topics: TopicNames;
  /** The model's input: frames are letterboxed to it. */
  modelInput: ModelInput;
}

type Tally = (stream: string, counter: StreamCounter) => void;

interface PreparedFrame {
  seq: number;
  ts: number;
  receivedAt: number;
  pixels: Buffer;
  contentWidth: number;
  contentHeight: number;
  width: number;
  height: number;
  scale: number;
}

/**
 * The processor's stream side: consumes pushed frames in batches (what arrived together is handled together),
 * checks and decodes each (bad ones go to the dead-letter topic, counted as failed), applies the stream's policy
 * (fps cap, drop-oldest), and publishes each stream's frames as small chunks — closed by count, or by the end of
 * the fetch, whichever comes first — so latency stays low. Offsets are committed after the chunks are acknowledged.
 */
export function createStreamProcessor(deps: StreamProcessorDeps) {
  const { config, log, bus, streams, topics } = deps;
  const input = deps.modelInput;
  const admission = new Map<string, AdmissionState>();
  let consumer: ConsumerHandle | undefined;

  /**
   * Checks one message and applies its stream's policy, in arrival order; the decode it returns runs alongside the
   * others of the batch (sharp works on libuv's thread pool, so both cores decode).
   */
  async function admit(message: IncomingMessage, now: number, tally: Tally): Promise<{ stream: string; frame?: Promise<PreparedFrame> }> {
    const stream = message.key;
    if (!stream) throw new VdetError('VDET_FRAME_INVALID', 'The frame has no key: the key must be the stream id.');
    const bytes = message.value;
    if (!bytes || bytes.length === 0) throw new VdetError('VDET_FRAME_INVALID', 'The frame is empty.');
    if (bytes.length > config.streams.frameMaxBytes) {
      throw new VdetError('VDET_FRAME_INVALID', `The frame is ${bytes.length} bytes; at most ${config.streams.frameMaxBytes} are accepted.`);
    }
    if (!sniffImage(bytes.subarray(0, 16))) throw new VdetError('VDET_FRAME_INVALID', 'The frame is not a JPEG, PNG or WebP image.');
    const record = await streams.get(stream);
    const ts = Number(message.headers[FRAME_HEADERS.ts] ?? message.timestamp);
    const seqHeader = message.headers[FRAME_HEADERS.seq];
    const seq = seqHeader !== undefined && /^\d{1,15}$/.test(seqHeader) ? Number(seqHeader) : Number(message.offset);
    const state = admission.get(stream) ?? { lastAcceptedTs: undefined };
    admission.set(stream, state);
    const verdict = admitFrame(record.settings, state, { ts: Number.isFinite(ts) ? ts : now, now });
    tally(stream, 'framesIn');
    if (verdict !== 'accept') {
      tally(stream, 'dropped');
      return { stream };
    }
    const frame = letterboxImage(bytes, input, config.processor.maxWidth * config.processor.maxHeight)
      .then((image) => ({ seq, ts: Number.isFinite(ts) ? ts : now, receivedAt: now, ...image }));
    frame.catch(() => undefined); // awaited below, in order; this keeps an early failure from going unhandled
    return { stream, frame };
  }

  async function handleBatch(messages: IncomingMessage[]): Promise<void> {
    const now = Date.now();
    const byStream = new Map<string, PreparedFrame[]>();
    // The batch's counters go to Redis in one round trip at its end, off the frames' way.
    const counts = new Map<string, Partial<Record<StreamCounter, number>>>();
    const tally: Tally = (stream, counter) => {
      const fields = counts.get(stream) ?? {};
      fields[counter] = (fields[counter] ?? 0) + 1;
      counts.set(stream, fields);
    };
    const rejected = async (message: IncomingMessage, error: unknown) => {
      if (!(error instanceof VdetError) || error.retriable) throw error; // an outage: the batch is retried
      await sendToDeadLetters(bus, topics.dlq, log, message, error);
      if (message.key) tally(message.key, 'failed');
    };
    const admitted: { message: IncomingMessage; stream: string; frame: Promise<PreparedFrame> }[] = [];
    for (const message of messages) {
      try {
        const { stream, frame } = await admit(message, now, tally);
        if (frame) admitted.push({ message, stream, frame });
      } catch (error) {
        await rejected(message, error);
      }
    }
    for (const { message, stream, frame } of admitted) {
      try {
        const prepared = await frame;
        const list = byStream.get(stream) ?? [];
        list.push(prepared);
        byStream.set(stream, list);
      } catch (error) {
        await rejected(message, error);
      }
    }
    // One send per chunk (a chunk is megabytes: several in one request could pass the broker's message size),
    // in order within a stream, streams side by side.
    let chunks = 0;
    await Promise.all([...byStream].map(async ([stream, frames]) => {
      const record = await streams.get(stream);
      for (const part of chunkRuns(frames, config.streams.chunkFrames)) {
        await bus.send(topics.chunks, [{ key: stream, value: encodeChunk(chunkHeader(stream, record, part), part.map((f) => f.pixels)) }]);
        chunks++;
      }
    }));
    await streams.countAll(counts);
    metrics.chunksProduced.inc({ source: 'stream' }, chunks);
    metrics.framesDecoded.inc({ source: 'stream' }, [...byStream.values()].reduce((n, f) => n + f.length, 0));
  }

  function chunkHeader(stream: string, record: StreamRecord, part: PreparedFrame[]): ChunkHeader {
    const first = part[0]!;
    return {
      v: 1, source: 'stream', jobId: stream, tenant: record.tenant, chunk: first.seq, pixelFormat: 'rgb24',
      frameWidth: input.width, frameHeight: input.height, content: { width: first.contentWidth, height: first.contentHeight }, sourceWidth: first.width, sourceHeight: first.height, scale: first.scale,
      minScore: record.settings.minScore ?? config.detector.minScore,
      ...(record.settings.classes ? { filter: { classes: record.settings.classes } } : {}),
      frames: part.map((f) => ({
        frame: f.seq, ptsMs: 0,
        stream: {
          ts: f.ts, receivedAt: f.receivedAt, sourceWidth: f.width, sourceHeight: f.height, scale: f.scale,
          ...(record.settings.policy === 'drop-oldest' ? { deadline: f.ts + (record.settings.maxLagMs ?? DEFAULT_MAX_LAG_MS) } : {}),
        },
      })),
    };
  }

  return {
    async start(): Promise<void> {
      consumer = await bus.consumeBatches({
        groupId: groupId(config.kafka.topicPrefix, 'processor-streams'),
        topics: [topics.frames],
        concurrency: 4,
        handleBatch,
      });
      log.info({ topic: topics.frames }, 'processor consuming stream frames');
    },
    async close(): Promise<void> {
      await consumer?.stop();
    },
  };
}

