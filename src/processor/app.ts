import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { encodeChunk, MAX_CHUNK_FRAMES, type ChunkHeader, type ModelRef } from '../contracts/chunk.js';
import { ChunkOutcome, JobMessage } from '../contracts/messages.js';
import { tracksObjects } from '../contracts/job-options.js';
import { resolveTrackerOptions } from '../contracts/tracker-options.js';
import { isVdetError, toFailureReason } from '../platform/errors.js';
import type { JobStore } from '../store/job-store.js';
import type { ConsumerHandle, IncomingMessage, KafkaBus } from '../kafka/bus.js';
import { deadLetterThen } from '../kafka/dead-letter.js';
import { metrics } from '../platform/metrics.js';
import { letterbox, type Letterbox, type ModelInput } from '../media/letterbox.js';
import { copyUpload, type FileStore } from '../store/file-store.js';
import { registeredModel, type JobModel } from '../store/job-record.js';
import { chunkMessageBytes } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import { pinnedVersion, type ModelRegistry } from '../vision/model-registry.js';
import { groupId, type TopicNames } from '../contracts/topics.js';
import { decodeFrames, mediaLimits, probeMedia } from '../media/ffmpeg.js';
import { checkDecodedFrames, planMedia, ptsMsOf, type MediaPlan } from '../media/media-plan.js';
import { planVideoChunks, videoChunks } from './video-chunks.js';

export interface ProcessorDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  /** Where the uploads are: each job's file is copied from it to a private directory for ffmpeg. */
  uploads: Pick<FileStore, 'copyTo'>;
  jobs: JobStore;
  topics: TopicNames;
  /** The default model's input: frames of a job without a registered model are letterboxed to it. */
  modelInput: ModelInput;
  /** A job pinned to a registered model version is letterboxed to that version's input. */
  models: Pick<ModelRegistry, 'version'>;
}

