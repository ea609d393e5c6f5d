import type { FrameDetections } from '../contracts/messages.js';

/**
 * A done job's detections as files other tools read: COCO detection JSON, CSV (one row per detection), JSON
 * Lines (one object per frame) and MOTChallenge text (one line per tracked detection). Track ids: COCO `track_id`,
 * CSV `track_id` (empty for a detection without one), JSON Lines as stored. Pure: frames come in as (async) iterables in frame order, text goes out in pieces
 * of about {@link PIECE_CHARS}, so a job of any length is exported without holding its frames or its text.
 */
export const EXPORT_FORMATS = ['coco', 'csv', 'jsonl', 'mot'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  coco: 'application/json',
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
  mot: 'text/plain; charset=utf-8',
};

export const EXPORT_EXTENSIONS: Record<ExportFormat, string> = { coco: '.coco.json', csv: '.csv', jsonl: '.jsonl', mot: '.mot.txt' };

export const CSV_HEADER = 'frame,ms,label,class_id,score,x1,y1,x2,y2,track_id';
/** RFC 4180 line ends. */
const CRLF = '\r\n';
const PIECE_CHARS = 64 * 1024;

/** What COCO's `info`, `images` and `categories` say beyond the frames themselves. */
export interface ExportJob {
  id: string;
  filename: string;
  /** Source frame size: the boxes are in its pixels. */
  width: number;
  height: number;
  /** Source frame rate; 0 for a still image. */
  fps: number;
  finishedAt: Date | undefined;
  /** The model's labels in class-id order: COCO category `id` is class id + 1. */
  labels: readonly string[];
  /** The model the job ran on (COCO `info.model`). */
  model?: { name: string; sha256?: string } | undefined;
}

type Frames = Iterable<FrameDetections> | AsyncIterable<FrameDetections>;

/**
 * The export as text pieces. COCO lists all images before all annotations, so it reads the frames twice:
 * `frames` is called once per pass and must give the same frames each time.
 */
export function exportPieces(format: ExportFormat, job: ExportJob, frames: () => Frames): AsyncGenerator<string> {
  switch (format) {
    case 'csv': return batched(csvLines(frames()));
    case 'jsonl': return batched(jsonlLines(frames()));
    case 'coco': return batched(cocoParts(job, frames));
    case 'mot': return batched(motLines(frames()));
  }
}

/** A CSV field: quoted (quotes doubled) when it holds a comma, quote, CR or LF. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV rows of one frame, each ending in CRLF; '' for a frame without detections. */
export function csvRows(frame: FrameDetections): string {
  let rows = '';
  for (const d of frame.detections) {
    rows += [frame.frame, frame.ptsMs, d.label, d.classId, d.score, ...d.box, d.trackId ?? ''].map(csvField).join(',') + CRLF;
  }
  return rows;
}

/**
 * One frame's MOTChallenge lines (`frame,id,x,y,w,h,score,-1,-1,-1`, frame from 1, a line per detection with a track
 * id, `\n` ends); '' for a frame without one.
 */
export function motLinesOf(frame: FrameDetections): string {
  let lines = '';
  for (const d of frame.detections) {
    if (d.trackId === undefined) continue;
    const [x1, y1, x2, y2] = d.box;
    lines += `${frame.frame + 1},${d.trackId},${x1},${y1},${round3(x2 - x1)},${round3(y2 - y1)},${d.score},-1,-1,-1\n`;
  }
  return lines;
}

export function jsonlLine(frame: FrameDetections): string {
  return `${JSON.stringify({ frame: frame.frame, ptsMs: frame.ptsMs, detections: frame.detections })}\n`;
}

/** `frame_000123.jpg`: the name a frame would have if extracted, as COCO wants a file per image. */
export function frameFileName(frame: number): string {
  return `frame_${String(frame).padStart(6, '0')}.jpg`;
}

/** COCO image ids start at 1 (some tools treat 0 as none): id = frame + 1. */
export function cocoImage(frame: Pick<FrameDetections, 'frame' | 'ptsMs'>, width: number, height: number): CocoImage {
  return { id: frame.frame + 1, file_name: frameFileName(frame.frame), width, height, frame: frame.frame, ptsMs: frame.ptsMs };
}

/** One frame's COCO annotations, ids from `firstId` on (COCO evaluation needs ids ≥ 1). */
export function cocoAnnotations(frame: FrameDetections, firstId: number): CocoAnnotation[] {
  return frame.detections.map((d, i) => {
    const [x1, y1, x2, y2] = d.box;
    const w = round3(x2 - x1);
    const h = round3(y2 - y1);
    const annotation: CocoAnnotation = { id: firstId + i, image_id: frame.frame + 1, category_id: d.classId + 1, bbox: [x1, y1, w, h], area: round3(w * h), score: d.score, iscrowd: 0 };
    if (d.trackId !== undefined) annotation.track_id = d.trackId;
    return annotation;
  });
}

export function cocoCategories(labels: readonly string[]): { id: number; name: string; supercategory: string }[] {
  return labels.map((name, classId) => ({ id: classId + 1, name, supercategory: 'object' }));
}

export interface CocoImage { id: number; file_name: string; width: number; height: number; frame: number; ptsMs: number }
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  score: number;
  iscrowd: 0;
  /** The detection's track (as in TAO and MOT-style COCO files). */
  track_id?: number;
}

async function* csvLines(frames: Frames): AsyncGenerator<string> {
  yield CSV_HEADER + CRLF;
  for await (const frame of frames) yield csvRows(frame);
}

async function* motLines(frames: Frames): AsyncGenerator<string> {
  for await (const frame of frames) yield motLinesOf(frame);
}

async function* jsonlLines(frames: Frames): AsyncGenerator<string> {
  for await (const frame of frames) yield jsonlLine(frame);
}

async function* cocoParts(job: ExportJob, frames: () => Frames): AsyncGenerator<string> {
  const info = {
    description: `vdet detections of ${job.filename}`,
    version: '1.0',
    year: (job.finishedAt ?? new Date()).getUTCFullYear(),
    contributor: 'vdet',
    date_created: (job.finishedAt ?? new Date()).toISOString(),
    job_id: job.id,
    source_filename: job.filename,
    source_fps: job.fps,
    ...(job.model ? { model: job.model } : {}),
  };
  yield `{"info":${JSON.stringify(info)},\n"categories":${JSON.stringify(cocoCategories(job.labels))},\n"images":[`;
  let first = true;
  for await (const frame of frames()) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify(cocoImage(frame, job.width, job.height))}`;
    first = false;
  }
  yield '],\n"annotations":[';
  let nextId = 1;
  for await (const frame of frames()) {
    for (const annotation of cocoAnnotations(frame, nextId)) {
      yield `${nextId === 1 ? '\n' : ',\n'}${JSON.stringify(annotation)}`;
      nextId++;
    }
  }
  yield ']}\n';
}

/** Joins small pieces into ones of about PIECE_CHARS: fewer, larger writes to the socket. */
async function* batched(pieces: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = '';
  for await (const piece of pieces) {
    pending += piece;
    if (pending.length >= PIECE_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending) yield pending;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
