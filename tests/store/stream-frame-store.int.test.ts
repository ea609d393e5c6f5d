import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectStore, type Store } from '../../src/store/mongo.js';
import { StreamFrameStore } from '../../src/store/stream-frame-store.js';
import type { StoredStreamFrame } from '../../src/store/stream-frame-records.js';
import { createTestEnv } from '../helpers/stack.js';

const env = createTestEnv();
const T0 = 1_764_000_000_000;
const frame = (seq: number, ts = T0 + seq * 100): StoredStreamFrame => ({
  seq, ts, width: 640, height: 360,
  detections: [{ label: seq % 2 ? 'dog' : 'person', classId: seq % 2 ? 16 : 0, score: 0.5 + (seq % 50) / 100, box: [seq, 1, seq + 10, 20] }],
});
const frames = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => frame(from + i));

/** Every stored frame of the stream, read `limit` at a time through the pages' cursors. */
async function readAll(store: StreamFrameStore, ref: { tenant: string; name: string }, limit: number, range: { from?: number; to?: number } = {}) {
  const seen: StoredStreamFrame[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.page(ref, { limit, cursor, ...range });
    assert.ok(page.items.length <= limit);
    seen.push(...page.items);
    if (page.next === null) return seen;
    cursor = page.next;
  }
  throw new Error('the pages never ended');
}

