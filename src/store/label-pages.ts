import type { Collection } from 'mongodb';
import type { FrameDetections } from '../contracts/messages.js';
import { readFrames, RARE_LABEL, type FrameChunkRecord, type FrameQuery } from './frame-store.js';
import { insertOnce } from './documents.js';
import { jobFromStore, type JobRecord, type LabelPagesIndex } from './job-record.js';

/** The collections label pages read and write (src/store/mongo.ts' Store has them). */
interface LabelPageCollections {
  frames: Collection<FrameChunkRecord>;
  labelPages: Collection<LabelPageRecord>;
  jobs: Collection<JobRecord>;
}

/**
 * A done job's frames with one rare label, that label's detections only, {@link LABEL_PAGE_FRAMES} frames a
 * document (collection `label_pages`, `_id` = `{jobId}:{label index}:{k}`). What a page of `label=…` reads once the job
 * is done: one or two documents by `_id`, where the chunks would be a hundred (a label in one frame in a hundred sits
 * in a hundred chunk documents a page, and each document costs the local stack's store about a millisecond, whatever
 * its size). Built by the merger after the job is done (src/merger/label-index.ts); until then, and for common
 * labels, pages read the chunks (frame-store.ts).
 */
export interface LabelPageRecord {
  _id: string;
  tenant: string;
  jobId: string;
  label: string;
  k: number;
  first: number;
  last: number;
  /** FrameDetections[] with only the label's detections, frame order, as JSON. */
  data: string;
}

export const LABEL_PAGE_FRAMES = 128;

type Job = Parameters<typeof readFrames>[1] & Pick<JobRecord, 'summary'>;

/** The labels of a done job that pages read through label pages: those in fewer than one frame in {@link RARE_LABEL}. */
export function rareLabels(job: Job): string[] {
  const frames = Math.max(job.plan?.frames ?? 0, job.progress.framesDone, 1);
  return Object.entries(job.summary ?? {}).filter(([, s]) => s.frames > 0 && s.frames * RARE_LABEL < frames).map(([label]) => label).sort();
}

/**
 * Writes the label pages of a done job's rare labels (one read of the job's frames; ids are fixed, so a second run
 * writes nothing new) and returns their index, for the job record.
 */
export async function writeLabelPages(frames: Collection<FrameChunkRecord>, pages: Collection<LabelPageRecord>, job: Job): Promise<LabelPagesIndex[]> {
  const labels = rareLabels(job);
  if (labels.length === 0) return [];
  const wanted = new Map(labels.map((label) => [label, [] as FrameDetections[]]));
  for await (const frame of readFrames(frames, job)) {
    for (const [label, kept] of wanted) {
      const detections = frame.detections.filter((d) => d.label === label);
      if (detections.length > 0) kept.push({ frame: frame.frame, ptsMs: frame.ptsMs, detections });
    }
  }
  const index: LabelPagesIndex[] = [];
  for (const [i, label] of labels.entries()) {
    const kept = wanted.get(label)!;
    const docs: LabelPageRecord[] = [];
    for (let k = 0; k * LABEL_PAGE_FRAMES < kept.length; k++) {
      const part = kept.slice(k * LABEL_PAGE_FRAMES, (k + 1) * LABEL_PAGE_FRAMES);
      docs.push({ _id: `${job._id}:${i}:${k}`, tenant: job.tenant, jobId: job._id, label, k, first: part[0]!.frame, last: part.at(-1)!.frame, data: JSON.stringify(part) });
    }
    for (let b = 0; b < docs.length; b += 100) await insertOnce(pages, docs.slice(b, b + 100));
    index.push({ label, lasts: docs.map((d) => d.last) });
  }
  return index;
}

/** A done job's frames with `label` after frame `after`, from its label pages (`at`: the label's index entry). */
export async function* readLabelPages(pages: Collection<LabelPageRecord>, job: Pick<JobRecord, '_id' | 'tenant'>, at: { entry: LabelPagesIndex; position: number }, after: number): AsyncGenerator<FrameDetections> {
  const { lasts } = at.entry;
  for (let k = lasts.findIndex((last) => last > after); k >= 0 && k < lasts.length; k++) {
    const doc = await pages.findOne({ _id: `${job._id}:${at.position}:${k}`, tenant: job.tenant });
    if (!doc) throw new Error(`label page ${k} of ${job._id} is missing`);
    for (const frame of JSON.parse(doc.data) as FrameDetections[]) if (frame.frame > after) yield frame;
  }
}

/**
 * A job's frames in frame order, matching `query` (frame-store.ts' readFrames), through the label pages when the
 * query names a label the done job has them for. Either way the caller narrows the detections to the label.
 */
export async function* readJobFrames(store: Pick<LabelPageCollections, 'frames' | 'labelPages'>, job: Parameters<typeof readFrames>[1] & Pick<JobRecord, 'labelPages'>, query: FrameQuery = {}): AsyncGenerator<FrameDetections> {
  const position = query.label === undefined ? -1 : (job.labelPages ?? []).findIndex((e) => e.label === query.label);
  if (position < 0) {
    yield* readFrames(store.frames, job, query);
    return;
  }
  const { fromMs, toMs } = query;
  for await (const frame of readLabelPages(store.labelPages, job, { entry: job.labelPages![position]!, position }, query.after ?? -1)) {
    if (toMs !== undefined && frame.ptsMs >= toMs) return;
    if (fromMs === undefined || frame.ptsMs >= fromMs) yield frame;
  }
}

/**
 * After a job is done: writes its label pages and records their index on the job, empty when it has no rare label
 * (a job deleted meanwhile loses them again). Run by the merger, one job at a time, after the job is done; the bench seeds with it too.
 */
export async function indexRareLabels(store: LabelPageCollections, jobId: string): Promise<number> {
  const stored = await store.jobs.findOne({ _id: jobId });
  if (!stored || stored.status !== 'done' || stored.labelPages) return 0;
  const job = jobFromStore(stored);
  const index = await writeLabelPages(store.frames, store.labelPages, job);
  const { matchedCount } = await store.jobs.updateOne({ _id: jobId, status: 'done' }, { $set: { labelPages: index } });
  if (matchedCount === 0 && index.length > 0) await store.labelPages.deleteMany({ tenant: job.tenant, jobId });
  return index.length;
}
