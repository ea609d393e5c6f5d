import type { EndToEndResult } from './end-to-end.js';
import type { RawResult } from './raw-model.js';
import type { WireResult } from './wire-format.js';

/** Everything one run measured, as printed on the last line and written to bench-results/latest.json. */
export interface BenchSummary {
  date: string;
  machine: {
    cpus: number; cpuModel: string; gpu: string; memoryGiB: number; node: string; onnxruntime: string;
    /** 1-minute load averages; at the start, above `cpus` means other work shared the machine; the end includes the bench's own end-to-end run. */
    loadAvg1mAtStart: number; loadAvg1mAtEnd: number;
  };
  video: { width: number; height: number; fps: number; seconds: number; frames: number };
  /** Tensor fill + model, frames/s, per configuration (sessions x threads, batch, placement). */
  rawFps: Record<string, number>;
  /** The same plus decodeYolox per frame. */
  rawWithDecodeFps: Record<string, number>;
  /** Median gap between event-loop turns while the model ran, per configuration. */
  rawEventLoopStallMs: Record<string, number>;
  bestRawConfig: string;
  bestRawFps: number;
  bestRawWithDecodeFps: number;
  /** What `vdet detector` runs here (VDET_DEVICES=auto's CPU sessions, batches of VDET_BATCH_MAX). */
  detectorConfig: string;
  /** ffmpeg decode + letterbox of the whole video alone (the processor's filter chain), frames/s. */
  decodeAloneFps: number;
  e2eFps: number;
  videoSecondsPerSecond: number;
  /** e2eFps ÷ bestRawFps. */
  ratio: number;
  e2e: {
    jobId: string; frames: number; chunks: number; e2eMs: number;
    /** Detector results per second: overall, while the processor was still decoding, after it had finished. */
    detectorSteadyFps: number; detectorWhileDecodingFps: number; detectorAfterDecodingFps: number;
    /** Processor: frames ÷ decodeMs (decode + letterbox + publishing chunks, sharing the CPU). */
    processorFps: number | null;
    timelineSource: string;
  };
  rssMb: Record<string, number>;
  /** CPU seconds used during the job by each role, the processor's ffmpeg, and the stack (shared with anything else using it). */
  cpuSeconds: Record<string, number>;
  /** cores × job wall seconds: what there was to share. */
  cpuSecondsAvailable: number;
  stageMs: {
    upload: number;
    queue: number;
    fetchProbe: number;
    /** From the first decoded frame to the detector's last result: decode, transfer and inference overlap here. */
    decodeAndDetect: number;
    /** The processor's decodeMs (ffmpeg decode + letterbox + publishing chunks); null when its log line was missing. */
    decode: number | null;
    /** Not measurable from outside the detector: frames ÷ model+decode frames/s of the detector's configuration. */
    inferenceEstimate: number;
    /** decodeAndDetect − inferenceEstimate: waiting for frames, Kafka transfer, (de)serialising, batch waits, CPU shared with ffmpeg. */
    transferQueueing: number;
    detectorFirstResult: number;
    detectorTailAfterDecode: number;
    mergeTail: number;
    mergePerChunkMean: number;
    mergePerChunkMax: number;
  };
  wire: WireResult;
  benchSeconds: number;
}

export interface SummaryInputs {
  machine: BenchSummary['machine'];
  video: BenchSummary['video'];
  raw: readonly RawResult[];
  detectorConfig: string;
  decodeAloneFps: number;
  e2e: EndToEndResult;
  wire: WireResult;
  startedAt: number;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const ms = (v: number) => Math.round(v);
const roundAll = <T extends Record<string, number>>(o: T, digits = 1) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v, digits)])) as T;

export function buildSummary(i: SummaryInputs): BenchSummary {
  const best = i.raw.reduce((a, b) => (b.modelFps > a.modelFps ? b : a));
  const detector = i.raw.find((r) => r.key === i.detectorConfig) ?? best;
  const { e2e } = i;
  const e2eFps = e2e.frames / (e2e.e2eMs / 1000);
  const inferenceEstimate = (e2e.frames / detector.modelDecodeFps) * 1000;
  return {
    date: new Date(i.startedAt).toISOString(),
    machine: i.machine,
    video: i.video,
    rawFps: roundAll(Object.fromEntries(i.raw.map((r) => [r.key, r.modelFps]))),
    rawWithDecodeFps: roundAll(Object.fromEntries(i.raw.map((r) => [r.key, r.modelDecodeFps]))),
    rawEventLoopStallMs: roundAll(Object.fromEntries(i.raw.map((r) => [r.key, r.eventLoopStallMs]))),
    bestRawConfig: best.key,
    bestRawFps: round(best.modelFps),
    bestRawWithDecodeFps: round(best.modelDecodeFps),
    detectorConfig: detector.key,
    decodeAloneFps: round(i.decodeAloneFps),
    e2eFps: round(e2eFps),
    videoSecondsPerSecond: round(e2e.videoMs / e2e.e2eMs, 2),
    ratio: round(e2eFps / best.modelFps, 3),
    e2e: {
      jobId: e2e.jobId, frames: e2e.frames, chunks: e2e.chunks, e2eMs: e2e.e2eMs,
      detectorSteadyFps: round(e2e.detector.steadyFps),
      detectorWhileDecodingFps: round(e2e.detector.whileDecodingFps),
      detectorAfterDecodingFps: round(e2e.detector.afterDecodingFps),
      processorFps: e2e.decodeMs ? round(e2e.frames / (e2e.decodeMs / 1000)) : null,
      timelineSource: e2e.detector.source,
    },
    rssMb: roundAll(e2e.rssMb, 0),
    cpuSeconds: roundAll(e2e.cpuSeconds),
    cpuSecondsAvailable: round((i.machine.cpus * e2e.e2eMs) / 1000),
    stageMs: {
      upload: ms(e2e.timeline.uploadMs),
      queue: ms(e2e.timeline.queueMs),
      fetchProbe: ms(e2e.timeline.fetchProbeMs),
      decodeAndDetect: ms(e2e.timeline.decodeAndDetectMs),
      decode: e2e.decodeMs ?? null,
      inferenceEstimate: ms(inferenceEstimate),
      transferQueueing: ms(e2e.timeline.decodeAndDetectMs - inferenceEstimate),
      detectorFirstResult: ms(e2e.detector.firstResultMs),
      detectorTailAfterDecode: ms(e2e.detector.tailAfterDecodeMs),
      mergeTail: ms(e2e.timeline.mergeTailMs),
      mergePerChunkMean: ms(e2e.merge.meanChunkLagMs),
      mergePerChunkMax: ms(e2e.merge.maxChunkLagMs),
    },
    wire: {
      ...i.wire,
      compression: round(i.wire.compression),
      jpegEncodeMs: round(i.wire.jpegEncodeMs, 3),
      jpegDecodeMs: round(i.wire.jpegDecodeMs, 3),
      tensorFillMs: round(i.wire.tensorFillMs, 3),
      rawPublishMs: round(i.wire.rawPublishMs, 3),
      rawPublishCpuMs: round(i.wire.rawPublishCpuMs, 3),
      jpegPublishMs: round(i.wire.jpegPublishMs, 3),
      jpegPublishCpuMs: round(i.wire.jpegPublishCpuMs, 3),
      rawPathCpuMs: round(i.wire.rawPathCpuMs, 3),
      jpegPathCpuMs: round(i.wire.jpegPathCpuMs, 3),
    },
    benchSeconds: round((Date.now() - i.startedAt) / 1000, 0),
  };
}
