import type { FailureReason } from '../platform/errors.js';
import type { ModelRef } from '../contracts/chunk.js';
import type { JobOptions } from '../contracts/job-options.js';
import type { MediaInfo } from '../contracts/media-info.js';
import type { Summary } from '../contracts/summary.js';
import type { ZoneReport } from '../vision/zones.js';
import { fromJsonText, withJsonText } from './documents.js';
import type { JobStatus } from './job-state.js';

/** A job's options that hold polygons (see {@link withJsonText}); queries read the others, e.g. `options.callbackUrl`. */
const JSON_TEXT_OPTIONS = ['roi', 'zones'] as const satisfies readonly (keyof JobOptions)[];

export function toStoredOptions(options: JobOptions): JobOptions {
  return withJsonText(options, JSON_TEXT_OPTIONS);
}

/** A job record as read from the store, its options decoded. */
export function jobFromStore<T extends JobRecord | null>(doc: T): T {
  if (!doc) return doc;
  const options = fromJsonText(doc.options, JSON_TEXT_OPTIONS);
  return options === doc.options ? doc : { ...doc, options };
}

/** A job as stored in MongoDB (collection `jobs`). */
export interface JobRecord {
  _id: string;
  tenant: string;
  status: JobStatus;
  filename: string;
  uploadId: string;
  uploadBytes: number;
  options: JobOptions;
  /**
   * The model the job runs on: a registered version (pinned at submission: a new version does not change the job),
   * or `default`, VDET_MODEL (with its sha256 where the api could read the file). Absent on jobs made before models
   * were registered: those ran on the default.
   */
  model?: JobModel;
  media?: MediaInfo;
  /** Set when the processor has emitted every chunk: what the merger must see before the job is done. */
  plan?: { chunks: number; frames: number };
  progress: { framesDone: number; framesTotal: number };
  /** Redis' chunk count fell behind once (see JobStore.touch): completion counts the job's chunks in MongoDB. */
  progressFromStore?: boolean;
  counts?: Record<string, number>;
  /** Per label: frames with it, most in one frame, first and last seen; set when the job is done. */
  summary?: Summary;
  /** Tracking on, once done: distinct objects (confirmed tracks with stored detections) per label. */
  objects?: Record<string, number>;
  /** Tracking on, once done: how many tracks it has (collection `job_tracks`), and the highest id. */
  /** `paged`: stored in `track_pages` (track-store.ts); jobs done before have a document a track in `job_tracks`. */
  tracks?: { count: number; lastTrackId: number; paged?: boolean };
  /** A job with zones or lines, once done: what they counted. */
  zones?: ZoneReport;
  error?: FailureReason;
  /** Set once the job's callback (options.callbackUrl) is in the webhook outbox. */
  callbackQueuedAt?: Date;
  /** The label windows its frame documents carry beyond the 1024-frame one (frame-store.ts' LABEL_WINDOWS). */
  labelWindows?: number[];
  /** Once done: its rare labels' pages (label-pages.ts), in the order of their ids. */
  labelPages?: LabelPagesIndex[];
  /** When retention removes the job: set as it ends, from `options.retentionDays`. */
  expiresAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export type JobModel = ModelRef | { name: 'default'; sha256?: string };

/** The registered model version a job is pinned to; undefined for the default model. */
export function registeredModel(job: Pick<JobRecord, 'model'>): ModelRef | undefined {
  return job.model && 'version' in job.model ? job.model : undefined;
}

/** Per rare label of a done job, the last frame of each of its pages (JobRecord.labelPages). */
export interface LabelPagesIndex {
  label: string;
  lasts: number[];
}

/** One merged chunk (collection `job_chunks`), unique per (job, chunk): progress counts these, never increments. */
export interface ChunkRecord {
  _id: string;
  jobId: string;
  chunk: number;
  frames: number;
  summary: Summary;
  mergedAt: Date;
  /** Tracking on: the frames' boxes under minScore (TrackOnlyFrame[] as JSON), kept until the chunk is tracked. */
  trackOnly?: string;
  /** Tracking on, once tracked: the chunk's track segments (TrackSegment[] as JSON). */
  tracks?: string;
}