/**
 * The processor role: takes a job message, fetches the upload into a private directory, probes it, decodes and
 * letterboxes its frames in ffmpeg and publishes them as chunks, then the job's plan (how many chunks and frames).
 * Chunk ids are (job id, index), so a job re-run after a crash produces the same chunks.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { config, log, bus, topics } = deps;
  let consumer: ConsumerHandle | undefined;
  const limits = mediaLimits(config.processor);

  async function handle(message: IncomingMessage): Promise<void> {
    const pointer = JobMessage.decode(message.value); // a bad message is fatal: given up (dead letter, job failed)
    const record = await deps.jobs.getById(pointer.jobId);
    // The message only points at the job: its tenant, upload and options are the stored record's, whatever a
    // producer wrote, so a forged message cannot point a job at another tenant's upload.
    const job: JobMessage = record ? { ...pointer, tenant: record.tenant, uploadId: record.uploadId, options: record.options } : pointer;
    const jobLog = log.child({ jobId: job.jobId, tenant: job.tenant });
    if (record && (pointer.tenant !== record.tenant || pointer.uploadId !== record.uploadId)) {
      jobLog.warn({ messageTenant: pointer.tenant }, 'job message disagrees with the stored job; the stored job wins');
    }
    if (!record || record.status === 'done' || record.status === 'failed') {
      jobLog.info({ status: record?.status ?? 'missing' }, 'job needs no processing');
      return;
    }
    await deps.jobs.start(job.jobId);
    await mkdir(config.processor.workDir, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(path.join(config.processor.workDir, 'job-'));
    try {
      await processJob(job, record.model, dir, jobLog);
    } catch (error) {
      if (error instanceof JobDeleted) {
        jobLog.info('job deleted while being processed; stopped');
        return;
      }
      if (isVdetError(error) && !error.retriable) {
        jobLog.warn({ code: error.code, err: error.cause ?? error }, 'job failed');
        await deps.jobs.fail(job.jobId, toFailureReason(error));
        return;
      }
      throw error; // retried (the job re-runs from the start, producing the same chunks), or given up
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The input a job's frames are letterboxed to: its registered model version's, else the default model's. */
  async function inputOf(ref: ModelRef | undefined): Promise<ModelInput> {
    if (!ref) return deps.modelInput;
    const { spec } = await pinnedVersion(deps.models, ref); // VDET_MODEL_UNAVAILABLE once removed: the job fails
    const bytes = chunkMessageBytes(config.processor.chunkFrames, spec.inputWidth, spec.inputHeight);
    if (bytes > config.kafka.maxMessageBytes) {
      throw new VdetError('VDET_MODEL_UNAVAILABLE', `The model "${ref.name}" takes ${spec.inputWidth}x${spec.inputHeight} frames: VDET_CHUNK_FRAMES (${config.processor.chunkFrames}) of them take ${bytes} bytes, more than VDET_KAFKA_MAX_MESSAGE_BYTES (${config.kafka.maxMessageBytes}) allows.`);
    }
    return { width: spec.inputWidth, height: spec.inputHeight };
  }

  async function processJob(job: JobMessage, model: JobModel | undefined, dir: string, jobLog: Logger): Promise<void> {
    const ref = model && registeredModel({ model });
    const modelInput = await inputOf(ref);
    const file = path.join(dir, 'upload');
    await copyUpload(deps.uploads, job.uploadId, file);
    const probe = await probeMedia(file, limits);
    const plan = planMedia(probe, job.options, config.processor);
    await deps.jobs.setMedia(job.jobId, plan.media, plan.expectedFrames);
    const box = letterbox(probe.width, probe.height, modelInput);
    const minScore = job.options.minScore ?? config.detector.minScore;
    const { classes, maxDetections, roi } = job.options;
    const filter = { classes, maxDetections, roi };
    const trackScore = tracksObjects(job.options) ? resolveTrackerOptions(job.options.tracking).trackThreshold : undefined;
    /** What every chunk of the job says; each adds its number, frames and how they travel. */
    const common = {
      v: 1 as const, jobId: job.jobId, tenant: job.tenant, ...(ref ? { model: ref } : {}),
      frameWidth: box.inputWidth, frameHeight: box.inputHeight, content: { width: box.width, height: box.height }, sourceWidth: probe.width, sourceHeight: probe.height,
      scale: box.scale, minScore, filter, ...(trackScore !== undefined && trackScore < minScore ? { trackScore } : {}),
    };
    let chunks = 0;
    const publish = async (header: Omit<ChunkHeader, keyof typeof common | 'chunk'>, payload: readonly Buffer[]) => {
      if (!(await deps.jobs.getById(job.jobId))) throw new JobDeleted(); // cancelled: stop
      // Keyed by job and chunk, not by job: a job's chunks spread over the partitions, so several detectors (or
      // chunks in flight) work on one job at once. Nothing downstream needs them in order.
      await bus.send(topics.chunks, [{ key: `${job.jobId}/${chunks}`, value: encodeChunk({ ...common, chunk: chunks, ...header }, payload) }]);
      metrics.chunksProduced.inc({ source: 'job' });
      metrics.framesDecoded.inc({ source: 'job' }, header.frames.length);
      chunks++;
    };
    const started = Date.now();
    const wire = config.processor.wireFormat;
    const segmented = wire === 'video'
      ? await planVideoChunks(file, probe, plan, {
        limits, minFrames: config.processor.videoChunkFrames, maxFrames: config.processor.maxFrames,
        maxBytes: config.kafka.maxMessageBytes - 64 * 1024,
      })
      : undefined;
    let frames = 0;
    if (segmented?.ok) {
      // Whole GOPs, remuxed: the detector decodes them (no frame is decoded here).
      for await (const { segment, video } of videoChunks(file, dir, segmented.segments, limits)) {
        // A GOP longer than a chunk may carry frames goes out as several chunks of it, each decoding it all.
        for (let i = 0; i < segment.frames.length; i += MAX_CHUNK_FRAMES) {
          await publish({
            pixelFormat: 'video', video: { codec: segmented.codec, frames: segment.packets },
            frames: segment.frames.slice(i, i + MAX_CHUNK_FRAMES).map(({ frame, source }) => ({ frame, ptsMs: ptsMsOf(frame, plan), source })),
          }, [video]);
        }
      }
      frames = segmented.frames;
    } else {
      if (segmented) jobLog.info({ reason: segmented.reason }, 'video not sent as GOPs: frames are decoded here');
      frames = await publishDecoded(file, probe.isImage, plan, box, wire === 'jpeg' ? 'jpeg' : 'bgr24', publish, jobLog);
    }
    checkDecodedFrames(plan, frames);
    await deps.jobs.setPlan(job.jobId, { chunks, frames });
    await bus.send(topics.detections, [{
      key: job.jobId,
      value: ChunkOutcome.encode({ v: 1, kind: 'plan', jobId: job.jobId, tenant: job.tenant, chunks, frames }),
    }]);
    jobLog.info({ frames, chunks, wire: segmented?.ok ? 'video' : wire === 'jpeg' ? 'jpeg' : 'raw', decodeMs: Date.now() - started }, 'job split into chunks');
  }

  /** Decodes and letterboxes the frames here and publishes them as raw pixels or JPEG files; resolves with the count. */
  async function publishDecoded(
    file: string, isImage: boolean, plan: MediaPlan, box: Letterbox, output: 'bgr24' | 'jpeg',
    publish: (header: Pick<ChunkHeader, 'pixelFormat' | 'frames'>, payload: readonly Buffer[]) => Promise<void>, jobLog: Logger,
  ): Promise<number> {
    const pending: { frame: number; ptsMs: number; pixels: Buffer }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await publish({
        pixelFormat: output,
        frames: pending.map(({ frame, ptsMs, pixels }) => (output === 'jpeg' ? { frame, ptsMs, bytes: pixels.length } : { frame, ptsMs })),
      }, pending.map((f) => f.pixels));
      pending.length = 0;
    };
    const frames = await decodeFrames({
      path: file,
      letterbox: box,
      fps: plan.sampleFps,
      startMs: plan.startMs,
      durationMs: plan.durationMs,
      isImage,
      maxFrames: config.processor.maxFrames,
      limits,
      output,
      ...(config.processor.ffmpegThreads > 0 ? { threads: config.processor.ffmpegThreads } : {}),
      onStderr: (line) => jobLog.debug({ ffmpeg: line.slice(0, 500) }, 'ffmpeg'),
      onFrame: async (pixels, frame) => {
        pending.push({ frame, ptsMs: ptsMsOf(frame, plan), pixels });
        if (pending.length >= config.processor.chunkFrames) await flush();
      },
    });
    await flush();
    return frames;
  }

  return {
    async start(): Promise<void> {
      consumer = await bus.consume({
        groupId: groupId(config.kafka.topicPrefix, 'processor'),
        topics: [topics.jobs],
        concurrency: 2,
        handle,
        giveUp: deadLetterThen(bus, topics.dlq, log, async (message, error) => {
          if (message.key) await deps.jobs.fail(message.key, toFailureReason(error));
        }),
      });
      log.info('processor consuming jobs');
    },
    async close(): Promise<void> {
      await consumer?.stop();
    },
  };
}

/** Thrown inside the decode loop when the job's record is gone (DELETE /v1/jobs/:id). */
class JobDeleted extends Error {}
