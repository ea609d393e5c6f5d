import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { encodeChunk, modelKey, type ChunkHeader, type ModelRef } from '../contracts/chunk.js';
import { pinnedVersion, type ModelRegistry } from '../vision/model-registry.js';
import { FRAME_HEADERS, STREAM_NAME } from '../contracts/stream.js';
import { sendToDeadLetters } from '../kafka/dead-letter.js';
import { VdetError } from '../platform/errors.js';
import type { ConsumerHandle, IncomingMessage, KafkaBus } from '../kafka/bus.js';
import { sniffImage } from '../media/media-sniff.js';
import { metrics } from '../platform/metrics.js';
import { type StreamCounter, type StreamRecord, type StreamRef, type StreamStore } from '../store/stream-store.js';
import type { StreamTokenStore } from '../store/stream-tokens.js';
import { groupId, type TopicNames } from '../contracts/topics.js';
import type { PulledFrame } from './camera-puller.js';
import { inspectImage, letterboxImage } from '../media/image-letterbox.js';
import { DEFAULT_MAX_LAG_MS, admitFrame, chunkRuns, type AdmissionState } from './stream-policy.js';
import type { ModelInput } from '../media/letterbox.js';
import { resolveTrackerOptions } from '../contracts/tracker-options.js';

export interface StreamProcessorDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  streams: StreamStore;
  streamTokens: StreamTokenStore;
  topics: TopicNames;
  /** The default model's input: frames of a stream without a registered model are letterboxed to it. */
  modelInput: ModelInput;
  /** A stream set to a registered model (`settings.model`) is letterboxed to that version's input. */
  models: Pick<ModelRegistry, 'version'>;
}

type Tally = (record: StreamRecord, counter: StreamCounter) => void;

interface PreparedFrame {
  seq: number;
  ts: number;
  receivedAt: number;
  pixels: Buffer;
  /** The model input it was letterboxed to, and the registered model (absent: the default). */
  input: ModelInput;
  model: ModelRef | undefined;
  contentWidth: number;
  contentHeight: number;
  width: number;
  height: number;
  scale: number;
}

/**
 * The processor's stream side: consumes pushed frames in batches (what arrived together is handled together),
 * finds each frame's stream from its ingest token, checks and decodes it (bad ones go to the dead-letter topic, counted as failed), applies the stream's policy
 * (fps cap, drop-oldest), and publishes each stream's frames as small chunks — closed by count, or by the end of
 * the fetch, whichever comes first — so latency stays low. Offsets are committed after the chunks are acknowledged.
 */
