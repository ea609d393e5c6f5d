import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { decodeChunk, frameSlices, type Chunk } from '../contracts/chunk.js';
import { ChunkOutcome, type ChunkFrame, type Detection } from '../contracts/messages.js';
import { deadLetterThen } from '../kafka/dead-letter.js';
import { VdetError, toFailureReason } from '../platform/errors.js';
import type { ConsumerHandle, IncomingMessage, KafkaBus } from '../kafka/bus.js';
import type { ProgressStore } from '../live/progress.js';
import { groupId, type TopicNames } from '../contracts/topics.js';
import { metrics } from '../platform/metrics.js';
import type { LoadedModel } from '../vision/onnx/loaded-model.js';
import type { ModelPool } from '../vision/onnx/model-pool.js';
import type { FrameLayout } from '../vision/tensor.js';
import { applyDetectionFilter, splitForTracking } from '../vision/detection-filter.js';
import { decodeJpegFrames } from '../media/jpeg-decode.js';
import { submitVideoFrames } from './video-frames.js';
import { submitImageFrames } from './image-frames.js';
import { mediaLimits } from '../media/ffmpeg.js';

/** A frame's detections, and with tracking on the tracker's boxes under minScore; `failed`: its image did not decode. */
interface Found {
  detections: Detection[];
  trackOnly?: Detection[];
  failed?: true;
}

export interface DetectorDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  topics: TopicNames;
  /** VDET_MODEL's sessions and batches: chunks without a registered model run here. */
  defaultModel: LoadedModel;
  /**
   * The models side by side: a chunk runs on the one it names (the default when it names none), whose input its
   * frames must be letterboxed to; batches never mix models.
   */
  models: Pick<ModelPool<LoadedModel>, 'use' | 'close'>;
  progress: Pick<ProgressStore, 'isCancelled'>;
}

/**
 * The detector role: consumes chunks, runs their frames through the batch scheduler on every local device, and
 * publishes each chunk's detections. Frames in memory are bounded by VDET_CHUNKS_IN_FLIGHT × chunk size: each
 * partition handler waits for its chunk before Kafka hands it the next one.
 */
