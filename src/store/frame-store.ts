import type { Collection } from 'mongodb';
import type { FrameDetections } from '../contracts/messages.js';
import type { JobRecord } from './job-record.js';

/**
 * A merged chunk's frames (collection `frames`): one document per (job, chunk), written once by the merger and, with
 * tracking on, once more when its frames are tracked (their track ids into `data`). Shaped for the MongoDB-protocol server of the local stack (FerretDB 1.x), which runs only equality filters
 * in its backend, sorts and applies ranges in its own memory after reading every match, and spends about a
 * millisecond per frame turning nested detections into BSON:
 *  - every read is an equality on indexed fields that matches a few documents: a page asks for the chunks whose last
 *    frame falls in one bucket of {@link FRAME_BUCKET} frames (`fb`), in one window of {@link TIME_BUCKET_MS} (`tb`),
 *    or, per label, in one window of {@link LABEL_BUCKET} frames (`lb`: "label:window" for each label in the chunk);
 *  - the frames themselves are one JSON string (`data`), a single value for the server, parsed here.
 * Chunks are consecutive and disjoint, so walking buckets upwards from the one of the first frame wanted visits
 * every later frame in order, whatever the chunk size (at most {@link FRAME_BUCKET} frames, VDET_CHUNK_FRAMES' limit).
 */
export interface FrameChunkRecord {
  _id: string;
  tenant: string;
  jobId: string;
  chunk: number;
  /** First and last frame in the chunk, and their presentation times. */
  first: number;
  last: number;
  firstMs: number;
  lastMs: number;
  frames: number;
  fb: number;
  tb: number;
  lb: string[];
  /** The chunk's frames (FrameDetections[], frame order) as JSON. */
  data: string;
  /** Tracking on: set when the tracker has written the frames' track ids into `data` (once; see track-store.ts). */
  tracked?: boolean;
}

export const FRAME_BUCKET = 256;
export const LABEL_BUCKET = 1024;
/**
 * Coarser label windows, written beside the 1024-frame ones (`lb`: "label@4096:window", …): the rarer a label, the
 * wider the window a page reads, so that a page of a label in one frame in a hundred, or in ten thousand, is a query
 * or two instead of one per 1024 frames. A job written with them says so (`labelWindows`); older jobs use 1024 only.
 */
export const LABEL_WINDOWS = [LABEL_BUCKET, 4096, 16_384, 65_536, 262_144] as const;
/** A window is wide enough when it is expected to hold this many frames with the label. */
const FRAMES_PER_WINDOW = 40;
export const TIME_BUCKET_MS = 10_000;
/** A label in fewer than one frame in this many is read through its windows. */
export const RARE_LABEL = 8;

/** The document of one merged chunk; undefined for a chunk without frames. */
export function frameChunkRecord(chunk: { jobId: string; tenant: string; chunk: number; frames: readonly FrameDetections[] }): FrameChunkRecord | undefined {
  const frames = [...chunk.frames].sort((a, b) => a.frame - b.frame);
  const first = frames[0];
  const last = frames[frames.length - 1];
  if (!first || !last) return undefined;
  const labels = new Set<string>();
  for (const f of frames) for (const d of f.detections) labels.add(d.label);
  const labelKeys = [...labels].sort().flatMap((l) => LABEL_WINDOWS.map((size) => labelWindowKey(l, size, Math.floor(last.frame / size))));
  return {
    _id: `${chunk.jobId}:${chunk.chunk}`,
    tenant: chunk.tenant,
    jobId: chunk.jobId,
    chunk: chunk.chunk,
    first: first.frame,
    last: last.frame,
    firstMs: first.ptsMs,
    lastMs: last.ptsMs,
    frames: frames.length,
    fb: Math.floor(last.frame / FRAME_BUCKET),
    tb: Math.floor(last.ptsMs / TIME_BUCKET_MS),
    lb: labelKeys,
    data: JSON.stringify(frames.map(({ frame, ptsMs, detections }) => ({ frame, ptsMs, detections }))),
  };
}

/** The `lb` entry of a label's window (the 1024-frame one keeps its first form, "label:window"). */
function labelWindowKey(label: string, size: number, window: number): string {
  return size === LABEL_BUCKET ? `${label}:${window}` : `${label}@${size}:${window}`;
}

