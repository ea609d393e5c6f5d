import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectFile, planFile, type DetectEngine, type DetectOptions, type TrackedDetection } from '../../src/detect/run-detect.js';
import type { BatchItem } from '../../src/vision/batch-scheduler.js';
import { NMS_IOU, decodeYolox, type AnchorGrid } from '../../src/vision/yolox.js';
import type { ProbeResult } from '../../src/media/ffmpeg.js';
import { loadConfig } from '../../src/platform/config.js';
import type { FrameDetections } from '../../src/contracts/messages.js';
import { resolveTrackerOptions } from '../../src/vision/tracking/index.js';

/**
 * detectFile with a fake engine: no ffmpeg, no model. The fake decoder writes each frame's index into its first
 * pixel; the fake model answers with one anchor (a 1 px grid cell) whose box sits at x = index and whose class is
 * "even" or "odd" by the index, so every detection says which frame it was computed from.
 */
const SIZE = 100; // a 100 × 100 source in a 100 × 100 model input: letterbox scale 1
const LABELS = ['even', 'odd'];
const GRID: AnchorGrid = { count: 1, gx: new Float32Array([0]), gy: new Float32Array([0]), stride: new Float32Array([1]) };
const processor = loadConfig({}).processor;

function probe(frames: number): ProbeResult {
  return { formatName: 'mov,mp4,m4a,3gp,3g2,mj2', isImage: false, width: SIZE, height: SIZE, fps: 25, durationMs: frames * 40, declaredFrames: frames, streams: 1 };
}

/** The model's rows for the frame whose first pixel is `index`: dx, dy, log w, log h, objectness, class scores. */
function rowsFor(index: number): Float32Array {
  return new Float32Array([index + 0.5, 50, 0, 0, 0.9, index % 2 === 0 ? 1 : 0, index % 2 === 1 ? 1 : 0]);
}

interface FakeOptions {
  frames: number;
  window: number;
  /** When each frame's result comes back, in ms after it was submitted. */
  delayMs?: (index: number) => number;
  /** Frames whose model run fails. */
  failing?: Set<number>;
  /** The model's rows for each frame (default: {@link rowsFor}). */
  rows?: (index: number) => Float32Array;
}

function fakeEngine(opts: FakeOptions) {
  const stats = { decoded: 0, handedOn: 0, maxAhead: 0, submitted: 0, stoppedAt: -1 };
  const engine: DetectEngine = {
    probe: async () => probe(opts.frames),
    async decode(request) {
      for (let i = 0; i < opts.frames; i++) {
        const pixels = Buffer.alloc(4);
        pixels[0] = i;
        stats.decoded++;
        try {
          await request.onFrame(pixels, i);
        } catch (error) {
          stats.stoppedAt = i;
          throw error;
        }
      }
      return opts.frames;
    },
    scheduler: {
      submit(items: readonly BatchItem[]) {
        for (const item of items) {
          stats.submitted++;
          stats.maxAhead = Math.max(stats.maxAhead, stats.decoded - stats.handedOn);
          const index = item.pixels[0]!;
          setTimeout(() => {
            if (opts.failing?.has(index)) item.fail(new Error(`frame ${index}: the device failed`));
            else item.finish(decodeYolox((opts.rows ?? rowsFor)(index), 0, GRID, { ...item.decode, nmsIou: NMS_IOU, labels: LABELS })); // as a runner decodes
          }, opts.delayMs?.(index) ?? 0);
        }
      },
    },
    labels: LABELS,
    input: { width: SIZE, height: SIZE },
    processor,
    limits: { maxWidth: 4096, maxHeight: 4096, maxStreams: 16, timeoutS: 60 },
    window: opts.window,
  };
  return { engine, stats };
}

const OPTIONS: DetectOptions = { minScore: 0.3 };

async function run(opts: FakeOptions, options: DetectOptions = OPTIONS) {
  const { engine, stats } = fakeEngine(opts);
  const planned = await planFile('clip.mp4', options, engine, '/private/input-0');
  const frames: FrameDetections[] = [];
  const result = await detectFile(planned, options, engine, (frame) => {
    stats.handedOn++;
    frames.push(frame);
  });
  return { result, frames, stats };
}