describe('stream frames stored a chunk a document (real MongoDB-protocol server)', () => {
  let store: Store;

  before(async () => {
    store = await connectStore(env.config.mongo);
    await new StreamFrameStore(store.db).ensureIndexes();
  });
  after(async () => {
    await store.close();
    await env.cleanup();
  });

  test('pages walk every frame once in sequence order; a redelivery stores nothing again', async () => {
    const frameStore = new StreamFrameStore(store.db);
    const ref = { tenant: 'acme', name: 'cam-pages' };
    for (let s = 0; s < 300; s += 3) assert.equal((await frameStore.append(ref, frames(s, s + 3))).length, 3);
    assert.deepEqual(await frameStore.append(ref, frames(297, 300)), [], 'a chunk stored before');
    assert.deepEqual((await frameStore.append(ref, frames(298, 302))).map((f) => f.seq), [300, 301], 'only its new frames');
    for (const limit of [1, 7, 100, 1000]) {
      const all = await readAll(frameStore, ref, limit);
      assert.deepEqual(all.map((f) => f.seq), Array.from({ length: 302 }, (_, i) => i), `limit ${limit}`);
    }
    assert.deepEqual((await readAll(frameStore, ref, 1000))[42], frame(42), 'a frame as stored');
    assert.equal((await store.db.collection('stream_chunks').countDocuments({ stream: 'cam-pages' })), 101, 'a document a chunk');
  });

  test('a time range is found by its chunks\' times, and only its frames come back', async () => {
    const frameStore = new StreamFrameStore(store.db);
    const ref = { tenant: 'acme', name: 'cam-range' };
    for (let s = 0; s < 2000; s += 4) await frameStore.append(ref, frames(s, s + 4));
    const from = T0 + 1234 * 100;
    const to = T0 + 1567 * 100;
    const inRange = await readAll(frameStore, ref, 50, { from, to });
    assert.deepEqual(inRange.map((f) => f.seq), Array.from({ length: 1567 - 1234 }, (_, i) => 1234 + i));
    assert.deepEqual((await readAll(frameStore, ref, 100, { from: T0 + 1999 * 100 })).map((f) => f.seq), [1999]);
    assert.deepEqual(await readAll(frameStore, ref, 100, { from: T0 + 5000 * 100 }), []);
    assert.equal((await readAll(frameStore, ref, 100, { to: T0 + 10 * 100 })).length, 10);
  });

  test('another merger (a rebalance) goes on with the numbers, past a head written 64 chunks ago', async () => {
    const ref = { tenant: 'acme', name: 'cam-rebalance' };
    const first = new StreamFrameStore(store.db);
    for (let s = 0; s < 70; s++) await first.append(ref, [frame(s)]);
    const second = new StreamFrameStore(store.db);
    assert.deepEqual((await second.append(ref, frames(68, 72))).map((f) => f.seq), [70, 71], 'what the first stored counts');
    const chunk = await store.db.collection('stream_chunks').findOne({ _id: 'acme/cam-rebalance#70' as never });
    assert.equal(chunk?.['first'], 70);
    assert.deepEqual((await readAll(new StreamFrameStore(store.db), ref, 9)).map((f) => f.seq), Array.from({ length: 72 }, (_, i) => i));
    const detections = await second.detectionsOf(ref, [69, 70, 71]);
    assert.deepEqual([...detections.keys()].sort((a, b) => a - b), [69, 70, 71]);
    assert.deepEqual(detections.get(70), frame(70).detections);
  });

  test('tenants\' streams of one name are apart; a removal clears one, and numbering goes on after it', async () => {
    const frameStore = new StreamFrameStore(store.db);
    const mine = { tenant: 'acme', name: 'cam-shared-name' };
    const theirs = { tenant: 'globex', name: 'cam-shared-name' };
    await frameStore.append(mine, frames(0, 5));
    await frameStore.append(theirs, frames(0, 2));
    assert.equal((await readAll(frameStore, mine, 100)).length, 5);
    assert.equal((await readAll(frameStore, theirs, 100)).length, 2);
    const api = new StreamFrameStore(store.db); // the api removes; the merger (frameStore) still remembers the stream
    await api.remove(mine);
    assert.deepEqual(await readAll(api, mine, 100), []);
    assert.equal((await readAll(api, theirs, 100)).length, 2);
    await sleep(2_100); // what the merger remembers of a head it trusts this long
    assert.deepEqual((await frameStore.append(mine, frames(0, 3))).map((f) => f.seq), [0, 1, 2], 'a stream registered again counts anew');
    assert.deepEqual((await readAll(api, mine, 100)).map((f) => f.seq), [0, 1, 2]);
  });

  test('retention removes the oldest chunks in batches and moves where pages start', async () => {
    const frameStore = new StreamFrameStore(store.db);
    const ref = { tenant: 'acme', name: 'cam-old' };
    for (let s = 0; s < 100; s += 10) await frameStore.append(ref, frames(s, s + 10));
    assert.equal(await frameStore.deleteBefore(ref, T0 + 45 * 100, 2), 2, 'a batch at most');
    assert.equal((await readAll(frameStore, ref, 1000))[0]!.seq, 20);
    assert.equal(await frameStore.deleteBefore(ref, T0 + 45 * 100, 100), 2, 'the chunks wholly before the cut');
    assert.deepEqual((await readAll(frameStore, ref, 15)).map((f) => f.seq), Array.from({ length: 60 }, (_, i) => 40 + i));
    assert.deepEqual((await frameStore.streamsStored(10_000)).filter((s) => s.name === 'cam-old'), [ref]);
  });

  test('frames stored one document each by earlier versions are read first, and pages run on into the chunks', async () => {
    const frameStore = new StreamFrameStore(store.db);
    const ref = { tenant: 'acme', name: 'cam-upgraded' };
    await store.db.collection('stream_frames').insertMany(frames(0, 25).map((f) => ({ _id: `acme/cam-upgraded:${f.seq}` as never, tenant: 'acme', stream: 'cam-upgraded', ...f })));
    await frameStore.append(ref, frames(25, 40));
    for (const limit of [10, 25, 100]) {
      assert.deepEqual((await readAll(frameStore, ref, limit)).map((f) => f.seq), Array.from({ length: 40 }, (_, i) => i), `limit ${limit}`);
    }
    assert.deepEqual((await readAll(frameStore, ref, 100, { from: T0 + 20 * 100, to: T0 + 30 * 100 })).map((f) => f.seq), Array.from({ length: 10 }, (_, i) => 20 + i));
    await assert.rejects(frameStore.page(ref, { limit: 10, cursor: Buffer.from('x:1').toString('base64url') }), { code: 'VDET_CURSOR_INVALID' });
    await frameStore.remove(ref);
    assert.equal(await store.db.collection('stream_frames').countDocuments({ stream: 'cam-upgraded' }), 0);
  });
});
