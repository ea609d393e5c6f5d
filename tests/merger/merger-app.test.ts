import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { ChunkOutcome, type Detection, type FrameDetections } from '../../src/contracts/messages.js';
import type { JobOptions } from '../../src/contracts/job-options.js';
import { topicNames } from '../../src/contracts/topics.js';
import { createMerger } from '../../src/merger/app.js';
import type { RetentionStore } from '../../src/merger/retention.js';
import { loadConfig } from '../../src/platform/config.js';
import type { ApiKeyStore } from '../../src/store/api-keys.js';
import type { JobStore } from '../../src/store/job-store.js';
import type { StreamStore } from '../../src/store/stream-store.js';
import type { WebhookOutboxStore } from '../../src/store/webhook-outbox.js';
import { MemoryBus } from '../helpers/memory-bus.js';
import { MemoryJobMergeStore, MemoryJobStore, MemoryProgress, partialFake } from '../helpers/memory-stores.js';

/**
 * The merger's app (src/merger/app.ts) on an in-memory bus and stores: chunks in any order and redelivered, the plan
 * before or after them, failures, Redis away, tracking and the reaper. The MongoDB side of the same: tests/e2e,
 * tests/tracking, tests/faults.
 */
const config = loadConfig({ VDET_LOG_LEVEL: 'silent', VDET_JOB_STALL_S: '5' });
const topics = topicNames(config.kafka.topicPrefix);

async function startMerger() {
  const bus = new MemoryBus();
  const jobs = new MemoryJobStore();
  const merges = new MemoryJobMergeStore();
  const progress = new MemoryProgress();
  const merger = createMerger({
    config, log: pino({ level: 'silent' }), bus, topics, jobs: partialFake<JobStore>('jobs', jobs), progress, merges, tracking: merges.tracking(),
    streams: partialFake<StreamStore>('streams'), apiKeys: partialFake<ApiKeyStore>('apiKeys'),
    webhookOutbox: partialFake<WebhookOutboxStore>('webhookOutbox', { ensureIndexes: async () => undefined, endedUnqueued: async () => [], claimDue: async () => null }),
    retention: partialFake<RetentionStore>('retention', { endedJobs: async () => [], expiredJobs: async () => [], streamsWithRetention: async () => [] }),
  });
  await merger.start();
  /** A running job (as the processor leaves it before its plan). */
  const job = async (id: string, options: JobOptions = { track: false }) => {
    await jobs.create({ _id: id, tenant: 'tenant-a', filename: 'in.mp4', uploadId: `tenant-a/${id}`, uploadBytes: 0, options });
    await jobs.start(id);
  };
  const send = async (...outcomes: ChunkOutcome[]) => {
    for (const outcome of outcomes) await bus.send(topics.detections, [{ key: 'jobId' in outcome ? outcome.jobId : outcome.stream, value: ChunkOutcome.encode(outcome) }]);
    await bus.drain();
  };
  /** The plan as the processor stores it, then sends it. */
  const plan = async (jobId: string, chunks: number, frames: number) => {
    await jobs.setPlan(jobId, { chunks, frames });
    await send({ v: 1, kind: 'plan', jobId, tenant: 'tenant-a', chunks, frames });
  };
  const eventsOf = (jobId: string) => progress.events.filter((e) => e.jobId === jobId).map((e) => e.event.type);
  return { bus, jobs, merges, progress, merger, job, send, plan, eventsOf };
}

const person = (x: number, score = 0.9): Detection => ({ label: 'person', classId: 0, score, box: [x, 10, x + 40, 110] });
const dog = (x: number): Detection => ({ label: 'dog', classId: 16, score: 0.7, box: [x, 200, x + 60, 260] });

/** Chunk `n` of a job: `perChunk` frames, a person walking right in each, a dog in every other frame. */
function chunk(jobId: string, n: number, perChunk = 3, tenant = 'tenant-a'): ChunkOutcome {
  const frames: FrameDetections[] = Array.from({ length: perChunk }, (_, i) => {
    const frame = n * perChunk + i;
    return { frame, ptsMs: frame * 40, detections: [person(100 + frame * 4), ...(frame % 2 === 0 ? [dog(300)] : [])] };
  });
  return { v: 1, kind: 'chunk', jobId, tenant, chunk: n, frames };
}

