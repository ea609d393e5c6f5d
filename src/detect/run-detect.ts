import type { Config } from '../platform/config.js';
import type { Detection, FrameDetections } from '../contracts/messages.js';
import { letterbox, type ModelInput } from '../media/letterbox.js';
import type { BatchItem } from '../vision/batch-scheduler.js';
import { applyDetectionFilter } from '../vision/detection-filter.js';
import { combineSummaries, summarizeFrames, type Summary } from '../results/merge-rules.js';
import type { DecodeRequest, MediaLimits, ProbeResult } from '../media/ffmpeg.js';
import { checkDecodedFrames, planMedia, ptsMsOf, type MediaPlan } from '../media/media-plan.js';
import { ByteTracker, type TrackerOptions } from '../vision/tracking/index.js';

/**
 * The main job in one process: the processor's probe, plan and decode, the detector's batches, decoding and
 * filters, the merger's summary, wired with callbacks instead of Kafka, MongoDB and Redis. Everything with a side
 * effect (ffmpeg, the model's devices) is injected, so the wiring is testable with fakes.
 *
 * Memory stays bounded: the decoder waits while `window` frames are decoded but not yet detected and handed on.
 */
export interface DetectEngine {
  probe(file: string): Promise<ProbeResult>;
  decode(request: DecodeRequest): Promise<number>;
  /** Runs frames on the devices (the detector's BatchScheduler). */
  scheduler: { submit(items: readonly BatchItem[]): void };
  labels: readonly string[];
  /** The model's input size: frames are letterboxed to it. */
  input: ModelInput;
  processor: Config['processor'];
  limits: MediaLimits;
  /** Frames decoded but not yet handed on, at most. */
  window: number;
}

export interface DetectOptions {
  fps?: number | undefined;
  minScore: number;
  classes?: string[] | undefined;
  /**
   * Track objects across each file's frames (one tracker per file); undefined: no tracking. The tracker sees every
   * detection down to its trackThreshold; what is written still obeys minScore, with `trackId` on the detections of
   * confirmed tracks.
   */
  tracking?: TrackerOptions | undefined;
}

/** A written detection: with its track's id when tracking has confirmed one. */
export interface TrackedDetection extends Detection {
  trackId?: number;
}

export interface PlannedFile {
  /** The file as the user named it (reported in results). */
  file: string;
  /** The path ffmpeg reads: a name without extension, so that it recognises the content, never the name. */
  mediaPath: string;
  probe: ProbeResult;
  plan: MediaPlan;
}

export interface FileResult extends PlannedFile {
  frames: number;
  detections: number;
  summary: Summary;
  /** With tracking: per label, the distinct track ids among the detections written. */
  objects?: Record<string, number>;
  /** With tracking: the time spent in the tracker. */
  trackingMs?: number;
  wallMs: number;
}

/**
 * Probes a file and plans its decode; throws the processor's VdetError when it is unreadable or over a limit.
 * `mediaPath` is what ffmpeg opens (by default the file itself).
 */
export async function planFile(
  file: string, options: DetectOptions, engine: Pick<DetectEngine, 'probe' | 'processor'>, mediaPath = file,
): Promise<PlannedFile> {
  const probe = await engine.probe(mediaPath);
  return { file, mediaPath, probe, plan: planMedia(probe, { fps: options.fps }, engine.processor) };
}

/**
 * Decodes, detects and summarises one planned file; `onFrame` gets every frame's detections in frame order (the
 * decoder waits for it: backpressure reaches ffmpeg).
 */
export async function detectFile(
  planned: PlannedFile,
  options: DetectOptions,
  engine: DetectEngine,
  onFrame: (frame: FrameDetections) => Promise<void> | void,
): Promise<FileResult> {
  const started = Date.now();
  const { file, mediaPath, probe, plan } = planned;
  const box = letterbox(probe.width, probe.height, engine.input);
  const tracker = options.tracking ? new ByteTracker(options.tracking) : undefined;
  // NMS keeps a box by the stronger boxes only: decoding further down changes none of the boxes at minScore and up.
  const frameDecode = {
    minScore: tracker ? Math.min(options.minScore, tracker.options.trackThreshold) : options.minScore, scale: box.scale, sourceWidth: probe.width, sourceHeight: probe.height,
  };
  const filter = options.classes ? { classes: options.classes } : undefined;
  const layout = { width: box.width, height: box.height, order: 'bgr' } as const;
  const inFlight: Promise<Detection[]>[] = [];
  const summaries: Summary[] = [];
  let pendingForSummary: FrameDetections[] = [];
  let emitted = 0;
  let detections = 0;
  const trackIds = new Map<string, Set<number>>();
  let trackingMs = 0;

  const track = (ptsMs: number, found: Detection[]): TrackedDetection[] => {
    if (!tracker) return found;
    const started = performance.now();
    const ids = tracker.update(ptsMs, found);
    const written: TrackedDetection[] = [];
    found.forEach((d, i) => {
      if (d.score < options.minScore) return;
      const trackId = ids[i];
      if (trackId === undefined) written.push(d);
      else {
        written.push({ ...d, trackId });
        const labelIds = trackIds.get(d.label) ?? new Set<number>();
        trackIds.set(d.label, labelIds.add(trackId));
      }
    });
    trackingMs += performance.now() - started;
    return written;
  };

  const emitOldest = async () => {
    const ptsMs = ptsMsOf(emitted, plan);
    const frame: FrameDetections = { frame: emitted, ptsMs, detections: track(ptsMs, await inFlight.shift()!) };
    emitted++;
    detections += frame.detections.length;
    pendingForSummary.push(frame);
    if (pendingForSummary.length >= 256) {
      summaries.push(summarizeFrames(pendingForSummary));
      pendingForSummary = [];
    }
    await onFrame(frame);
  };

  const decoded = await engine.decode({
    path: mediaPath,
    letterbox: box,
    fps: plan.sampleFps,
    startMs: plan.startMs,
    durationMs: plan.durationMs,
    isImage: probe.isImage,
    maxFrames: engine.processor.maxFrames,
    limits: engine.limits,
    onFrame: async (pixels) => {
      const result = new Promise<Detection[]>((resolve, reject) => {
        engine.scheduler.submit([{
          queue: file,
          pixels,
          layout, // the image only: the scheduler's device pads it to the model's square
          decode: frameDecode, // decoded next to the model, in the runner's worker
          finish: (found) => resolve(applyDetectionFilter(found, filter, probe.width, probe.height)),
          fail: reject,
        }]);
      });
      result.catch(() => undefined); // awaited in order by emitOldest; a later frame may fail first
      inFlight.push(result);
      while (inFlight.length >= engine.window) await emitOldest();
    },
  });
  while (inFlight.length > 0) await emitOldest();
  checkDecodedFrames(plan, decoded);
  summaries.push(summarizeFrames(pendingForSummary));
  const result: FileResult = { ...planned, frames: emitted, detections, summary: combineSummaries(summaries), wallMs: Date.now() - started };
  if (tracker) {
    result.objects = Object.fromEntries([...trackIds].map(([label, ids]) => [label, ids.size]));
    result.trackingMs = trackingMs;
  }
  return result;
}