/** Indexes the reads below rely on (the merger, api and retention create them at start-up). */
export async function ensureFrameIndexes(frames: Collection<FrameChunkRecord>): Promise<void> {
  await frames.createIndex({ tenant: 1, jobId: 1, fb: 1 }, { name: 'tenant_job_fb' });
  await frames.createIndex({ tenant: 1, jobId: 1, tb: 1 }, { name: 'tenant_job_tb' });
  await frames.createIndex({ tenant: 1, jobId: 1, lb: 1 }, { name: 'tenant_job_lb' });
}

export interface FrameQuery {
  /** Frames after this one (a page's cursor); -1 or undefined: from the first. */
  after?: number | undefined;
  /** Presentation time from (inclusive) and to (exclusive), ms. */
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /**
   * Frames with this label are wanted (the caller still filters detections). Once the job is done its summary says
   * how common the label is: a rare one is read through the label windows, a common one bucket by bucket.
   */
  label?: string | undefined;
}

type Job = Pick<JobRecord, '_id' | 'tenant' | 'progress' | 'plan' | 'media' | 'options' | 'summary' | 'labelWindows'>;
type Bucket = 'fb' | 'tb' | 'lb';

/**
 * A job's frames in frame order, matching `query`, read a bucket at a time: each step is one indexed equality
 * matching a few documents, so a page costs what it returns (and what it skips of its own job), never what others
 * stored. A bucket past the job's last frame that is empty ends the walk.
 */
export async function* readFrames(frames: Collection<FrameChunkRecord>, job: Job, query: FrameQuery = {}): AsyncGenerator<FrameDetections> {
  const { fromMs, toMs } = query;
  let after = query.after ?? -1;
  const lastFrame = Math.max(job.plan?.frames ?? 0, job.progress.framesTotal, job.progress.framesDone, 1) - 1;
  let label: string | undefined;
  let size: number = FRAME_BUCKET;
  if (query.label !== undefined && job.summary) {
    const withLabel = job.summary[query.label]?.frames ?? 0;
    if (withLabel === 0) return;
    if (withLabel * RARE_LABEL < lastFrame + 1) {
      label = query.label;
      // The narrowest window expected to hold enough of the label's frames, among those the job was written with.
      const density = withLabel / (lastFrame + 1);
      const windows = LABEL_WINDOWS.filter((w) => w === LABEL_BUCKET || job.labelWindows?.includes(w));
      size = windows.find((w) => density * w >= FRAMES_PER_WINDOW) ?? windows.at(-1)!;
    }
  }
  if (fromMs !== undefined) {
    const start = await firstChunkFrom(frames, job, fromMs, after);
    if (start === undefined) return;
    after = Math.max(after, start - 1);
  }
  const end = Math.floor(lastFrame / size);
  for (let b = Math.floor((after + 1) / size); ; b++) {
    const docs = await bucket(frames, job, label === undefined ? 'fb' : 'lb', label === undefined ? b : labelWindowKey(label, size, b));
    if (docs.length === 0 && b > end) return;
    for (const doc of docs) {
      if (doc.last <= after) continue;
      for (const frame of JSON.parse(doc.data) as FrameDetections[]) {
        if (frame.frame <= after) continue;
        if (toMs !== undefined && frame.ptsMs >= toMs) return;
        if (fromMs !== undefined && frame.ptsMs < fromMs) continue;
        yield frame;
      }
    }
  }
}

/** The first frame at or after fromMs (and after `after`), found through the time buckets. */
async function firstChunkFrom(frames: Collection<FrameChunkRecord>, job: Job, fromMs: number, after: number): Promise<number | undefined> {
  const endMs = job.options.endMs ?? job.media?.durationMs ?? 0;
  const end = Math.floor(endMs / TIME_BUCKET_MS);
  for (let t = Math.floor(Math.max(fromMs, job.options.startMs ?? 0) / TIME_BUCKET_MS); ; t++) {
    const docs = await bucket(frames, job, 'tb', t);
    if (docs.length === 0 && t > end) return undefined;
    for (const doc of docs) {
      if (doc.lastMs < fromMs || doc.last <= after) continue;
      const frame = (JSON.parse(doc.data) as FrameDetections[]).find((f) => f.ptsMs >= fromMs && f.frame > after);
      if (frame) return frame.frame;
    }
  }
}

async function bucket(frames: Collection<FrameChunkRecord>, job: Job, field: Bucket, value: number | string): Promise<FrameChunkRecord[]> {
  const docs = await frames.find({ tenant: job.tenant, jobId: job._id, [field]: value }).toArray();
  return docs.sort((a, b) => a.first - b.first);
}
