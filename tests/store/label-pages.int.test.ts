import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FrameDetections } from '../../src/contracts/messages.js';
import { combineSummaries, countsOf, summarizeFrames } from '../../src/results/merge-rules.js';
import { frameChunkRecord, LABEL_WINDOWS, readFrames } from '../../src/store/frame-store.js';
import { deleteJobRecords } from '../../src/store/job-data.js';
import { indexRareLabels, LABEL_PAGE_FRAMES, readJobFrames } from '../../src/store/label-pages.js';
import { connectStore, ensureIndexes, type Store } from '../../src/store/mongo.js';
import { jobFromStore, type JobRecord } from '../../src/store/job-record.js';
import { createTestEnv } from '../helpers/stack.js';

const env = createTestEnv();
const FRAMES = 2000;
const CHUNK = 16;

/** Every frame has people; one in 10 a cat too (two of them); one in 7 a dog (common enough to be read through the chunks). */
function frameOf(frame: number): FrameDetections {
  const box = [frame, 1, frame + 5, 9] as [number, number, number, number];
  return {
    frame, ptsMs: frame * 40,
    detections: [
      { label: 'person', classId: 0, score: 0.9, box },
      ...(frame % 10 === 3 ? [{ label: 'cat', classId: 15, score: 0.6, box }, { label: 'cat', classId: 15, score: 0.4, box }] : []),
      ...(frame % 7 === 0 ? [{ label: 'dog', classId: 16, score: 0.7, box }] : []),
    ],
  };
}

async function collect(frames: AsyncGenerator<FrameDetections>, label: string): Promise<FrameDetections[]> {
  const out: FrameDetections[] = [];
  for await (const f of frames) {
    const detections = f.detections.filter((d) => d.label === label);
    if (detections.length > 0) out.push({ ...f, detections });
  }
  return out;
}

describe('label pages of a done job (real MongoDB-protocol server)', () => {
  let store: Store;
  let job: JobRecord;

  before(async () => {
    store = await connectStore(env.config.mongo);
    await ensureIndexes(store);
    const summaries = [];
    for (let c = 0; c * CHUNK < FRAMES; c++) {
      const frames = Array.from({ length: CHUNK }, (_, i) => frameOf(c * CHUNK + i));
      await store.frames.insertOne(frameChunkRecord({ jobId: 'j1', tenant: 'acme', chunk: c, frames })!);
      summaries.push(summarizeFrames(frames));
    }
    const summary = combineSummaries(summaries);
    const now = new Date();
    await store.jobs.insertOne({
      _id: 'j1', tenant: 'acme', status: 'done', filename: 'x.mp4', uploadId: 'u1', uploadBytes: 0, options: {},
      media: { width: 640, height: 360, fps: 25, frames: FRAMES, durationMs: FRAMES * 40 }, plan: { chunks: FRAMES / CHUNK, frames: FRAMES },
      progress: { framesDone: FRAMES, framesTotal: FRAMES }, counts: countsOf(summary), summary, labelWindows: [...LABEL_WINDOWS],
      createdAt: now, updatedAt: now, startedAt: now, finishedAt: now,
    });
    assert.equal(await indexRareLabels(store, 'j1'), 1, 'one rare label: cat');
    job = jobFromStore((await store.jobs.findOne({ _id: 'j1' }))!);
  });
  after(async () => {
    await store.close();
    await env.cleanup();
  });

  test('a rare label\'s frames come from its pages, the same as from the chunks, from any frame and in any time range', async () => {
    assert.deepEqual(job.labelPages?.map((e) => e.label), ['cat']);
    assert.equal(await store.labelPages.countDocuments({ jobId: 'j1' }), Math.ceil(FRAMES / 10 / LABEL_PAGE_FRAMES));
    const pageReads: string[] = [];
    const counted = { ...store, labelPages: new Proxy(store.labelPages, { get: (t, p, r) => (p === 'findOne' ? (...a: Parameters<typeof t.findOne>) => { pageReads.push('read'); return t.findOne(...a); } : Reflect.get(t, p, r)) }) };
    for (const query of [{}, { after: 1000 }, { after: 1953 }, { fromMs: 10_000, toMs: 50_000 }, { after: 400, toMs: 20_000 }, { after: FRAMES }]) {
      const fromChunks = await collect(readFrames(store.frames, job, { ...query, label: 'cat' }), 'cat');
      const fromPages = await collect(readJobFrames(counted, job, { ...query, label: 'cat' }), 'cat');
      assert.deepEqual(fromPages, fromChunks, JSON.stringify(query));
    }
    assert.ok(pageReads.length > 0, 'the pages were read');
    assert.equal((await collect(readJobFrames(store, job, { label: 'cat' }), 'cat')).length, FRAMES / 10);
    const dog = await collect(readJobFrames(store, job, { label: 'dog' }), 'dog');
    assert.equal(dog.length, Math.ceil(FRAMES / 7), 'a common label: from the chunks');
    assert.equal(await indexRareLabels(store, 'j1'), 0, 'indexed once');
  });

  test('deleting the job removes its label pages', async () => {
    await deleteJobRecords(store, job);
    assert.equal(await store.labelPages.countDocuments({ jobId: 'j1' }), 0);
  });
});
