import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planSegments, type PacketProbe, type VideoPacket } from '../../src/media/segment-plan.js';

/** Packets of a 25 frames/s H.264 stream (time base 1/12800) in decode order: IPBB… GOPs of `gop` frames. */
function stream(frames: number, gop: number, options: { size?: number; leadingB?: boolean } = {}): PacketProbe {
  const tick = 512;
  const gops: number[][] = [];
  for (let first = 0; first < frames; first += gop) {
    const count = Math.min(gop, frames - first);
    // I, then P/B pairs in decode order: P shows after the B before it.
    const order = [first];
    for (let i = 1; i < count; i += 2) order.push(...(i + 1 < count ? [first + i + 1, first + i] : [first + i]));
    if (options.leadingB && first > 0) {
      // Open: the last frame of the GOP before is decoded after this key frame, and shows before it.
      const previous = gops.at(-1)!;
      previous.splice(previous.indexOf(first - 1), 1);
      order.splice(1, 0, first - 1);
    }
    gops.push(order);
  }
  const packets: VideoPacket[] = gops.flatMap((order) => order.map((display, j) => ({ pts: display * tick, size: options.size ?? 1000, key: j === 0 })));
  return { codec: 'h264', timeBase: 1 / 12800, formatStartS: 0, packets };
}
const every = { fps: 25, sampleFps: 25, ranged: false, minFrames: 16, maxBytes: 1 << 20 };

describe('planSegments: which GOPs travel together, and which frames the model sees', () => {
  test('every frame: GOPs gather until a chunk holds minFrames; frames are numbered across chunks', () => {
    const plan = planSegments(stream(100, 10), every);
    assert.ok(plan.ok);
    assert.equal(plan.frames, 100);
    assert.deepEqual(plan.segments.map((s) => s.packets), [20, 20, 20, 20, 20]);
    assert.deepEqual(plan.segments[1]!.frames.slice(0, 2), [{ frame: 20, source: 0 }, { frame: 21, source: 1 }]);
    assert.deepEqual(plan.segments.map((s) => s.firstPacket), [0, 20, 40, 60, 80]);
  });

  test('a stride of 3: the model sees every third frame, its source counted inside its chunk', () => {
    const plan = planSegments(stream(100, 10), { ...every, sampleFps: 25 / 3, minFrames: 4 });
    assert.ok(plan.ok);
    assert.equal(plan.frames, 34); // frames 0, 3, …, 99
    const sources = plan.segments.flatMap((s) => s.frames.map((f) => f.source + s.firstPacket));
    assert.deepEqual(sources, Array.from({ length: 34 }, (_, n) => 3 * n));
  });

  test('a sparse rate leaves GOPs the model never sees: they are cut, and carry no frames', () => {
    const plan = planSegments(stream(100, 2), { ...every, sampleFps: 25 / 10, minFrames: 1 });
    assert.ok(plan.ok);
    assert.equal(plan.frames, 10);
    assert.ok(plan.segments.some((s) => s.frames.length === 0));
    assert.equal(plan.segments.reduce((n, s) => n + s.packets, 0), 100, 'every packet is in a segment');
  });

  test('chunks stay under maxBytes; a GOP larger than a chunk may be is refused', () => {
    const plan = planSegments(stream(100, 10, { size: 10_000 }), { ...every, minFrames: 100, maxBytes: 64 * 1024 + 250_000 });
    assert.ok(plan.ok);
    assert.ok(plan.segments.length > 1);
    for (const s of plan.segments) assert.ok(s.bytes <= 250_000);
    const refused = planSegments(stream(100, 50, { size: 10_000 }), { ...every, maxBytes: 300_000 });
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.reason, /GOP of 500000 bytes/);
  });

  test('open GOPs, a varying rate, a late video, another codec, a time range: refused with the reason', () => {
    const reason = (p: PacketProbe, r = every) => {
      const plan = planSegments(p, r);
      return plan.ok ? 'accepted' : plan.reason;
    };
    assert.match(reason(stream(40, 10, { leadingB: true })), /open/);
    const vfr = stream(40, 10);
    assert.match(reason({ ...vfr, packets: vfr.packets.map((p, i) => (i > 20 ? { ...p, pts: p.pts * 2 } : p)) }), /not constant/);
    assert.match(reason({ ...stream(40, 10), formatStartS: 1 }), /starts after/);
    assert.match(reason({ ...stream(40, 10), codec: 'hevc' }), /codec is hevc/);
    assert.match(reason(stream(40, 10), { ...every, ranged: true }), /time range/);
    const noKey = stream(40, 10);
    assert.match(reason({ ...noKey, packets: noKey.packets.map((p, i) => (i === 0 ? { ...p, key: false } : p)) }), /first packet/);
  });
});
