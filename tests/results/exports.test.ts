import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FrameDetections } from '../../src/contracts/messages.js';
import { CSV_HEADER, csvField, exportPieces, frameFileName, type ExportFormat, type ExportJob } from '../../src/results/exports.js';

const FRAMES: FrameDetections[] = [
  { frame: 0, ptsMs: 0, detections: [
    { label: 'dog', classId: 16, score: 0.84, box: [133, 99.5, 337.7, 363.4], trackId: 3 },
    { label: 'car', classId: 2, score: 0.7788, box: [468.6, 0.5, 637.8, 51.2] },
  ] },
  { frame: 1, ptsMs: 40, detections: [] },
  { frame: 2, ptsMs: 80, detections: [{ label: 'traffic, "big" light', classId: 9, score: 0.5, box: [1, 2, 3, 4] }] },
];
const JOB: ExportJob = {
  id: 'job-1', filename: 'tour.mp4', width: 640, height: 360, fps: 25, finishedAt: new Date('2025-01-02T03:04:05Z'),
  labels: ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic, "big" light',
    'a', 'b', 'c', 'd', 'e', 'f', 'dog'],
};

async function exportText(format: ExportFormat, frames: FrameDetections[] = FRAMES): Promise<string> {
  let text = '';
  // An async source, as the api's cursor is, read once per pass.
  let passes = 0;
  for await (const piece of exportPieces(format, JOB, () => { passes++; return toAsync(frames); })) text += piece;
  assert.equal(passes, format === 'coco' ? 2 : 1, 'passes over the frames');
  return text;
}

async function* toAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

/** A small RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const pattern = /("(?:[^"]|"")*"|[^,\r\n]*)(,|\r\n|$)/gy;
  let row: string[] = [];
  for (let match = pattern.exec(text); match && match.index < text.length; match = pattern.exec(text)) {
    const field = match[1]!;
    row.push(field.startsWith('"') ? field.slice(1, -1).replaceAll('""', '"') : field);
    if (match[2] !== ',') {
      rows.push(row);
      row = [];
    }
  }
  return rows;
}

test('CSV: header, one row per detection (CRLF), commas and quotes quoted, frames without detections leave no row', async () => {
  const text = await exportText('csv');
  assert.ok(text.startsWith(`${CSV_HEADER}\r\n`));
  assert.ok(text.endsWith('\r\n'));
  assert.ok(text.includes('"traffic, ""big"" light"'));
  const rows = parseCsv(text);
  assert.deepEqual(rows[0], CSV_HEADER.split(','));
  assert.equal(rows.length, 1 + 3);
  assert.equal(CSV_HEADER, 'frame,ms,label,class_id,score,x1,y1,x2,y2,track_id');
  assert.deepEqual(rows[1], ['0', '0', 'dog', '16', '0.84', '133', '99.5', '337.7', '363.4', '3']);
  assert.deepEqual(rows[2], ['0', '0', 'car', '2', '0.7788', '468.6', '0.5', '637.8', '51.2', ''], 'no track: an empty track_id');
  assert.deepEqual(rows[3], ['2', '80', 'traffic, "big" light', '9', '0.5', '1', '2', '3', '4', '']);
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
});

test('JSONL: one object per frame, every frame, in order', async () => {
  const lines = (await exportText('jsonl')).split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), FRAMES);
});

test('COCO: images per frame, annotations with [x, y, w, h] and ids from 1, categories from the labels', async () => {
  const coco = JSON.parse(await exportText('coco')) as {
    info: Record<string, unknown>;
    images: { id: number; file_name: string; width: number; height: number; frame: number; ptsMs: number }[];
    annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; score: number; iscrowd: number }[];
    categories: { id: number; name: string }[];
  };
  assert.equal(coco.info['job_id'], 'job-1');
  assert.equal(coco.info['year'], 2025);
  assert.deepEqual(coco.images.map((i) => [i.id, i.file_name, i.width, i.height, i.frame, i.ptsMs]), [
    [1, 'frame_000000.jpg', 640, 360, 0, 0], [2, 'frame_000001.jpg', 640, 360, 1, 40], [3, 'frame_000002.jpg', 640, 360, 2, 80],
  ]);
  assert.deepEqual(coco.annotations.map((a) => a.id), [1, 2, 3]);
  const [dog, car, light] = coco.annotations;
  assert.deepEqual(dog, { id: 1, image_id: 1, category_id: 17, bbox: [133, 99.5, 204.7, 263.9], area: 54020.33, score: 0.84, iscrowd: 0, track_id: 3 });
  assert.deepEqual(car!.bbox, [468.6, 0.5, 169.2, 50.7]);
  assert.equal('track_id' in car!, false);
  assert.equal(light!.image_id, 3);
  assert.equal(coco.categories.length, JOB.labels.length);
  assert.deepEqual(coco.categories[16], { id: 17, name: 'dog', supercategory: 'object' });
  for (const a of coco.annotations) assert.equal(coco.categories.find((c) => c.id === a.category_id)?.name, JOB.labels[a.category_id - 1]);
});

test('MOT: one line per tracked detection, frame from 1, [x, y, w, h], -1 for the 3D fields; untracked ones left out', async () => {
  const tracked: FrameDetections[] = [
    ...FRAMES,
    { frame: 9, ptsMs: 360, detections: [{ label: 'dog', classId: 16, score: 0.8, box: [140, 100, 340.5, 360], trackId: 3 }, { label: 'car', classId: 2, score: 0.6, box: [0, 0, 10, 10], trackId: 12 }] },
  ];
  assert.deepEqual((await exportText('mot', tracked)).split('\n'), [
    '1,3,133,99.5,204.7,263.9,0.84,-1,-1,-1',
    '10,3,140,100,200.5,260,0.8,-1,-1,-1',
    '10,12,0,0,10,10,0.6,-1,-1,-1',
    '',
  ]);
});

test('every format is valid for a job without frames', async () => {
  assert.equal(await exportText('mot', []), '');
  assert.equal(await exportText('csv', []), `${CSV_HEADER}\r\n`);
  assert.equal(await exportText('jsonl', []), '');
  const coco = JSON.parse(await exportText('coco', [])) as { images: unknown[]; annotations: unknown[] };
  assert.deepEqual([coco.images, coco.annotations], [[], []]);
});

test('a long job comes out in pieces of bounded size, not one string', async () => {
  const many = Array.from({ length: 5000 }, (_, frame) => ({ ...FRAMES[0]!, frame, ptsMs: frame * 40 }));
  const sizes: number[] = [];
  for await (const piece of exportPieces('jsonl', JOB, () => many)) sizes.push(piece.length);
  assert.ok(sizes.length > 10, `${sizes.length} pieces`);
  assert.ok(Math.max(...sizes) < 70 * 1024, `largest piece ${Math.max(...sizes)}`);
  assert.equal(frameFileName(1234567), 'frame_1234567.jpg');
});