describe('merger app (in-memory bus and stores)', () => {
  test('chunks out of order and redelivered, the plan last: done once, every frame counted once', async () => {
    const m = await startMerger();
    try {
      await m.job('j1');
      await m.send(chunk('j1', 2), chunk('j1', 0), chunk('j1', 2), chunk('j1', 1), chunk('j1', 0));
      assert.equal(m.jobs.jobs.get('j1')!.status, 'running', 'not done before its plan');
      await m.plan('j1', 3, 9);
      const job = m.jobs.jobs.get('j1')!;
      assert.equal(job.status, 'done');
      assert.equal(job.progress.framesDone, 9);
      assert.deepEqual(job.counts, { person: 9, dog: 5 });
      assert.equal(job.summary?.['person']?.frames, 9);
      assert.equal(job.summary?.['dog']?.firstMs, 0);
      assert.deepEqual(m.eventsOf('j1').filter((t) => t !== 'progress'), ['done']);
      assert.equal(await m.merges.mergedChunks('j1'), 3);
      assert.deepEqual(m.merges.labelsIndexed, ['j1'], 'a done job\'s rare labels are paged');
    } finally {
      await m.merger.close();
    }
  });

  test('the plan first: done at the last chunk', async () => {
    const m = await startMerger();
    try {
      await m.job('j2');
      await m.plan('j2', 2, 6);
      await m.send(chunk('j2', 1));
      assert.equal(m.jobs.jobs.get('j2')!.status, 'running');
      await m.send(chunk('j2', 0));
      assert.equal(m.jobs.jobs.get('j2')!.status, 'done');
    } finally {
      await m.merger.close();
    }
  });

  test('a chunk the detector gave up on fails the job with its reason; what comes later is not stored', async () => {
    const m = await startMerger();
    try {
      await m.job('j3');
      await m.send(chunk('j3', 0), { v: 1, kind: 'chunk-failed', jobId: 'j3', tenant: 'tenant-a', chunk: 1, error: { code: 'VDET_INFERENCE_FAILED', message: 'The model failed on this chunk.' } });
      await m.send(chunk('j3', 2));
      await m.plan('j3', 3, 9);
      const job = m.jobs.jobs.get('j3')!;
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, 'VDET_INFERENCE_FAILED');
      assert.equal(await m.merges.mergedChunks('j3'), 1);
      assert.deepEqual(m.eventsOf('j3').filter((t) => t !== 'progress'), ['failed']);
    } finally {
      await m.merger.close();
    }
  });

  test('Redis away: progress is counted from the store, and the job still completes', async () => {
    const m = await startMerger();
    try {
      await m.job('j4');
      await m.plan('j4', 2, 6);
      m.progress.recordError = new Error('redis is away');
      await m.send(chunk('j4', 0), chunk('j4', 1), chunk('j4', 1));
      const job = m.jobs.jobs.get('j4')!;
      assert.equal(job.status, 'done');
      assert.equal(job.progress.framesDone, 6);
    } finally {
      await m.merger.close();
    }
  });

  test('a deleted job\'s late chunks are not stored, and a done job is not merged into again', async () => {
    const m = await startMerger();
    try {
      await m.job('gone');
      m.jobs.jobs.delete('gone');
      await m.send(chunk('gone', 0));
      assert.equal(await m.merges.mergedChunks('gone'), 0);
      await m.job('j5');
      await m.plan('j5', 1, 3);
      await m.send(chunk('j5', 0));
      assert.equal(m.jobs.jobs.get('j5')!.status, 'done');
      await m.send(chunk('j5', 1));
      assert.equal(await m.merges.mergedChunks('j5'), 1);
    } finally {
      await m.merger.close();
    }
  });

  test('tracking: chunks arriving out of order are tracked in order; the done job has its tracks and objects', async () => {
    const m = await startMerger();
    try {
      await m.job('t1', {});
      await m.send(chunk('t1', 2, 4), chunk('t1', 1, 4));
      assert.equal((await m.merges.tracking().record('t1'))?.nextChunk ?? 0, 0, 'nothing tracked before chunk 0');
      await m.plan('t1', 3, 12);
      assert.equal(m.jobs.jobs.get('t1')!.status, 'running', 'merged but not tracked yet');
      await m.send(chunk('t1', 0, 4));
      const job = m.jobs.jobs.get('t1')!;
      assert.equal(job.status, 'done');
      const tracks = m.merges.tracksOf.get('t1')!;
      assert.deepEqual(tracks.map((t) => t.label).sort(), ['dog', 'person'], 'one track per object');
      const walker = tracks.find((t) => t.label === 'person')!;
      assert.deepEqual([walker.firstFrame, walker.lastFrame, walker.frames], [0, 11, 12]);
      assert.equal(job.summary?.['person']?.objects, 1);
      assert.deepEqual(job.tracks, { count: 2, lastTrackId: Math.max(...tracks.map((t) => t.trackId)), paged: true });
      for (const n of [0, 1, 2]) assert.ok((await m.merges.parts('t1', true))[n]?.tracks, `chunk ${n} has its segments`);
    } finally {
      await m.merger.close();
    }
  });

  test('the reaper fails a job that stopped moving, saying where it stood; a job whose chunks are all in is completed instead', async () => {
    const m = await startMerger();
    try {
      await m.job('stuck');
      await m.send(chunk('stuck', 0));
      await m.job('whole');
      await m.jobs.setPlan('whole', { chunks: 1, frames: 3 });
      m.progress.recordError = new Error('redis is away');
      await m.send(chunk('whole', 0)); // merged; the plan message itself never came
      m.progress.recordError = undefined;
      for (const id of ['stuck', 'whole']) m.jobs.jobs.get(id)!.updatedAt = new Date(Date.now() - 60_000);
      await m.merger.reap();
      const stuck = m.jobs.jobs.get('stuck')!;
      assert.equal(stuck.status, 'failed');
      assert.equal(stuck.error?.code, 'VDET_JOB_STALLED');
      assert.match(stuck.error?.message ?? '', /no progress for 5 s while running/);
      assert.equal(m.jobs.jobs.get('whole')!.status, 'done');
    } finally {
      await m.merger.close();
    }
  });
});
