import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { startApi } from '../src/api/main.js';
import { loadConfig } from '../src/platform/config.js';
import type { FrameDetections } from '../src/contracts/messages.js';
import { combineSummaries, countsOf, summarizeFrames } from '../src/results/merge-rules.js';
import { LABEL_WINDOWS, frameChunkRecord } from '../src/store/frame-store.js';
import { openInfra } from '../src/runtime/infra.js';
import { storeTracks } from '../src/store/track-store.js';
import type { TrackSummary } from '../src/results/tracks.js';
import { indexRareLabels } from '../src/store/label-pages.js';
import { chunkId, insertOnce } from '../src/store/documents.js';
import { connectStore, ensureIndexes, type Store } from '../src/store/mongo.js';
import type { JobRecord } from '../src/store/job-record.js';
import { StreamFrameStore } from '../src/store/stream-frame-store.js';
import type { StoredStreamFrame } from '../src/store/stream-frame-records.js';
import { numberArgument } from './args.js';

/**
 * npm run bench:store -- --frames N [--clean] — seeds N frames (jobs of a bench tenant, ~10 detections a frame) through
 * the merger's own store code, then measures through the real api, started in this process on the configured store
 * (MONGO_URL, VDET_MONGO_DB default vdet_bench_store): a page of detections (first, middle, last; per label; by time),
 * the summary, an export's first byte and total, deleting a 15 000-frame job, and the merger's store work per chunk
 * against an empty store (the two taken in turns, chunk by chunk); and for a stream of N/10 frames (10 frames/s, chunks of 4, stored as the merger stores them),
 * a page (first, middle, last, by time) and the merger's store work per chunk, beside the same stream stored one
 * document a frame as versions before stream chunks did (stream_frames, still read). Seeding is kept between runs (--clean starts again). Writes docs/benchmarks-store.md
 * (one section per N, replaced on a rerun) and prints one JSON line.
 */
const FRAMES = numberArgument('frames', 10_000);
const CLEAN = process.argv.includes('--clean');
const REPS = numberArgument('reps', 20);
const TENANT = 'bench-store';
const CHUNK = 16;
const BIG = 15_000;
const LABELS = ['person', 'car', 'dog', 'horse', 'cow', 'bicycle', 'bird', 'sheep'];
const KEY = 'vdet_bench_store_key_0123456789abcdef';
const STREAM = 'bench-cam';
const LEGACY_STREAM = 'bench-cam-legacy';
const STREAM_FRAMES = Math.max(100, Math.floor(FRAMES / 10));
const STREAM_CHUNK = 4;
const STREAM_T0 = Date.UTC(2026, 0, 1);

const env = { VDET_MONGO_DB: 'vdet_bench_store', VDET_HTTP_PORT: '0', VDET_METRICS_PORT: '0', VDET_LOG_LEVEL: 'warn',
  VDET_RATE_LIMIT_PER_MIN: '10000000', ...process.env, VDET_BOOTSTRAP_KEY: KEY, VDET_BOOTSTRAP_TENANT: TENANT };
const config = loadConfig(env);

/** Frames a bench track lasts: each label's first detection in a frame is one track for this long. */
const TRACK_FRAMES = 250;

function frameOf(frame: number): FrameDetections {
  return {
    frame, ptsMs: Math.round(frame * 40),
    detections: Array.from({ length: 10 }, (_, i) => {
      const giraffe = frame % 100 === 7 && i === 0;
      const k = (frame + i) % LABELS.length;
      return {
        label: giraffe ? 'giraffe' : LABELS[k]!,
        classId: (frame + i) % 80,
        score: Math.round((0.3 + ((frame * 7 + i * 13) % 70) / 100) * 1000) / 1000,
        box: [10 + i, 20 + i, 110 + i, 220 + i] as [number, number, number, number],
        ...(!giraffe && i < LABELS.length ? { trackId: Math.floor(frame / TRACK_FRAMES) * LABELS.length + k + 1 } : {}),
      };
    }),
  };
}