describe('detectFile', () => {
  test('frames are handed on in decode order although their results finish out of order', async () => {
    // Later frames come back first: frame i after (20 - i % 7 × 3) ms.
    const { frames, result } = await run({ frames: 40, window: 8, delayMs: (i) => 20 - (i % 7) * 3 });
    assert.deepEqual(frames.map((f) => f.frame), Array.from({ length: 40 }, (_, i) => i));
    assert.deepEqual(frames.map((f) => f.ptsMs), Array.from({ length: 40 }, (_, i) => i * 40));
    // Each frame carries its own detections: the box at x = index, the label by parity.
    for (const f of frames) {
      assert.equal(f.detections.length, 1);
      assert.deepEqual(f.detections[0]!.box, [f.frame, 49.5, f.frame + 1, 50.5]);
      assert.equal(f.detections[0]!.label, f.frame % 2 === 0 ? 'even' : 'odd');
      assert.equal(f.detections[0]!.score, 0.9);
    }
    assert.equal(result.frames, 40);
    assert.equal(result.detections, 40);
    assert.equal(result.file, 'clip.mp4');
    assert.equal(result.mediaPath, '/private/input-0');
  });

  test('the window bounds the frames decoded but not yet handed on', async () => {
    for (const window of [1, 3, 8]) {
      const { stats, frames } = await run({ frames: 30, window, delayMs: (i) => (i % 3) * 2 });
      assert.equal(frames.length, 30);
      assert.ok(stats.maxAhead <= window, `window ${window}: ${stats.maxAhead} frames ahead`);
      assert.ok(stats.maxAhead >= Math.min(window, 30), `window ${window}: only ${stats.maxAhead} frames ahead (no overlap)`);
    }
  });

  test('a failing frame rejects the file, and decoding stops soon after it', async () => {
    const { engine, stats } = fakeEngine({ frames: 50, window: 4, failing: new Set([10]) });
    const planned = await planFile('clip.mp4', OPTIONS, engine);
    const handed: number[] = [];
    await assert.rejects(detectFile(planned, OPTIONS, engine, (f) => void handed.push(f.frame)), /frame 10: the device failed/);
    assert.deepEqual(handed, Array.from({ length: 10 }, (_, i) => i), 'every frame before the failing one, none after');
    assert.ok(stats.stoppedAt >= 10 && stats.stoppedAt < 10 + 4 + 1, `decoder stopped at ${stats.stoppedAt}`);
  });

  test('a failing later frame that finishes first does not jump the queue or go unhandled', async () => {
    // Frame 7 fails at once while frames 0–6 take 15 ms: 0–6 are handed on, then the failure.
    const { engine } = fakeEngine({ frames: 20, window: 10, failing: new Set([7]), delayMs: (i) => (i === 7 ? 0 : 15) });
    const planned = await planFile('clip.mp4', OPTIONS, engine);
    const handed: number[] = [];
    await assert.rejects(detectFile(planned, OPTIONS, engine, (f) => void handed.push(f.frame)), /frame 7/);
    assert.deepEqual(handed, [0, 1, 2, 3, 4, 5, 6]);
  });

  test('a failing onFrame (the output) rejects the file', async () => {
    const { engine } = fakeEngine({ frames: 20, window: 4 });
    const planned = await planFile('clip.mp4', OPTIONS, engine);
    await assert.rejects(detectFile(planned, OPTIONS, engine, (f) => {
      if (f.frame === 5) throw new Error('disk full');
    }), /disk full/);
  });

  test('the summary counts each label over the whole file, across the 256-frame parts it is built from', async () => {
    const { result } = await run({ frames: 600, window: 16 });
    assert.deepEqual(result.summary, {
      even: { detections: 300, frames: 300, maxPerFrame: 1, firstMs: 0, lastMs: 598 * 40 },
      odd: { detections: 300, frames: 300, maxPerFrame: 1, firstMs: 40, lastMs: 599 * 40 },
    });
    assert.equal(result.detections, 600);
  });

  test('classes and min-score filter like the service', async () => {
    const { result, frames } = await run({ frames: 10, window: 4 }, { minScore: 0.3, classes: ['odd'] });
    assert.deepEqual(Object.keys(result.summary), ['odd']);
    assert.deepEqual(frames.map((f) => f.detections.length), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    const strict = await run({ frames: 4, window: 4 }, { minScore: 0.95 });
    assert.equal(strict.result.detections, 0);
    assert.deepEqual(strict.result.summary, {});
  });

  test('fps samples through the plan: frames and times at the sampled rate', async () => {
    const { engine } = fakeEngine({ frames: 20, window: 4 });
    engine.probe = async () => probe(100);
    const planned = await planFile('clip.mp4', { minScore: 0.3, fps: 5 }, engine);
    assert.equal(planned.plan.sampleFps, 5);
    assert.equal(planned.plan.expectedFrames, 20); // 100 source frames (4 s) at 5 frames/s
    const frames: FrameDetections[] = [];
    // The fake decoder gives 20 frames whatever the rate, as ffmpeg's fps filter would for 4 s.
    await detectFile(planned, { minScore: 0.3, fps: 5 }, engine, (f) => void frames.push(f));
    assert.deepEqual(frames.slice(0, 3).map((f) => f.ptsMs), [0, 200, 400]);
  });

  test('a file that decodes far short of its declared frames is refused as truncated', async () => {
    const { engine } = fakeEngine({ frames: 10, window: 4 });
    engine.probe = async () => probe(100);
    const planned = await planFile('clip.mp4', OPTIONS, engine);
    await assert.rejects(detectFile(planned, OPTIONS, engine, () => undefined), /Only 10 of the 100 frames/);
  });
});

describe('detectFile with tracking', () => {
  /**
   * One "even" object, a 20 px box moving 1 px a frame; it scores 0.9, but 0.2 on frames 4 to 6 (below minScore 0.3:
   * not written, yet seen by the tracker, which continues its track through them).
   */
  const scoreAt = (index: number) => (index >= 4 && index <= 6 ? 0.2 : 0.9);
  const rows = (index: number) => new Float32Array([20 + index, 50, Math.log(20), Math.log(20), scoreAt(index), 1, 0]);
  const tracked: DetectOptions = { minScore: 0.3, tracking: resolveTrackerOptions({ lostTrackMs: 0 }) };

  async function runRows(options: DetectOptions) {
    const { engine } = fakeEngine({ frames: 10, window: 4, rows });
    const planned = await planFile('clip.mp4', options, engine);
    const frames: FrameDetections[] = [];
    const result = await detectFile(planned, options, engine, (f) => void frames.push(f));
    return { frames, result };
  }

  test('detections carry trackId; boxes below minScore reach the tracker but are not written', async () => {
    const { frames, result } = await runRows(tracked);
    // With no lost-track buffer, only the low-score boxes of frames 4–6 can carry track 1 to frame 7.
    assert.deepEqual(frames.map((f) => (f.detections as TrackedDetection[]).map((d) => d.trackId)), [[1], [1], [1], [1], [], [], [], [1], [1], [1]]);
    assert.equal(result.detections, 7);
    assert.deepEqual(result.objects, { even: 1 });
    assert.ok(result.trackingMs! >= 0);
    assert.deepEqual(result.summary, { even: { detections: 7, frames: 7, maxPerFrame: 1, firstMs: 0, lastMs: 360 } });
  });

  test('without tracking the same detections, without trackId and without objects', async () => {
    const withTracks = await runRows(tracked);
    const without = await runRows({ minScore: 0.3 });
    const untracked = withTracks.frames.map((f) => ({ ...f, detections: (f.detections as TrackedDetection[]).map(({ trackId: _, ...d }) => d) }));
    assert.deepEqual(without.frames, untracked);
    assert.ok(without.frames.every((f) => f.detections.every((d) => !('trackId' in d))));
    assert.equal(without.result.objects, undefined);
    assert.deepEqual(without.result.summary, withTracks.result.summary);
  });
});
