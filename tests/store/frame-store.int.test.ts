import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FrameDetections } from '../../src/contracts/messages.js';
import { combineSummaries } from '../../src/contracts/summary.js';
import { FRAME_BUCKET, LABEL_WINDOWS, frameChunkRecord, readFrames, type FrameQuery } from '../../src/store/frame-store.js';
import { summarizeFrames } from '../../src/results/merge-rules.js';
import { connectStore, ensureIndexes, type Store } from '../../src/store/mongo.js';
import { insertOnce } from '../../src/store/documents.js';
import type { JobRecord } from '../../src/store/job-record.js';
import { createTestEnv } from '../helpers/stack.js';

const env = createTestEnv();
let store: Store;
const FRAMES = 700; // chunks of 7 frames: neither a divisor of the buckets nor aligned with them
const frames: FrameDetections[] = Array.from({ length: FRAMES }, (_, frame) => ({
  frame,
  ptsMs: 1000 + frame * 200,
  detections: [
    { label: 'person', classId: 0, score: 0.5 + (frame % 50) / 100, box: [0, 0, 10, 10] },
    ...(frame % 97 === 5 ? [{ label: 'giraffe', classId: 23, score: 0.9, box: [1, 2, 3, 4] as [number, number, number, number] }] : []),
    ...(frame === 333 || frame === 650 ? [{ label: 'unicorn', classId: 79, score: 0.8, box: [5, 5, 6, 6] as [number, number, number, number] }] : []),
  ],
}));
const now = new Date();
const job = (id: string, summary?: JobRecord['summary']): JobRecord => ({
  _id: id, tenant: 'acme', status: summary ? 'done' : 'running', filename: 'v.mp4', uploadId: 'u', uploadBytes: 1, options: {},
  media: { width: 1, height: 1, fps: 5, frames: FRAMES, durationMs: 1000 + FRAMES * 200 },
  progress: { framesDone: FRAMES, framesTotal: FRAMES }, ...(summary ? { summary } : {}), createdAt: now, updatedAt: now,
});

before(async () => {
  store = await connectStore(env.config.mongo);
  await ensureIndexes(store);
  const chunks = [];
  for (let c = 0; c * 7 < FRAMES; c++) chunks.push(frames.slice(c * 7, c * 7 + 7));
  for (const jobId of ['j1', 'other']) {
    // Shuffled, as chunks arrive from several partitions; a redelivered chunk is written twice.
    const order = chunks.map((_, i) => i).sort((a, b) => ((a * 37) % 101) - ((b * 37) % 101));
    for (const c of [...order, 3]) await insertOnce(store.frames, [frameChunkRecord({ jobId, tenant: jobId === 'j1' ? 'acme' : 'globex', chunk: c, frames: chunks[c]! })!]);
  }
});
after(async () => {
  await store.close();
  await env.cleanup();
});

async function read(record: JobRecord, query: FrameQuery, limit = Infinity): Promise<number[]> {
  const out: number[] = [];
  for await (const f of readFrames(store.frames, record, query)) {
    if (query.label !== undefined && !f.detections.some((d) => d.label === query.label)) continue;
    out.push(f.frame);
    if (out.length >= limit) break;
  }
  return out;
}

function expected(query: FrameQuery): number[] {
  return frames.filter((f) => f.frame > (query.after ?? -1)
    && (query.fromMs === undefined || f.ptsMs >= query.fromMs) && (query.toMs === undefined || f.ptsMs < query.toMs)
    && (query.label === undefined || f.detections.some((d) => d.label === query.label))).map((f) => f.frame);
}

const queries: FrameQuery[] = [
  {}, { after: 0 }, { after: 6 }, { after: FRAME_BUCKET - 1 }, { after: FRAME_BUCKET + 3 }, { after: FRAMES - 2 }, { after: FRAMES - 1 },
  { fromMs: 0 }, { fromMs: 1000 + 300 * 200 }, { fromMs: 1000 + 300 * 200 + 1 }, { fromMs: 1000 + 12_345, toMs: 1000 + 55_555 },
  { after: 400, fromMs: 1000 + 300 * 200, toMs: 1000 + 450 * 200 }, { fromMs: 10_000_000 }, { toMs: 1000 },
  { label: 'giraffe' }, { label: 'giraffe', after: 300 }, { label: 'person', after: 650 }, { label: 'giraffe', fromMs: 1000 + 200 * 200 },
  { label: 'zebra' }, { label: 'unicorn' }, { label: 'unicorn', after: 333 }, { label: 'unicorn', fromMs: 1000 + 400 * 200 },
];

test('readFrames gives every frame the query asks for, in order, once, whatever the chunks and buckets', async () => {
  const running = job('j1');
  const done = job('j1', combineSummaries([summarizeFrames(frames)])); // a rare giraffe: read through the label windows
  // Written with the coarser windows too: the giraffe (1 in 97) through 4096-frame ones, the unicorn (2 in 700) 262144.
  const wide = { ...done, labelWindows: [...LABEL_WINDOWS] };
  for (const query of queries) {
    assert.deepEqual(await read(running, query), expected(query), `running job, ${JSON.stringify(query)}`);
    assert.deepEqual(await read(done, query), expected(query), `done job, ${JSON.stringify(query)}`);
    assert.deepEqual(await read(wide, query), expected(query), `done job with wide label windows, ${JSON.stringify(query)}`);
  }
});

test("readFrames reads only the job's own frames: another tenant's job of the same id is not seen", async () => {
  assert.deepEqual(await read({ ...job('other'), tenant: 'acme' }, {}), []);
  assert.deepEqual(await read({ ...job('j1'), tenant: 'globex' }, {}), []);
});

test('a chunk record keeps its frames exactly, and a page stops reading once it is full', async () => {
  const record = frameChunkRecord({ jobId: 'x', tenant: 't', chunk: 2, frames: frames.slice(14, 21) })!;
  assert.deepEqual(JSON.parse(record.data), frames.slice(14, 21));
  assert.deepEqual([record.first, record.last, record.fb, record._id], [14, 20, 0, 'x:2']);
  assert.deepEqual(record.lb, ['person:0', 'person@4096:0', 'person@16384:0', 'person@65536:0', 'person@262144:0']);
  assert.deepEqual(await read(job('j1'), { after: 10 }, 3), [11, 12, 13]);
  assert.equal(frameChunkRecord({ jobId: 'x', tenant: 't', chunk: 0, frames: [] }), undefined);
});
