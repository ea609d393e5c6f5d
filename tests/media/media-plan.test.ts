import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpretProbe } from '../../src/media/ffmpeg.js';
import { checkDecodedFrames, planMedia, ptsMsOf } from '../../src/media/media-plan.js';
import { loadConfig } from '../../src/platform/config.js';
import { letterbox } from '../../src/media/letterbox.js';

const limits = loadConfig({}).processor;
const video = { formatName: 'mov,mp4', isImage: false, width: 640, height: 360, fps: 25, durationMs: 16_000, declaredFrames: 400, streams: 1 };

test('all frames, or sampled at a lower rate', () => {
  assert.equal(planMedia(video, {}, limits).expectedFrames, 400);
  assert.equal(planMedia(video, { fps: 5 }, limits).expectedFrames, 80);
  assert.equal(planMedia(video, { fps: 50 }, limits).sampleFps, 25); // never above the source rate
  assert.deepEqual([0, 1, 2, 79].map((f) => ptsMsOf(f, { sampleFps: 5, startMs: 0 })), [0, 200, 400, 15_800]);
});

test('stride and a time range: every n-th frame, times in the source', () => {
  const strided = planMedia(video, { stride: 4 }, limits);
  assert.equal(strided.sampleFps, 6.25);
  assert.equal(strided.expectedFrames, 100);
  const ranged = planMedia(video, { startMs: 4000, endMs: 8000 }, limits);
  assert.deepEqual([ranged.startMs, ranged.durationMs, ranged.expectedFrames, ranged.framesDeclared], [4000, 4000, 100, false]);
  assert.deepEqual([0, 1].map((f) => ptsMsOf(f, ranged)), [4000, 4040]);
  assert.throws(() => planMedia(video, { startMs: 20_000 }, limits), { code: 'VDET_MEDIA_NO_FRAMES' });
});

test('limits on size, duration and frames fail with VDET_MEDIA_LIMIT', () => {
  assert.throws(() => planMedia({ ...video, width: 100_000, height: 100_000 }, {}, limits), { code: 'VDET_MEDIA_LIMIT' });
  assert.throws(() => planMedia({ ...video, durationMs: 36_000_000 }, {}, limits), { code: 'VDET_MEDIA_LIMIT' });
  assert.throws(() => planMedia({ ...video, declaredFrames: 10_000_000 }, {}, limits), { code: 'VDET_MEDIA_LIMIT' });
});

test('a still image is one frame at time 0', () => {
  const plan = planMedia({ ...video, isImage: true, fps: 0, durationMs: 0, declaredFrames: 1 }, { fps: 5 }, limits);
  assert.deepEqual(plan.media, { width: 640, height: 360, fps: 0, frames: 1, durationMs: 0 });
  assert.equal(plan.sampleFps, undefined);
});

test('a probe without a video stream is unreadable', () => {
  assert.throws(() => interpretProbe({ streams: [{ codec_type: 'audio' }], format: { format_name: 'mov' } }), { code: 'VDET_MEDIA_UNREADABLE' });
});

test('letterbox truncates like YOLOX and fits the square', () => {
  assert.deepEqual(letterbox(640, 360, 416), { scale: 0.65, width: 416, height: 234, inputWidth: 416, inputHeight: 416 });
  assert.deepEqual(letterbox(1280, 720, { width: 640, height: 384 }), { scale: 0.5, width: 640, height: 360, inputWidth: 640, inputHeight: 384 }, 'a non-square input');
  const tall = letterbox(352, 448, 416);
  assert.equal(tall.height, 416);
  assert.equal(tall.width, Math.floor(352 * (416 / 448)));
});

test('a video that decodes far shorter than it announces is truncated', () => {
  const plan = planMedia(video, {}, limits);
  assert.doesNotThrow(() => checkDecodedFrames(plan, 400));
  assert.doesNotThrow(() => checkDecodedFrames(plan, 395));
  assert.throws(() => checkDecodedFrames(plan, 9), { code: 'VDET_MEDIA_DECODE_FAILED', message: /9 of the 400/ });
  assert.throws(() => checkDecodedFrames(plan, 0), { code: 'VDET_MEDIA_NO_FRAMES' });
});
