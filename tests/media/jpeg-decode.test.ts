import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeJpegFrames } from '../../src/media/jpeg-decode.js';

const image = (width: number, height: number, format: 'jpeg' | 'png') => {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i += 3) [raw[i], raw[i + 1], raw[i + 2]] = [200, 100, 50];
  const pipeline = sharp(raw, { raw: { width, height, channels: 3 } });
  return (format === 'jpeg' ? pipeline.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }) : pipeline.png()).toBuffer();
};

test('JPEG frames of the chunk\'s content size decode to packed RGB, in order', async () => {
  const [a, b] = await Promise.all([image(8, 4, 'jpeg'), image(8, 4, 'jpeg')]);
  const frames = await decodeJpegFrames([a, b], 8, 4);
  assert.equal(frames.length, 2);
  for (const frame of frames) {
    assert.equal(frame.length, 8 * 4 * 3);
    for (const [i, want] of [200, 100, 50].entries()) assert.ok(Math.abs(frame[i]! - want) <= 3, `channel ${i}: ${frame[i]}`);
  }
});

test('anything else from Kafka is refused before decoding: another size, another format, garbage', async () => {
  const cases: [Buffer, RegExp][] = [
    [await image(4, 4, 'jpeg'), /an image of 4x4 with 3 channels, not a 8x4 colour JPEG/],
    [await image(16, 4, 'jpeg'), /exceeds pixel limit/],
    [await image(8, 4, 'png'), /no JPEG start-of-image marker/],
    [Buffer.from('not an image at all'), /frame 0 is not a readable JPEG/],
    [(await image(8, 4, 'jpeg')).subarray(0, 40), /frame 0 is not a readable JPEG/],
  ];
  for (const [file, message] of cases) {
    await assert.rejects(decodeJpegFrames([file], 8, 4), (e: Error & { code?: string }) => e.code === 'VDET_MESSAGE_INVALID' && message.test(e.message), String(message));
  }
});