/** The job's tracks, as the merger stores them once a job is done (from its frames' track ids). */
function tracksOf(frames: number): TrackSummary[] {
  const tracks = new Map<number, TrackSummary>();
  for (let f = 0; f < frames; f++) {
    const { ptsMs, detections } = frameOf(f);
    for (const d of detections) {
      if (d.trackId === undefined) continue;
      const t = tracks.get(d.trackId);
      if (!t) tracks.set(d.trackId, { trackId: d.trackId, label: d.label, firstFrame: f, lastFrame: f, firstMs: ptsMs, lastMs: ptsMs, frames: 1, bestScore: d.score, firstBox: d.box, lastBox: d.box });
      else Object.assign(t, { lastFrame: f, lastMs: ptsMs, frames: t.frames + 1, bestScore: Math.max(t.bestScore, d.score), lastBox: d.box });
    }
  }
  return [...tracks.values()].sort((a, b) => a.trackId - b.trackId);
}

function streamFrameOf(seq: number): StoredStreamFrame {
  const { detections } = frameOf(seq);
  return { seq, ts: STREAM_T0 + seq * 100, width: 640, height: 360, detections };
}

/** A stream of STREAM_FRAMES frames, stored as the merger stores them, and the same frames as the legacy layout held them. */
async function seedStreams(store: Store): Promise<void> {
  const now = new Date();
  const frames = new StreamFrameStore(store.db);
  await frames.ensureIndexes();
  for (const name of [STREAM, LEGACY_STREAM]) {
    await store.db.collection('streams').insertOne({ _id: `${TENANT}/${name}` as never, tenant: TENANT, name, settings: {}, createdAt: now, updatedAt: now });
  }
  const ref = { tenant: TENANT, name: STREAM };
  for (let s = 0; s < STREAM_FRAMES; s += STREAM_CHUNK) {
    await frames.append(ref, Array.from({ length: Math.min(STREAM_CHUNK, STREAM_FRAMES - s) }, (_, i) => streamFrameOf(s + i)));
    if (s % 4000 === 0) process.stderr.write(`\rseeded ${s} / ${STREAM_FRAMES} stream frames`);
  }
  for (let s = 0; s < STREAM_FRAMES; s += 1000) {
    await insertOnce(frames.legacy, Array.from({ length: Math.min(1000, STREAM_FRAMES - s) }, (_, i) => ({
      _id: `${TENANT}/${LEGACY_STREAM}:${s + i}`, tenant: TENANT, stream: LEGACY_STREAM, ...streamFrameOf(s + i),
    })));
  }
  process.stderr.write('\n');
}

/** One step of store work, timed by {@link interleaved}, and what it leaves behind. */
interface StoreWork {
  step(): Promise<void>;
  cleanup(): Promise<void>;
}

/** The merger's store work for one stream chunk (StreamFrameStore.append), a chunk of a new stream a step. */
function streamStoreWork(store: Store, name: string): StoreWork {
  const frames = new StreamFrameStore(store.db);
  const ref = { tenant: TENANT, name };
  let s = 0;
  return {
    async step() {
      await frames.append(ref, Array.from({ length: STREAM_CHUNK }, (_, i) => streamFrameOf(s + i)));
      s += STREAM_CHUNK;
    },
    cleanup: () => frames.remove(ref),
  };
}

/** A job's chunk as the merger writes it: the frames' document and the chunk's record. */
function chunkDocs(jobId: string, chunk: number, frames: FrameDetections[]) {
  return {
    frames: frameChunkRecord({ jobId, tenant: TENANT, chunk, frames })!,
    chunk: { _id: chunkId(jobId, chunk), jobId, chunk, frames: frames.length, summary: summarizeFrames(frames), mergedAt: new Date() },
  };
}

async function seedJob(store: Store, jobId: string, frames: number): Promise<void> {
  const summaries = [];
  let batch: ReturnType<typeof chunkDocs>[] = [];
  const flush = async () => {
    await insertOnce(store.frames, batch.map((b) => b.frames));
    await insertOnce(store.chunks, batch.map((b) => b.chunk));
    batch = [];
  };
  for (let c = 0; c * CHUNK < frames; c++) {
    const docs = chunkDocs(jobId, c, Array.from({ length: Math.min(CHUNK, frames - c * CHUNK) }, (_, i) => frameOf(c * CHUNK + i)));
    summaries.push(docs.chunk.summary);
    batch.push(docs);
    if (batch.length >= 250) await flush();
  }
  await flush();
  const summary = combineSummaries(summaries);
  const tracks = tracksOf(frames);
  await storeTracks(store, { _id: jobId, tenant: TENANT }, tracks);
  const now = new Date();
  const job: JobRecord = {
    _id: jobId, tenant: TENANT, status: 'done', filename: `${jobId}.mp4`, uploadId: `upload-${jobId}`, uploadBytes: 0, options: {},
    media: { width: 640, height: 360, fps: 25, frames, durationMs: frames * 40 }, plan: { chunks: Math.ceil(frames / CHUNK), frames },
    progress: { framesDone: frames, framesTotal: frames }, counts: countsOf(summary), summary, labelWindows: [...LABEL_WINDOWS],
    tracks: { count: tracks.length, lastTrackId: tracks.at(-1)?.trackId ?? 0, paged: true },
    createdAt: now, updatedAt: now, startedAt: now, finishedAt: now,
  };
  await store.jobs.deleteOne({ _id: jobId });
  await store.jobs.insertOne(job);
  await indexRareLabels(store, jobId); // as the merger does once a job is done
}

