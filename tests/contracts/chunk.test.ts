import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeChunk, encodeChunk, frameBytes, frameSlices, type ChunkHeader } from '../../src/contracts/chunk.js';
import { ChunkOutcome, JobMessage } from '../../src/contracts/messages.js';

const header: ChunkHeader = {
  v: 1, jobId: 'j1', tenant: 't', chunk: 3, pixelFormat: 'bgr24', frameWidth: 4, frameHeight: 2,
  sourceWidth: 8, sourceHeight: 4, scale: 0.5, minScore: 0.3, frames: [{ frame: 48, ptsMs: 1920 }, { frame: 49, ptsMs: 1960 }],
};

test('a chunk round-trips, and its pixels are a view, not a copy', () => {
  const frames = [Buffer.alloc(24, 1), Buffer.alloc(24, 2)];
  const value = encodeChunk(header, frames);
  const chunk = decodeChunk(value);
  assert.deepEqual(chunk.header, header);
  assert.equal(chunk.pixels.length, 48);
  assert.equal(chunk.pixels[24], 2);
  assert.equal(chunk.pixels.buffer, value.buffer);
});

test('malformed chunks are rejected with VDET_MESSAGE_INVALID', () => {
  const good = encodeChunk(header, [Buffer.alloc(24), Buffer.alloc(24)]);
  for (const bad of [null, Buffer.from('nope'), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.alloc(1)]),
    encodeChunk({ ...header, frames: [] }, [])]) {
    assert.throws(() => decodeChunk(bad), { code: 'VDET_MESSAGE_INVALID' });
  }
});

test('JSON contracts reject what does not match, naming where', () => {
  assert.throws(() => JobMessage.decode(Buffer.from('{"v":1,"jobId":"a","tenant":"t","uploadId":"u","options":{"fps":-1}}')), /fps/);
  assert.throws(() => ChunkOutcome.decode(Buffer.from('not json')), { code: 'VDET_MESSAGE_INVALID' });
  const plan = { v: 1 as const, kind: 'plan' as const, jobId: 'a', tenant: 't', chunks: 2, frames: 20 };
  assert.deepEqual(ChunkOutcome.decode(ChunkOutcome.encode(plan)), plan);
});

test('a chunk with content carries only the image part of each frame, and refuses content larger than the frame', () => {
  const compact: ChunkHeader = { ...header, pixelFormat: 'rgb24', content: { width: 4, height: 1 } };
  const chunk = decodeChunk(encodeChunk(compact, [Buffer.alloc(12, 1), Buffer.alloc(12, 2)]));
  assert.equal(chunk.pixels.length, 24);
  assert.equal(frameBytes(chunk.header), 12);
  assert.throws(() => decodeChunk(encodeChunk(compact, [Buffer.alloc(24), Buffer.alloc(24)])), { code: 'VDET_MESSAGE_INVALID' });
  const tooWide = { ...compact, content: { width: 5, height: 1 } };
  assert.throws(() => decodeChunk(encodeChunk(tooWide, [Buffer.alloc(15), Buffer.alloc(15)])), /larger than/);
});

test('a jpeg chunk: each frame its own length, sliced back exactly; lengths that do not add up are refused', () => {
  const jpeg: ChunkHeader = { ...header, pixelFormat: 'jpeg', content: { width: 4, height: 1 }, frames: [{ frame: 0, ptsMs: 0, bytes: 5 }, { frame: 1, ptsMs: 40, bytes: 7 }] };
  const files = [Buffer.from([0xff, 0xd8, 1, 0xff, 0xd9]), Buffer.from([0xff, 0xd8, 2, 3, 4, 0xff, 0xd9])];
  const chunk = decodeChunk(encodeChunk(jpeg, files));
  assert.deepEqual(frameSlices(chunk), files);
  assert.throws(() => decodeChunk(encodeChunk(jpeg, [files[0]!])), { code: 'VDET_MESSAGE_INVALID' });
  assert.throws(() => decodeChunk(encodeChunk({ ...jpeg, frames: [{ frame: 0, ptsMs: 0 }] }, [files[0]!])), /without its byte length/);
  const { content: _content, ...noContent } = jpeg;
  assert.throws(() => decodeChunk(encodeChunk(noContent, files)), /needs its content size/);
});