export function createDetector(deps: DetectorDeps) {
  const { config, log, bus, topics } = deps;
  let consumer: ConsumerHandle | undefined;
  const limits = mediaLimits(config.processor);
  /** A video chunk's frames held at once: enough to fill a batch on every device, twice over. */
  const frameWindow = (model: LoadedModel) => Math.max(16, 2 * model.runners.reduce((n, r) => n + r.maxBatch, 0));

  /**
   * Runs every frame of a chunk through the model; resolves with each frame's detections, in order (null: a
   * drop-oldest stream frame that was still waiting at its deadline, which the scheduler expires).
   */
  async function detect(chunk: Chunk, model: LoadedModel): Promise<(Found | null)[]> {
    const { header } = chunk;
    const layout = layoutOf(header);
    // Tracking on: decoded down to the tracker's threshold, the boxes under minScore handed on apart (trackOnly).
    const tracking = header.trackScore !== undefined && header.trackScore < header.minScore;
    const results: Promise<Found | null>[] = [];
    /** Hands frame i to the model (alone: an idle device takes a stream frame at once instead of a whole chunk waiting). */
    const submit = (i: number, pixels: Uint8Array, imageLayout = layout): Promise<Found | null> => {
      const frame = header.frames[i]!;
      // Stream frames each carry their own size; a file's frames share the chunk's.
      const sourceWidth = frame.stream?.sourceWidth ?? header.sourceWidth;
      const sourceHeight = frame.stream?.sourceHeight ?? header.sourceHeight;
      const decode = { minScore: tracking ? header.trackScore! : header.minScore, scale: frame.stream?.scale ?? header.scale, sourceWidth, sourceHeight };
      const result = new Promise<Found | null>((resolve, reject) => {
        const settle = (outcome: () => void) => {
          metrics.framesInFlight.dec();
          outcome();
        };
        metrics.framesInFlight.inc();
        model.submit([{
          queue: header.jobId,
          urgent: header.source === 'stream',
          pixels,
          ...(imageLayout ? { layout: imageLayout } : {}),
          decode,
          finish: (detections) => settle(() => resolve(tracking
            ? splitForTracking(detections, header.filter, sourceWidth, sourceHeight, header.minScore)
            : { detections: applyDetectionFilter(detections, header.filter, sourceWidth, sourceHeight) })),
          fail: (error) => settle(() => reject(error)),
          ...(frame.stream?.deadline !== undefined ? { deadline: frame.stream.deadline, expire: () => settle(() => resolve(null)) } : {}),
        }]);
      });
      results[i] = result;
      return result;
    };
    if (header.pixelFormat === 'video') {
      try {
        await submitVideoFrames(chunk, { limits, threads: config.detector.decodeThreads, window: frameWindow(model) }, submit);
      } catch (error) {
        for (const result of results) result?.catch(() => undefined); // the frames already in the model settle unobserved
        throw error;
      }
    } else if (header.pixelFormat === 'image') {
      await submitImageFrames(chunk, limits.maxWidth * limits.maxHeight, submit, (i, reason) => {
        log.warn({ stream: header.jobId, tenant: header.tenant, seq: header.frames[i]!.frame, reason }, 'stream frame did not decode; counted as failed');
        results[i] = Promise.resolve({ detections: [], failed: true });
      });
    } else {
      const frames = header.pixelFormat === 'jpeg'
        ? await decodeJpegFrames(frameSlices(chunk), header.content!.width, header.content!.height)
        : frameSlices(chunk);
      frames.forEach((pixels, i) => submit(i, pixels));
    }
    return Promise.all(results);
  }

  function outcomeOf(header: Chunk['header'], found: (Found | null)[]): ChunkOutcome {
    if (header.source === 'stream') {
      return {
        v: 1, kind: 'stream', stream: header.jobId, tenant: header.tenant,
        frames: header.frames.map((f, i) => ({
          seq: f.frame, ts: f.stream!.ts, receivedAt: f.stream!.receivedAt,
          width: f.stream!.sourceWidth, height: f.stream!.sourceHeight, detections: found[i]?.detections ?? [],
          ...(found[i] === null ? { dropped: true } : {}),
          ...(found[i]?.failed ? { dropped: true, failed: true } : {}),
          ...(found[i]?.trackOnly?.length ? { trackOnly: found[i]!.trackOnly } : {}),
        })),
        ...(header.tracking ? { tracking: header.tracking } : {}),
        ...(header.zones ? { zones: header.zones } : {}),
        ...(header.lines ? { lines: header.lines } : {}),
      };
    }
    const frames: ChunkFrame[] = header.frames.map((f, i) => {
      const { detections = [], trackOnly } = found[i] ?? {};
      return { frame: f.frame, ptsMs: f.ptsMs, detections, ...(trackOnly && trackOnly.length > 0 ? { trackOnly } : {}) };
    });
    return { v: 1, kind: 'chunk', jobId: header.jobId, tenant: header.tenant, chunk: header.chunk, frames };
  }

  /** Detects a chunk's frames: its outcome, or undefined for a cancelled job's chunk. */
  async function detectChunk(message: IncomingMessage): Promise<ChunkOutcome | undefined> {
    const chunk = decodeChunk(message.value);
    const { header } = chunk;
    if (header.source !== 'stream' && (await deps.progress.isCancelled(header.jobId))) return undefined; // deleted by its owner
    // The model stays loaded (never evicted) while its chunk is detected.
    return deps.models.use(header.model, async (model) => {
      const { inputWidth, inputHeight } = model.spec;
      if (header.frameWidth !== inputWidth || header.frameHeight !== inputHeight) {
        throw new VdetError('VDET_MESSAGE_INVALID', `Chunk frames are ${header.frameWidth}x${header.frameHeight}; the model ${header.model ? `"${header.model.name}" ` : ''}takes ${inputWidth}x${inputHeight}.`);
      }
      return outcomeOf(header, await detect(chunk, model));
    });
  }

  /**
   * Reports a chunk's detections, in partition order; the detection itself may have started early (the consumer's
   * head start), so chunks of streams sharing a partition keep every device busy. A bad chunk or a failed run is
   * retried (from the start) or given up (giveUp).
   */
  async function handle(message: IncomingMessage, detected?: Promise<ChunkOutcome | undefined>): Promise<void> {
    const outcome = await (detected ?? detectChunk(message));
    if (outcome) await bus.send(topics.detections, [{ key: outcome.kind === 'stream' ? outcome.stream : outcome.jobId, value: ChunkOutcome.encode(outcome) }]);
  }

  return {
    async start(): Promise<void> {
      consumer = await bus.consume({
        groupId: groupId(config.kafka.topicPrefix, 'detector'),
        topics: [topics.chunks],
        concurrency: config.detector.chunksInFlight,
        // Chunks in flight (detecting or waiting for their turn) stay within VDET_CHUNKS_IN_FLIGHT, so frames in
        // memory stay within that × chunk size.
        headStart: { limit: config.detector.chunksInFlight, prepare: detectChunk },
        handle,
        giveUp: deadLetterThen(bus, topics.dlq, log, async (message, error) => {
          const header = (() => {
            try {
              return decodeChunk(message.value).header;
            } catch {
              return undefined; // unreadable: its job is failed by the reaper
            }
          })();
          if (header && header.source !== 'stream') {
            const outcome: ChunkOutcome = { v: 1, kind: 'chunk-failed', jobId: header.jobId, tenant: header.tenant, chunk: header.chunk, error: toFailureReason(error) };
            await bus.send(topics.detections, [{ key: header.jobId, value: ChunkOutcome.encode(outcome) }]);
          }
        }),
      });
      log.info({ devices: deps.defaultModel.runners.map((r) => `${r.name} (${r.batchMode}, batch ≤ ${r.maxBatch})`) }, 'detector consuming chunks');
    },
    async close(): Promise<void> {
      await consumer?.stop();
      await deps.models.close();
      await deps.defaultModel.close();
    },
  };
}

/** How a chunk's frame bytes are laid out, when they are not whole BGR frames (see FrameLayout). */
function layoutOf(header: Chunk['header']): FrameLayout | undefined {
  if (!header.content && header.pixelFormat === 'bgr24') return undefined;
  return {
    width: header.content?.width ?? header.frameWidth,
    height: header.content?.height ?? header.frameHeight,
    order: header.pixelFormat === 'bgr24' || header.pixelFormat === 'video' ? 'bgr' : 'rgb', // JPEG frames decode to RGB
  };
}