export function createStreamProcessor(deps: StreamProcessorDeps) {
  const { config, log, bus, streams, streamTokens, topics } = deps;
  const admission = new Map<string, AdmissionState>();
  let consumer: ConsumerHandle | undefined;
  /** Registered model versions' inputs, read once each (a version never changes); a failed read is not kept. */
  const inputs = new Map<string, Promise<ModelInput>>();

  /** The input a stream's frames are letterboxed to: its registered model version's, else the default's. */
  function inputOf(model: ModelRef | undefined): Promise<ModelInput> {
    if (!model) return Promise.resolve(deps.modelInput);
    const key = modelKey(model);
    let input = inputs.get(key);
    if (!input) {
      input = pinnedVersion(deps.models, model).then(({ spec }) => ({ width: spec.inputWidth, height: spec.inputHeight }));
      inputs.set(key, input);
      input.catch(() => inputs.delete(key));
    }
    return input;
  }

  /**
   * Which stream a frame belongs to. With stream tokens on, only its `vdet-token` says so: the token names the tenant
   * and the stream, and the frame's key must be that stream. Nothing a producer writes names a tenant.
   */
  async function identify(message: IncomingMessage): Promise<StreamRecord> {
    const name = message.key;
    if (!name) throw new VdetError('VDET_FRAME_INVALID', 'The frame has no key: the key must be the stream id.');
    if (!STREAM_NAME.test(name)) {
      throw new VdetError('VDET_FRAME_INVALID', 'The frame\'s key is not a stream id (letters, digits, _ . : -, at most 128).');
    }
    if (!config.streams.tokens) return streams.getOrRegister(name);
    const token = message.headers[FRAME_HEADERS.token];
    if (!token) {
      throw new VdetError('VDET_FRAME_UNAUTHORIZED', `The frame has no ${FRAME_HEADERS.token} header: every frame needs its stream's ingest token (POST /v1/streams/{id}/tokens).`);
    }
    const ref = await streamTokens.resolve(token);
    if (!ref) throw new VdetError('VDET_FRAME_UNAUTHORIZED', 'The frame\'s ingest token is not valid: it was revoked, or never minted.');
    if (ref.name !== name) throw new VdetError('VDET_FRAME_UNAUTHORIZED', 'The frame\'s ingest token is for another stream than its key.');
    const record = await streams.get(ref);
    if (!record) throw new VdetError('VDET_FRAME_UNAUTHORIZED', 'The frame\'s stream is no longer registered.');
    return record;
  }

  /**
   * Checks one message and applies its stream's policy, in arrival order; the decode it returns runs alongside the
   * others of the batch (sharp works on libuv's thread pool, so both cores decode).
   */
  async function admit(message: IncomingMessage, record: StreamRecord, now: number, tally: Tally): Promise<{ frame?: Promise<PreparedFrame> }> {
    const bytes = message.value;
    if (!bytes || bytes.length === 0) throw new VdetError('VDET_FRAME_INVALID', 'The frame is empty.');
    if (bytes.length > config.streams.frameMaxBytes) {
      throw new VdetError('VDET_FRAME_INVALID', `The frame is ${bytes.length} bytes; at most ${config.streams.frameMaxBytes} are accepted.`);
    }
    if (!sniffImage(bytes.subarray(0, 16))) throw new VdetError('VDET_FRAME_INVALID', 'The frame is not a JPEG, PNG or WebP image.');
    const ts = Number(message.headers[FRAME_HEADERS.ts] ?? message.timestamp);
    const seqHeader = message.headers[FRAME_HEADERS.seq];
    const seq = seqHeader !== undefined && /^\d{1,15}$/.test(seqHeader) ? Number(seqHeader) : Number(message.offset);
    const state = admission.get(record._id) ?? { lastAcceptedTs: undefined };
    admission.set(record._id, state);
    const verdict = admitFrame(record.settings, state, { ts: Number.isFinite(ts) ? ts : now, now });
    tally(record, 'framesIn');
    if (verdict !== 'accept') {
      tally(record, 'dropped');
      return {};
    }
    const { model } = record;
    const input = await inputOf(model); // VDET_MODEL_UNAVAILABLE once the stream's model version is removed: dead-lettered
    const maxPixels = config.processor.maxWidth * config.processor.maxHeight;
    // `image` (the default): the file as pushed, its header checked here, decoded once, by the detector; `raw`:
    // decoded and letterboxed here, its pixels on the wire.
    const image = config.streams.wireFormat === 'image'
      ? inspectImage(bytes, input, maxPixels).then((inspected) => ({ ...inspected, pixels: bytes }))
      : letterboxImage(bytes, input, maxPixels);
    const frame = image.then((prepared) => ({ seq, ts: Number.isFinite(ts) ? ts : now, receivedAt: now, input, model, ...prepared }));
    frame.catch(() => undefined); // awaited below, in order; this keeps an early failure from going unhandled
    return { frame };
  }

  /** `known`: the stream the frames belong to, when that is not theirs to say (a camera vdet pulls itself). */
  async function handleBatch(messages: IncomingMessage[], known?: StreamRecord): Promise<void> {
    const now = Date.now();
    const byStream = new Map<string, { record: StreamRecord; frames: PreparedFrame[] }>();
    // The batch's counters go to Redis in one round trip at its end, off the frames' way.
    const counts = new Map<string, { ref: StreamRecord; fields: Partial<Record<StreamCounter, number>> }>();
    const tally: Tally = (record, counter) => {
      const entry = counts.get(record._id) ?? { ref: record, fields: {} };
      entry.fields[counter] = (entry.fields[counter] ?? 0) + 1;
      counts.set(record._id, entry);
    };
    /** A frame refused: to the dead-letter topic; counted as failed only on a stream it proved it belongs to. */
    const rejected = async (message: IncomingMessage, error: unknown, record?: StreamRecord) => {
      if (!(error instanceof VdetError) || error.retriable) throw error; // an outage: the batch is retried
      await sendToDeadLetters(bus, topics.dlq, log, message, error);
      if (record) tally(record, 'failed');
    };
    const admitted: { message: IncomingMessage; record: StreamRecord; frame: Promise<PreparedFrame> }[] = [];
    for (const message of messages) {
      let record: StreamRecord | undefined;
      try {
        record = known ?? await identify(message);
        const { frame } = await admit(message, record, now, tally);
        if (frame) admitted.push({ message, record, frame });
      } catch (error) {
        await rejected(message, error, record);
      }
    }
    for (const { message, record, frame } of admitted) {
      try {
        const prepared = await frame;
        // A chunk holds frames of one stream letterboxed for one model (its settings may change within a batch).
        const key = `${record._id}\n${prepared.model?.sha256 ?? ''}:${prepared.model?.version ?? ''}`;
        const entry = byStream.get(key) ?? { record, frames: [] };
        entry.frames.push(prepared);
        byStream.set(key, entry);
      } catch (error) {
        await rejected(message, error, record);
      }
    }
    // One send per chunk (a chunk is megabytes: several in one request could pass the broker's message size),
    // in order within a stream, streams side by side.
    let chunks = 0;
    await Promise.all([...byStream.values()].map(async ({ record, frames }) => {
      for (const part of chunkRuns(frames, config.streams.chunkFrames)) {
        await bus.send(topics.chunks, [{ key: record._id, value: encodeChunk(chunkHeader(record, part), part.map((f) => f.pixels)) }]);
        chunks++;
      }
    }));
    await streams.countAll(counts);
    metrics.chunksProduced.inc({ source: 'stream' }, chunks);
    metrics.framesDecoded.inc({ source: 'stream' }, [...byStream.values()].reduce((n, s) => n + s.frames.length, 0));
  }

  function chunkHeader(record: StreamRecord, part: PreparedFrame[]): ChunkHeader {
    const first = part[0]!;
    const minScore = record.settings.minScore ?? config.detector.minScore;
    const tracking = record.settings.track === false ? undefined : (record.settings.tracking ?? {});
    const trackScore = tracking ? resolveTrackerOptions(tracking).trackThreshold : undefined;
    return {
      v: 1, source: 'stream', jobId: record.name, tenant: record.tenant, chunk: first.seq, pixelFormat: config.streams.wireFormat === 'image' ? 'image' : 'rgb24', ...(first.model ? { model: first.model } : {}),
      frameWidth: first.input.width, frameHeight: first.input.height, content: { width: first.contentWidth, height: first.contentHeight }, sourceWidth: first.width, sourceHeight: first.height, scale: first.scale,
      minScore,
      ...(tracking ? { tracking, ...(trackScore! < minScore ? { trackScore } : {}), ...regionsOf(record.settings) } : {}),
      ...(record.settings.classes ? { filter: { classes: record.settings.classes } } : {}),
      frames: part.map((f) => ({
        frame: f.seq, ptsMs: 0, ...(config.streams.wireFormat === 'image' ? { bytes: f.pixels.length } : {}),
        stream: {
          ts: f.ts, receivedAt: f.receivedAt, sourceWidth: f.width, sourceHeight: f.height, scale: f.scale,
          ...(record.settings.policy === 'drop-oldest' ? { deadline: f.ts + (record.settings.maxLagMs ?? DEFAULT_MAX_LAG_MS) } : {}),
        },
      })),
    };
  }

  return {
    /**
     * Frames a processor pulled from a stream's camera: the same path as pushed frames (policy, fps cap, checks,
     * chunks), for the stream as registered now, which the source's registration proves; no token is involved.
     */
    async deliverCameraFrames(ref: StreamRef, frames: readonly PulledFrame[]): Promise<void> {
      const record = await streams.get(ref);
      if (!record) return; // removed meanwhile: its puller stops at the next lease renewal
      await handleBatch(frames.map((f) => ({
        topic: `camera:${record._id}`, partition: -1, offset: String(f.seq), key: record.name, value: f.jpeg,
        headers: { [FRAME_HEADERS.ts]: String(f.ts), [FRAME_HEADERS.seq]: String(f.seq) }, timestamp: String(f.ts),
      })), record);
    },
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

/** A tracked stream's zones and lines for the chunk header (the merger counts them as it tracks). */
function regionsOf(settings: StreamRecord['settings']): Pick<ChunkHeader, 'zones' | 'lines'> {
  return { ...(settings.zones?.length ? { zones: settings.zones } : {}), ...(settings.lines?.length ? { lines: settings.lines } : {}) };
}