/** Jobs of the bench: two of 15 000 frames (one read, one deleted), the rest of 1 000; their ids in seeding order. */
function plan(n: number): { id: string; frames: number }[] {
  const jobs = [{ id: 'read', frames: Math.min(BIG, n) }];
  let left = n - jobs[0]!.frames;
  if (left > 0) { jobs.push({ id: 'delete', frames: Math.min(BIG, left) }); left -= jobs[1]!.frames; }
  for (let i = 0; left > 0; i++, left -= 1000) jobs.push({ id: `j${i}`, frames: Math.min(1000, left) });
  return jobs;
}

async function seed(store: Store): Promise<number> {
  const meta = store.db.collection<{ _id: string; frames: number; jobs: string[] }>('bench_meta');
  const done = await meta.findOne({ _id: 'seed' });
  if (done && done.frames === FRAMES && !CLEAN) {
    // The delete job is gone after a run: seed it again.
    if (!(await store.jobs.findOne({ _id: 'delete' })) && done.jobs.includes('delete')) await seedJob(store, 'delete', BIG);
    // Seeded before tracks or label pages existed: add them now, as the merger would have.
    for (const job of await store.jobs.find({ tenant: TENANT, 'tracks.paged': { $exists: false } }, { projection: { _id: 1, plan: 1 } }).toArray()) {
      const tracks = tracksOf(job.plan!.frames);
      await storeTracks(store, { _id: job._id, tenant: TENANT }, tracks);
      await store.jobs.updateOne({ _id: job._id }, { $set: { tracks: { count: tracks.length, lastTrackId: tracks.at(-1)?.trackId ?? 0, paged: true } } });
    }
    for (const job of await store.jobs.find({ tenant: TENANT, labelPages: { $exists: false } }, { projection: { _id: 1 } }).toArray()) await indexRareLabels(store, job._id);
    return 0;
  }
  await store.db.dropDatabase();
  await ensureIndexes(store);
  const started = performance.now();
  const jobs = plan(FRAMES);
  let seeded = 0;
  for (const job of jobs) {
    await seedJob(store, job.id, job.frames);
    seeded += job.frames;
    process.stderr.write(`\rseeded ${seeded} / ${FRAMES} frames`);
  }
  process.stderr.write('\n');
  await seedStreams(store);
  await meta.insertOne({ _id: 'seed', frames: FRAMES, jobs: jobs.map((j) => j.id) });
  return (performance.now() - started) / 1000;
}

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
async function timeIt(fn: () => Promise<unknown>, reps = REPS): Promise<{ p50: number; p99: number }> {
  await fn(); // warm
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { p50: q(t, 0.5), p99: q(t, 0.99) };
}

/** The merger's store work for one chunk (the writes and reads of mergeChunk) on `store`, a chunk a step. */
async function mergerStoreWork(store: Store, jobId: string, chunks: number): Promise<StoreWork> {
  const now = new Date();
  await store.jobs.deleteOne({ _id: jobId });
  await store.jobs.insertOne({
    _id: jobId, tenant: TENANT, status: 'running', filename: 'x', uploadId: 'x', uploadBytes: 0, options: {},
    progress: { framesDone: 0, framesTotal: chunks * CHUNK }, createdAt: now, updatedAt: now,
  });
  let c = 0;
  return {
    async step() {
      const docs = chunkDocs(jobId, c, Array.from({ length: CHUNK }, (_, i) => frameOf(c * CHUNK + i)));
      c++;
      await store.jobs.findOne({ _id: jobId });
      await insertOnce(store.frames, [docs.frames]);
      await store.chunks.updateOne({ _id: docs.chunk._id }, { $setOnInsert: docs.chunk }, { upsert: true });
      await store.jobs.updateOne({ _id: jobId, status: { $in: ['queued', 'running'] } }, { $set: { 'progress.framesDone': c * CHUNK, updatedAt: new Date() } });
      await store.jobs.findOne({ _id: jobId }); // completeIfDone's look at the plan
    },
    async cleanup() {
      await store.frames.deleteMany({ tenant: TENANT, jobId });
      await store.chunks.deleteMany({ jobId });
      await store.jobs.deleteOne({ _id: jobId });
    },
  };
}

