import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { decodeChunk, frameSlices, type Chunk } from '../../src/contracts/chunk.js';
import { ChunkOutcome, JobMessage } from '../../src/contracts/messages.js';
import { topicNames } from '../../src/contracts/topics.js';
import { loadConfig } from '../../src/platform/config.js';
import { createProcessor } from '../../src/processor/app.js';
import type { JobStore } from '../../src/store/job-store.js';
import type { JobOptions } from '../../src/contracts/job-options.js';
import { MemoryBus } from '../helpers/memory-bus.js';
import { MemoryFileStore, MemoryJobStore, partialFake } from '../helpers/memory-stores.js';
import { imagePath, SHARED } from '../helpers/paths.js';

/**
 * The processor's app (src/processor/app.ts) on an in-memory bus and stores, with the real media stage (ffmpeg): what
 * it publishes for a job, and how a job it cannot process ends. The Kafka and MongoDB adapters: tests/kafka, tests/e2e.
 */
const workDir = mkdtempSync(path.join(os.tmpdir(), 'vdet-processor-app-'));
after(() => rmSync(workDir, { recursive: true, force: true }));
const video = readFileSync(path.join(SHARED, 'media/videos/tour-640x360.mp4'));
const MODEL_INPUT = { width: 416, height: 416 };

async function startProcessor(env: Record<string, string> = {}) {
  const config = loadConfig({ VDET_LOG_LEVEL: 'silent', VDET_WORK_DIR: workDir, ...env });
  const topics = topicNames(config.kafka.topicPrefix);
  const bus = new MemoryBus();
  const uploads = new MemoryFileStore();
  const jobs = new MemoryJobStore(uploads);
  const processor = createProcessor({
    config, log: pino({ level: 'silent' }), bus, topics, uploads, jobs: partialFake<JobStore>('jobs', jobs), modelInput: MODEL_INPUT, models: partialFake('models'),
  });
  await processor.start();
  /** Stores `bytes` as a tenant's upload, records its job and sends the job message (as the api does). */
  const submit = async (id: string, bytes: Buffer | undefined, options: JobOptions = {}, message: Partial<JobMessage> = {}) => {
    const uploadId = `tenant-a/${id}`;
    if (bytes) await uploads.write(uploadId, Readable.from([bytes]), { tenant: 'tenant-a' });
    await jobs.create({ _id: id, tenant: 'tenant-a', filename: 'in', uploadId, uploadBytes: bytes?.length ?? 0, options });
    await bus.send(topics.jobs, [{ key: id, value: JobMessage.encode({ v: 1, jobId: id, tenant: 'tenant-a', uploadId, options, ...message }) }]);
    await bus.drain();
  };
  const chunksOf = (id: string): Chunk[] => bus.sent(topics.chunks).filter((m) => m.key?.startsWith(`${id}/`)).map((m) => decodeChunk(m.value));
  const outcomesOf = (id: string) => bus.sent(topics.detections).filter((m) => m.key === id).map((m) => ChunkOutcome.decode(m.value));
  return { bus, jobs, uploads, topics, processor, submit, chunksOf, outcomesOf };
}

