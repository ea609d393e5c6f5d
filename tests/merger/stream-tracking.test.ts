import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Detection, StreamFramesDone } from '../../src/contracts/messages.js';
import { MIN_FRAME_GAP_MS, trackStreamChunk } from '../../src/merger/stream-tracking.js';
import { CachedStreamTrackingStore } from '../../src/merger/stream-tracking-cache.js';
import type { StreamTrackingState, StreamTrackingStore } from '../../src/store/stream-track-store.js';
import { ByteTracker } from '../../src/vision/tracking/index.js';
import { ZoneCounter, type ZoneEvent, type ZoneSettings } from '../../src/vision/zones.js';
import { restoreZones } from '../../src/results/tracks.js';
import { loadReference, type VideoReference } from '../helpers/reference.js';

/**
 * The merger's stream tracking step against an in-memory store with the MongoDB one's semantics
 * (stream-track-store.ts): a record moved only from where it is, frames stored once. The tour video's reference
 * detections as a camera's frames, 25 a second, minScore 0.5 (boxes from 0.3 up are tracker-only), chunks of 5.
 */
const MIN_SCORE = 0.5;
const tour = loadReference<VideoReference>('tour-640x360');
const T0 = 1_760_000_000_000;
const frames = tour.frames.slice(0, 200).map((f) => ({
  seq: f.frame, ts: T0 + f.frame * 40, receivedAt: T0 + f.frame * 40, width: tour.width, height: tour.height,
  detections: f.detections.filter((d) => d.score >= MIN_SCORE),
  trackOnly: f.detections.filter((d) => d.score < MIN_SCORE),
}));
const chunkOf = (from: number, to: number): StreamFramesDone => ({ v: 1, kind: 'stream', stream: 'cam', tenant: 't', frames: frames.slice(from, to), tracking: {} });

class MemoryStreamTrackingStore implements StreamTrackingStore {
  record_: StreamTrackingState | undefined;
  readonly stored = new Map<number, Detection[]>();
  reads = 0;
  async record() {
    this.reads++;
    return this.record_ ? { ...this.record_ } : undefined;
  }
  async advance(_key: string, _tenant: string, fromSeq: number | undefined, next: StreamTrackingState) {
    const moves = fromSeq === undefined ? this.record_ === undefined : this.record_?.lastSeq === fromSeq;
    if (moves) this.record_ = { ...next };
    return moves;
  }
  async storedDetections(_key: string, seqs: readonly number[]) {
    return new Map(seqs.filter((s) => this.stored.has(s)).map((s) => [s, this.stored.get(s)!]));
  }
  /** What the merger stores (insert once: a second insert of a frame changes nothing). */
  store(chunk: StreamFramesDone['frames']) {
    for (const f of chunk) if (!this.stored.has(f.seq)) this.stored.set(f.seq, f.detections);
  }
}

const idsOf = (chunk: StreamFramesDone['frames']) => chunk.map((f) => f.detections.map((d) => d.trackId));

/** Tracks every chunk of 5 frames in order, storing and saving each: the ids per frame. */
async function trackAll(store: MemoryStreamTrackingStore, through: StreamTrackingStore = store): Promise<(number | undefined)[][]> {
  const ids: (number | undefined)[][] = [];
  for (let i = 0; i < frames.length; i += 5) {
    const tracked = await trackStreamChunk(through, 't/cam', 't', chunkOf(i, i + 5));
    store.store(tracked.frames);
    await tracked.save();
    ids.push(...idsOf(tracked.frames));
  }
  return ids;
}

describe('stream tracking: ids in sequence order, from the stored state', () => {
  test('the ids are those of one tracker that saw every frame, and trackOnly boxes never come out', async () => {
    const tracker = new ByteTracker();
    const straight = frames.map((f) => tracker.update(f.ts, [...f.detections, ...f.trackOnly]).slice(0, f.detections.length));
    const store = new MemoryStreamTrackingStore();
    assert.deepEqual(await trackAll(store), straight);
    assert.ok(straight.flat().filter((id) => id !== undefined).length > 300, 'most boxes are on tracks');
    const tracked = await trackStreamChunk(new MemoryStreamTrackingStore(), 't/cam', 't', chunkOf(0, 5));
    assert.ok(tracked.frames.every((f) => !('trackOnly' in f)));
  });

  test('a crash before the save, a redelivery after it, a chunk seen twice: the same ids', async () => {
    const expected = await trackAll(new MemoryStreamTrackingStore());
    const store = new MemoryStreamTrackingStore();
    const ids: (number | undefined)[][] = [];
    for (let i = 0; i < frames.length; i += 5) {
      const chunk = chunkOf(i, i + 5);
      // Every third chunk: tracked, stored, and the merger dies before it saves the state; the chunk comes again.
      if ((i / 5) % 3 === 1) store.store((await trackStreamChunk(store, 't/cam', 't', chunk)).frames);
      const tracked = await trackStreamChunk(store, 't/cam', 't', chunk);
      store.store(tracked.frames);
      await tracked.save();
      // ... and every fourth is redelivered after its save: its ids come from what was stored.
      if ((i / 5) % 4 === 2) assert.deepEqual(idsOf((await trackStreamChunk(store, 't/cam', 't', chunk)).frames), idsOf(tracked.frames));
      ids.push(...idsOf(tracked.frames));
    }
    assert.deepEqual(ids, expected);
  });

  test('capture times that repeat or go back do not stop the stream; the clock only moves forward', async () => {
    const store = new MemoryStreamTrackingStore();
    const chunk = chunkOf(0, 10);
    chunk.frames = chunk.frames.map((f, i) => ({ ...f, ts: i < 5 ? T0 : T0 - 60_000 }));
    const tracked = await trackStreamChunk(store, 't/cam', 't', chunk);
    await tracked.save();
    const clock = (JSON.parse(store.record_!.state) as { lastPtsMs: number }).lastPtsMs; // the tracker's clock, in its state
    assert.ok(Math.abs(clock - (T0 + 9 * MIN_FRAME_GAP_MS)) < 0.01, String(clock));
    assert.ok(tracked.frames.slice(1).some((f) => f.detections.some((d) => d.trackId !== undefined)), 'tracks still confirmed');
  });

  test('dropped frames pass through untracked', async () => {
    const chunk = chunkOf(0, 4);
    chunk.frames[2] = { ...chunk.frames[2]!, dropped: true, detections: [] };
    const tracked = await trackStreamChunk(new MemoryStreamTrackingStore(), 't/cam', 't', chunk);
    assert.equal(tracked.frames[2]!.dropped, true);
    assert.deepEqual(tracked.frames.map((f) => f.seq), [0, 1, 2, 3]);
  });
});