/**
 * Times `steps` steps of each work, taking turns (a, b, a, b, …), so that the machine's noise falls on both alike:
 * the empty store against the full one, in one run.
 */
async function interleaved(a: StoreWork, b: StoreWork, steps: number): Promise<[{ p50: number; p99: number }, { p50: number; p99: number }]> {
  const times: [number[], number[]] = [[], []];
  await a.step(); // warm
  await b.step();
  for (let i = 0; i < steps; i++) {
    for (const [k, work] of [a, b].entries()) {
      const s = performance.now();
      await work.step();
      times[k]!.push(performance.now() - s);
    }
  }
  await a.cleanup();
  await b.cleanup();
  const stats = (t: number[]) => {
    const sorted = [...t].sort((x, y) => x - y);
    return { p50: q(sorted, 0.5), p99: q(sorted, 0.99) };
  };
  return [stats(times[0]), stats(times[1])];
}

const fmt = (r: { p50: number; p99: number }) => `${r.p50.toFixed(1)} | ${r.p99.toFixed(1)}`;

async function main(): Promise<void> {
  const log = pino({ level: 'warn' });
  const store = await connectStore(config.mongo);
  const seedS = await seed(store);
  const empty = await connectStore({ ...config.mongo, database: `${config.mongo.database}_empty` });
  await empty.db.dropDatabase();
  await ensureIndexes(empty);
  const [mergeEmpty, mergeFull] = await interleaved(await mergerStoreWork(empty, 'merge-empty', 300), await mergerStoreWork(store, 'merge-full', 300), 300);
  const [streamMergeEmpty, streamMergeFull] = await interleaved(streamStoreWork(empty, 'merge-empty-cam'), streamStoreWork(store, 'merge-full-cam'), 300);
  await empty.db.dropDatabase();
  await empty.close();

  const infra = await openInfra(config, log);
  const api = await startApi(infra);
  const headers = { authorization: `Bearer ${KEY}` };
  const get = async (path: string) => {
    const response = await fetch(`${api.url}${path}`, { headers });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.text();
  };
  const cursor = (frame: number) => Buffer.from(`f:${frame}`).toString('base64url');
  const big = Math.min(BIG, FRAMES);
  const rows: [string, { p50: number; p99: number }][] = [];
  const measure = async (name: string, path: string) => rows.push([name, await timeIt(() => get(path))]);
  await measure('page of 100, first', '/v1/jobs/read/detections?limit=100');
  await measure('page of 100, middle', `/v1/jobs/read/detections?limit=100&cursor=${cursor(Math.floor(big / 2))}`);
  await measure('page of 100, last', `/v1/jobs/read/detections?limit=100&cursor=${cursor(big - 101)}`);
  await measure('page of 100, label=person (every frame)', '/v1/jobs/read/detections?limit=100&label=person');
  await measure('page of 100, label=giraffe (1 frame in 100)', `/v1/jobs/read/detections?limit=100&label=giraffe&cursor=${cursor(Math.floor(big / 3))}`);
  await measure('page of 100, minScore=0.9', '/v1/jobs/read/detections?limit=100&minScore=0.9');
  await measure('page of 100, fromMs/toMs (middle of the job)', `/v1/jobs/read/detections?limit=100&fromMs=${big * 20}&toMs=${big * 30}`);
  await measure('summary', '/v1/jobs/read/summary');
  await measure('tracks, page of 100', '/v1/jobs/read/tracks?limit=100');
  await measure('tracks, page of 100, label=dog', `/v1/jobs/read/tracks?limit=100&label=dog`);
  await measure(`one track's path (${TRACK_FRAMES} frames), middle of the job`, `/v1/jobs/read/tracks/${Math.floor(big / 2 / TRACK_FRAMES) * LABELS.length + 3}`);
  await measure('job record', '/v1/jobs/read');
  const exportRuns: { first: number; total: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const response = await fetch(`${api.url}/v1/jobs/read/export?format=jsonl`, { headers });
    const reader = response.body!.getReader();
    let first = 0;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) if (!first) first = performance.now() - s;
    exportRuns.push({ first, total: performance.now() - s });
  }
  const sortBy = (k: 'first' | 'total') => exportRuns.map((r) => r[k]).sort((a, b) => a - b);
  rows.push([`export jsonl (${big} frames), first byte`, { p50: q(sortBy('first'), 0.5), p99: q(sortBy('first'), 0.99) }]);
  rows.push([`export jsonl (${big} frames), total`, { p50: q(sortBy('total'), 0.5), p99: q(sortBy('total'), 0.99) }]);
  const streamCursor = (n: number) => Buffer.from(`c:${n}:${n * STREAM_CHUNK + STREAM_CHUNK - 1}`).toString('base64url');
  const streamChunks = Math.ceil(STREAM_FRAMES / STREAM_CHUNK);
  const streamPath = `/v1/streams/${STREAM}/detections?limit=100`;
  const streamMiddleMs = STREAM_T0 + Math.floor(STREAM_FRAMES / 2) * 100;
  await measure(`stream (${STREAM_FRAMES} frames): page of 100, first`, streamPath);
  await measure(`stream (${STREAM_FRAMES} frames): page of 100, middle`, `${streamPath}&cursor=${streamCursor(Math.floor(streamChunks / 2))}`);
  await measure(`stream (${STREAM_FRAMES} frames): page of 100, last`, `${streamPath}&cursor=${streamCursor(streamChunks - 26)}`);
  await measure(`stream (${STREAM_FRAMES} frames): page of 100, from/to (middle)`, `${streamPath}&from=${streamMiddleMs}&to=${streamMiddleMs + 60_000}`);
  rows.push([`stream (${STREAM_FRAMES} frames) stored a document a frame (before): page of 100, first`, await timeIt(() => get(`/v1/streams/${LEGACY_STREAM}/detections?limit=100`), 3)]);
  let deleteMs: number | undefined;
  if (FRAMES >= 2 * BIG) {
    const s = performance.now();
    const response = await fetch(`${api.url}/v1/jobs/delete`, { method: 'DELETE', headers });
    if (response.status >= 300) throw new Error(`DELETE answered ${response.status}`);
    deleteMs = performance.now() - s;
    rows.push([`DELETE of a ${BIG}-frame job`, { p50: deleteMs, p99: deleteMs }]);
  }
  rows.push(['merger store work per chunk, empty store', mergeEmpty]);
  rows.push([`merger store work per chunk, ${FRAMES} frames stored`, mergeFull]);
  rows.push([`merger store work per stream chunk (${STREAM_CHUNK} frames), empty store`, streamMergeEmpty]);
  rows.push([`merger store work per stream chunk, ${FRAMES} + ${2 * STREAM_FRAMES} stream frames stored`, streamMergeFull]);
  await api.close();
  await infra.close();
  await store.close();

  const section = [
    `## ${FRAMES} frames stored`,
    '',
    `${config.mongo.url} (${process.env['VDET_FERRETDB_HANDLER'] ?? 'see MONGO_URL'}), ${plan(FRAMES).length} jobs, 10 detections a frame` +
      (seedS ? `, seeded in ${seedS.toFixed(0)} s` : '') + `; ${REPS} requests each (export: 5), ms.`,
    '',
    '| request | p50 | p99 |',
    '| --- | --- | --- |',
    ...rows.map(([name, r]) => `| ${name} | ${fmt(r)} |`),
    '',
  ].join('\n');
  const file = 'docs/benchmarks-store.md';
  let doc = '';
  try {
    doc = (await import('node:fs')).readFileSync(file, 'utf8');
  } catch {
    doc = '# Store benchmarks\n\n';
  }
  const re = new RegExp(`## ${FRAMES} frames stored\\n[\\s\\S]*?(?=\\n## |$)`);
  doc = re.test(doc) ? doc.replace(re, section.trimEnd() + '\n') : `${doc.trimEnd()}\n\n${section}`;
  writeFileSync(file, doc.trimEnd() + '\n');
  console.log(JSON.stringify({ frames: FRAMES, seedS, results: Object.fromEntries(rows) }));
}

await main();