describe('processor app (in-memory bus and stores, real ffmpeg)', () => {
  test('a video: every sampled frame in exactly one chunk, numbered in order, then the plan that counts them', async () => {
    const p = await startProcessor();
    try {
      await p.submit('v1', video, { fps: 5, endMs: 4000 });
      const chunks = p.chunksOf('v1');
      assert.ok(chunks.length >= 1);
      assert.deepEqual(chunks.map((c) => c.header.chunk), chunks.map((_, i) => i));
      const frames = chunks.flatMap((c) => c.header.frames.map((f) => f.frame)).sort((a, b) => a - b);
      assert.deepEqual(frames, frames.map((_, i) => i), 'each frame once');
      assert.equal(frames.length, 20, '4 s at 5 frames a second');
      for (const { header } of chunks) {
        assert.equal(header.tenant, 'tenant-a');
        assert.deepEqual([header.frameWidth, header.frameHeight, header.sourceWidth, header.sourceHeight], [416, 416, 640, 360]);
      }
      assert.deepEqual(p.outcomesOf('v1'), [{ v: 1, kind: 'plan', jobId: 'v1', tenant: 'tenant-a', chunks: chunks.length, frames: 20 }]);
      const job = p.jobs.jobs.get('v1')!;
      assert.equal(job.status, 'running');
      assert.deepEqual(job.plan, { chunks: chunks.length, frames: 20 });
      assert.deepEqual([job.media?.width, job.media?.height], [640, 360]);
      assert.deepEqual(readdirSync(workDir), [], 'the job\'s private directory is removed');
    } finally {
      await p.processor.close();
    }
  });

  test('raw frames on the wire: the letterboxed content\'s pixels at the model\'s scale, VDET_CHUNK_FRAMES to a chunk', async () => {
    const p = await startProcessor({ VDET_WIRE_FORMAT: 'raw', VDET_CHUNK_FRAMES: '4' });
    try {
      await p.submit('r1', video, { fps: 2, endMs: 5000 });
      const chunks = p.chunksOf('r1');
      assert.deepEqual(chunks.map((c) => c.header.frames.length), [4, 4, 2]);
      for (const chunk of chunks) {
        assert.equal(chunk.header.pixelFormat, 'bgr24');
        assert.deepEqual(chunk.header.content, { width: 416, height: 234 }, '640x360 scaled into 416x416 (the padding is not sent)');
        for (const pixels of frameSlices(chunk)) assert.equal(pixels.length, 416 * 234 * 3);
      }
    } finally {
      await p.processor.close();
    }
  });

  test('a job message whose tenant and upload disagree with the stored job: the stored job wins', async () => {
    const p = await startProcessor();
    try {
      await p.uploads.write('tenant-b/secret', Readable.from([video]), { tenant: 'tenant-b' });
      await p.submit('f1', readFileSync(imagePath('dog')), {}, { tenant: 'tenant-b', uploadId: 'tenant-b/secret' });
      const chunks = p.chunksOf('f1');
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0]!.header.tenant, 'tenant-a');
      assert.deepEqual(chunks[0]!.header.frames.map((f) => f.frame), [0], 'the dog image, one frame, not the other tenant\'s video');
    } finally {
      await p.processor.close();
    }
  });

  test('an upload no longer stored, or bytes that are no media: the job fails with a stable code, no chunk goes out', async () => {
    const p = await startProcessor();
    try {
      await p.submit('lost', undefined);
      await p.submit('junk', Buffer.from('this is not a video, whatever its name says '.repeat(50)));
      for (const [id, code] of [['lost', 'VDET_UPLOAD_LOST'], ['junk', 'VDET_MEDIA_UNREADABLE']] as const) {
        const job = p.jobs.jobs.get(id)!;
        assert.equal(job.status, 'failed', id);
        assert.equal(job.error?.code, code, id);
        assert.ok((job.error?.message.length ?? 0) > 10, 'a sentence says why');
        assert.deepEqual(p.chunksOf(id), []);
        assert.deepEqual(p.outcomesOf(id), []);
      }
      assert.deepEqual(p.bus.sent(p.topics.dlq), [], 'a job that fails is not a poison message');
    } finally {
      await p.processor.close();
    }
  });

  test('a job deleted while it is split: the processor stops at the next chunk and publishes no plan', async () => {
    const p = await startProcessor({ VDET_WIRE_FORMAT: 'raw', VDET_CHUNK_FRAMES: '2' });
    const send = p.bus.send.bind(p.bus);
    p.bus.send = async (topic, messages) => {
      await send(topic, messages);
      if (topic === p.topics.chunks) p.jobs.jobs.delete('d1'); // DELETE /v1/jobs/d1 right after the first chunk
    };
    try {
      await p.submit('d1', video, { fps: 4, endMs: 4000 });
      assert.equal(p.chunksOf('d1').length, 1);
      assert.deepEqual(p.outcomesOf('d1'), []);
      assert.deepEqual(p.bus.sent(p.topics.dlq), []);
    } finally {
      await p.processor.close();
    }
  });

  test('a job that already ended, or whose record is gone, is not processed again (a redelivery)', async () => {
    const p = await startProcessor();
    try {
      await p.submit('e1', readFileSync(imagePath('dog')));
      assert.equal(p.chunksOf('e1').length, 1);
      await p.jobs.finish('e1', { counts: {}, summary: {}, framesDone: 1 });
      const again = p.bus.sent(p.topics.jobs).find((m) => m.key === 'e1')!;
      await p.bus.send(p.topics.jobs, [{ key: 'e1', value: again.value! }]);
      await p.bus.send(p.topics.jobs, [{ key: 'gone', value: JobMessage.encode({ v: 1, jobId: 'gone', tenant: 'tenant-a', uploadId: 'tenant-a/gone', options: {} }) }]);
      await p.bus.drain();
      assert.equal(p.chunksOf('e1').length, 1);
      assert.deepEqual(p.chunksOf('gone'), []);
    } finally {
      await p.processor.close();
    }
  });
});
