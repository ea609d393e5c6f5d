import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { encodeChunk, type ChunkHeader } from '../../src/contracts/chunk.js';
import { ChunkOutcome, type Detection } from '../../src/contracts/messages.js';
import { topicNames } from '../../src/contracts/topics.js';
import { createDetector } from '../../src/detector/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { VdetError } from '../../src/platform/errors.js';
import type { BatchItem } from '../../src/vision/batch-scheduler.js';
import type { LoadedModel } from '../../src/vision/onnx/loaded-model.js';
import type { DeviceRunner } from '../../src/vision/onnx/device-runner.js';
import { MemoryBus } from '../helpers/memory-bus.js';

/**
 * The detector's app (src/detector/app.ts) with an in-memory bus and a fake model: what it publishes for a chunk,
 * and how it fails one. The model and the real Kafka adapter have tests of their own (tests/vision/, tests/kafka/).
 */
const config = loadConfig({ VDET_LOG_LEVEL: 'silent' });
const topics = topicNames(config.kafka.topicPrefix);
const log = pino({ level: 'silent' });

/** A model that "sees" a frame's first byte: a person at that x, and a dog; it fails the frames listed in `failing` once each. */
function fakeModel(failing = new Set<number>()): LoadedModel & { frames: number } {
  const runner = { name: 'fake', batchMode: 'fake', maxBatch: 1 } as unknown as DeviceRunner;
  const model = {
    frames: 0,
    spec: { inputWidth: 32, inputHeight: 32 },
    runners: [runner],
    submit(items: readonly BatchItem[]) {
      for (const item of items) {
        const x = item.pixels[0]!;
        if (failing.delete(x)) {
          item.fail(new Error('the device hiccuped'));
          continue;
        }
        model.frames++;
        const found: Detection[] = [
          { label: 'person', classId: 0, score: 0.9, box: [x, 1, x + 5, 9] },
          { label: 'dog', classId: 16, score: 0.6, box: [1, 1, 4, 4] },
        ];
        setImmediate(() => item.finish(found));
      }
    },
    close: async () => undefined,
  };
  return model;
}

function chunkOf(jobId: string, chunk: number, firstBytes: number[], extra: Partial<ChunkHeader> = {}): Buffer {
  const header: ChunkHeader = {
    v: 1, jobId, tenant: 't1', chunk, pixelFormat: 'bgr24', frameWidth: 32, frameHeight: 32, content: { width: 4, height: 2 },
    sourceWidth: 64, sourceHeight: 32, scale: 0.5, minScore: 0.5,
    frames: firstBytes.map((_, i) => ({ frame: chunk * 10 + i, ptsMs: (chunk * 10 + i) * 40 })), ...extra,
  };
  return encodeChunk(header, firstBytes.map((b) => Buffer.alloc(4 * 2 * 3, b)));
}

async function startDetector(model: LoadedModel, cancelled = new Set<string>()) {
  const bus = new MemoryBus();
  const detector = createDetector({
    config, log, bus, topics, defaultModel: model,
    models: {
      use: async (ref, work) => {
        if (ref) throw new VdetError('VDET_MODEL_UNAVAILABLE', `No model ${ref.name}.`);
        return work(model);
      },
      close: async () => undefined,
    },
    progress: { isCancelled: async (jobId: string) => cancelled.has(jobId) },
  });
  await detector.start();
  const outcomes = () => bus.sent(topics.detections).map((m) => ({ key: m.key, outcome: ChunkOutcome.decode(m.value) }));
  return { bus, outcomes };
}

describe('detector app (in-memory bus, fake model)', () => {
  test('a chunk: one outcome keyed by its job, every frame in order, its filter applied', async () => {
    const { bus, outcomes } = await startDetector(fakeModel());
    await bus.send(topics.chunks, [{ key: 'job-a/0', value: chunkOf('job-a', 0, [10, 20, 30], { filter: { classes: ['person'] } }) }]);
    await bus.drain();
    const [only, ...rest] = outcomes();
    assert.equal(rest.length, 0);
    assert.equal(only!.key, 'job-a');
    assert.equal(only!.outcome.kind, 'chunk');
    const done = only!.outcome as Extract<ChunkOutcome, { kind: 'chunk' }>;
    assert.deepEqual(done.frames.map((f) => [f.frame, f.ptsMs, f.detections.map((d) => `${d.label}@${d.box[0]}`)]), [
      [0, 0, ['person@10']], [1, 40, ['person@20']], [2, 80, ['person@30']],
    ]);
  });

  test('a failed model run is retried, and the chunk comes out once', async () => {
    const model = fakeModel(new Set([20]));
    const { bus, outcomes } = await startDetector(model);
    await bus.send(topics.chunks, [{ key: 'job-b/1', value: chunkOf('job-b', 1, [10, 20]) }]);
    await bus.drain();
    assert.deepEqual(outcomes().map((o) => o.outcome.kind), ['chunk']);
    assert.equal(model.frames, 3, 'the whole chunk ran again: one frame done and one failed, then both');
    assert.equal(bus.sent(topics.dlq).length, 0);
  });

  test('a cancelled job\'s chunk is dropped: no outcome, no model run', async () => {
    const model = fakeModel();
    const { bus, outcomes } = await startDetector(model, new Set(['job-c']));
    await bus.send(topics.chunks, [{ key: 'job-c/0', value: chunkOf('job-c', 0, [10]) }]);
    await bus.drain();
    assert.deepEqual(outcomes(), []);
    assert.equal(model.frames, 0);
  });

  test('a chunk for another input size, or for a model the detector has not: dead-lettered, its job failed with the reason', async () => {
    const { bus, outcomes } = await startDetector(fakeModel());
    await bus.send(topics.chunks, [
      { key: 'job-d/0', value: chunkOf('job-d', 0, [10], { frameWidth: 64 }) },
      { key: 'job-e/0', value: chunkOf('job-e', 0, [10], { model: { name: 'gone', version: 1, sha256: 'a'.repeat(64) } }) },
    ]);
    await bus.drain();
    assert.deepEqual(outcomes().map(({ key, outcome }) => [key, outcome.kind, outcome.kind === 'chunk-failed' ? outcome.error.code : '']), [
      ['job-d', 'chunk-failed', 'VDET_MESSAGE_INVALID'],
      ['job-e', 'chunk-failed', 'VDET_MODEL_UNAVAILABLE'],
    ]);
    assert.deepEqual(bus.sent(topics.dlq).map((m) => [m.key, m.headers['vdet-error-code']]), [['job-d/0', 'VDET_MESSAGE_INVALID'], ['job-e/0', 'VDET_MODEL_UNAVAILABLE']]);
  });

  test('bytes that are no chunk: dead-lettered, and no outcome (no job can be named)', async () => {
    const { bus, outcomes } = await startDetector(fakeModel());
    await bus.send(topics.chunks, [{ key: 'x', value: Buffer.from('not a chunk') }]);
    await bus.drain();
    assert.deepEqual(outcomes(), []);
    assert.deepEqual(bus.sent(topics.dlq).map((m) => m.headers['vdet-error-code']), ['VDET_MESSAGE_INVALID']);
    assert.deepEqual(bus.errors, []);
  });
});