test('changed tracker settings apply from the next chunk, and the tracks go on', async () => {
  const store = new MemoryStreamTrackingStore();
  const first = await trackStreamChunk(store, 't/cam', 't', chunkOf(0, 20));
  await first.save();
  const later = { ...chunkOf(20, 40), tracking: { confirmFrames: 5 } };
  const tracked = await trackStreamChunk(store, 't/cam', 't', later);
  await tracked.save();
  assert.equal((JSON.parse(store.record_!.state) as { options: { confirmFrames: number } }).options.confirmFrames, 5);
  const before = new Set(idsOf(first.frames).flat());
  assert.ok(idsOf(tracked.frames).flat().some((id) => id !== undefined && before.has(id)), 'a track goes on');
});

describe('stream tracking with the merger\'s cache of saved records', () => {
  test('the same ids as from MongoDB\'s record, which is read once, not at every chunk', async () => {
    const expected = await trackAll(new MemoryStreamTrackingStore());
    const store = new MemoryStreamTrackingStore();
    const cached = new CachedStreamTrackingStore(store);
    assert.deepEqual(await trackAll(store, cached), expected);
    assert.equal(store.reads, 1, 'only the first chunk reads the record');
    assert.equal(cached.size, 1);
  });

  test('a stream deleted and registered again (sequence numbers from 0, record and frames gone) starts afresh', async () => {
    const store = new MemoryStreamTrackingStore();
    const cached = new CachedStreamTrackingStore(store);
    const first = await trackAll(store, cached);
    store.record_ = undefined; // what StreamStore.remove deletes
    store.stored.clear();
    const again = await trackStreamChunk(cached, 't/cam', 't', chunkOf(0, 5));
    assert.deepEqual(idsOf(again.frames), first.slice(0, 5), 'the ids of a stream never seen before');
    await again.save();
    assert.equal(store.record_!.lastSeq, 4);
  });

  test('a record moved by another merger, or a rejoin of the group: the next chunk reads the record', async () => {
    const store = new MemoryStreamTrackingStore();
    const cached = new CachedStreamTrackingStore(store);
    const first = await trackStreamChunk(cached, 't/cam', 't', chunkOf(0, 5));
    store.store(first.frames);
    await first.save();
    // Another merger (the partition moved) tracks the next chunk from the stored record.
    const elsewhere = await trackStreamChunk(store, 't/cam', 't', chunkOf(5, 10));
    store.store(elsewhere.frames);
    await elsewhere.save();
    cached.clear(); // this merger rejoins its group before it sees the partition again
    const reads = store.reads;
    const next = await trackStreamChunk(cached, 't/cam', 't', chunkOf(10, 15));
    assert.equal(store.reads, reads + 1);
    await next.save();
    assert.equal(store.record_!.lastSeq, 14, 'went on from the other merger\'s record');
    // A save that finds the record moved (no rejoin seen) drops the cached one.
    const stale = await trackStreamChunk(cached, 't/cam', 't', chunkOf(15, 20));
    store.record_ = { ...store.record_!, lastSeq: 30 };
    await stale.save();
    assert.equal(cached.size, 0);
  });
});

test('zones and lines: the events and counts of one counter that saw every frame, through crashes and the cache', async () => {
  const regions: ZoneSettings = {
    zones: [{ name: 'left', polygon: [[0, 0], [320, 0], [320, 360], [0, 360]] }],
    lines: [{ name: 'middle', from: [320, 0], to: [320, 360] }],
    forgetMs: 2000,
  };
  const tracker = new ByteTracker();
  const straightCounter = new ZoneCounter(regions);
  const straight = frames.map((f) => {
    const ids = tracker.update(f.ts, [...f.detections, ...f.trackOnly]);
    return straightCounter.update(f.ts, f.detections.map((d, i) => ({ ...d, trackId: ids[i] })));
  });
  assert.ok(straight.flat().length >= 5, 'the tour\'s objects enter, leave and cross');
  const store = new MemoryStreamTrackingStore();
  const cached = new CachedStreamTrackingStore(store);
  const events: ZoneEvent[][] = [];
  for (let i = 0; i < frames.length; i += 5) {
    const chunk = chunkOf(i, i + 5);
    if ((i / 5) % 3 === 1) store.store((await trackStreamChunk(cached, 't/cam', 't', chunk, regions)).frames); // dies before the save
    const tracked = await trackStreamChunk(cached, 't/cam', 't', chunk, regions);
    store.store(tracked.frames);
    await tracked.save();
    events.push(...chunk.frames.map((f) => tracked.events.get(f.seq) ?? []));
  }
  assert.deepEqual(events, straight);
  const saved = restoreZones(store.record_!.zones, regions);
  assert.deepEqual(saved.report(), straightCounter.report(), 'the counts are saved with the tracker');
});
