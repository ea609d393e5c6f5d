import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Acquired, CameraLeases, CameraStatus } from '../../src/store/camera-leases.js';
import { createLogger } from '../../src/platform/logger.js';
import type { StreamRecord } from '../../src/store/stream-store.js';
import type { CameraPuller } from '../../src/processor/camera-puller.js';
import { CameraSupervisor } from '../../src/processor/camera-supervisor.js';

const quiet = createLogger('fatal', 'test', new Writable({ write: (_c, _e, done) => done() }));
const LEASE_MS = 6_000;

/** Leases in memory, with the same rules as the MongoDB store: one holder, lapsing at expiresAt. */
class MemoryLeases implements CameraLeases {
  readonly leases = new Map<string, { holder: string; expiresAt: number; status?: CameraStatus }>();
  readonly seen = new Map<string, number>();
  failing = false;
  private check() {
    if (this.failing) throw Object.assign(new Error('store away'), { name: 'MongoNetworkError' });
  }
  async acquire(key: string, holder: string, now: number, leaseMs: number): Promise<Acquired> {
    this.check();
    const current = this.leases.get(key);
    if (current && current.holder !== holder && current.expiresAt >= now) return { acquired: false };
    this.leases.set(key, { holder, expiresAt: now + leaseMs });
    return { acquired: true, ...(current && current.holder !== holder ? { previous: current.holder } : {}) };
  }
  async renew(key: string, holder: string, now: number, leaseMs: number, status: CameraStatus) {
    this.check();
    const current = this.leases.get(key);
    if (current?.holder !== holder) return false;
    this.leases.set(key, { holder, expiresAt: now + leaseMs, status });
    return true;
  }
  async release(key: string, holder: string) {
    if (this.leases.get(key)?.holder === holder) this.leases.delete(key);
  }
  async heartbeat(processor: string, now: number) {
    this.check();
    this.seen.set(processor, now);
  }
  async liveProcessors(now: number, windowMs: number) {
    return [...this.seen.values()].filter((t) => t >= now - windowMs).length;
  }
  async leave(processor: string) {
    this.seen.delete(processor);
  }
}

const source = (name: string, url = `rtsp://8.8.8.8/${name}`) => ({
  _id: `t/${name}`, tenant: 't', name, settings: {}, source: { url, setAt: new Date(0) }, createdAt: new Date(0), updatedAt: new Date(0),
}) as StreamRecord;

function processor(id: string, leases: CameraLeases, sources: () => StreamRecord[], clock: { now: number }) {
  const running = new Map<string, { stopped: boolean; changed: () => void }>();
  const supervisor = new CameraSupervisor({
    log: quiet, streams: { withSources: async () => sources() }, leases, processorId: id, leaseMs: LEASE_MS, maxPerProcessor: 16, now: () => clock.now,
    startPuller: (record, changed) => {
      const entry = { stopped: false, changed };
      running.set(record._id, entry);
      const status: CameraStatus = { state: 'connected', lastError: null, since: 0, reconnects: 0, framesPulled: 1 };
      return { status, source: record.source!, stop: async () => { entry.stopped = true; running.delete(record._id); } } as unknown as CameraPuller;
    },
  });
  return { supervisor, running };
}

test('sources are shared out over the live processors; one that joins gets its share as the other gives one back', async () => {
  const leases = new MemoryLeases();
  const clock = { now: 1_000_000 };
  const sources = ['a', 'b', 'c', 'd'].map((n) => source(n));
  const one = processor('p1', leases, () => sources, clock);
  await one.supervisor.tick();
  assert.equal(one.running.size, 4, 'alone, it takes every source');
  const two = processor('p2', leases, () => sources, clock);
  for (let round = 0; round < 4; round++) {
    clock.now += LEASE_MS / 3;
    await one.supervisor.tick();
    await two.supervisor.tick();
  }
  assert.deepEqual([one.running.size, two.running.size], [2, 2]);
  assert.equal(new Set([...one.running.keys(), ...two.running.keys()]).size, 4, 'each source pulled once');
});

test('a processor that dies: its sources move once its lease has lapsed; the move is not before', async () => {
  const leases = new MemoryLeases();
  const clock = { now: 1_000_000 };
  const sources = [source('a')];
  const one = processor('p1', leases, () => sources, clock);
  const two = processor('p2', leases, () => sources, clock);
  await one.supervisor.tick();
  await two.supervisor.tick();
  assert.deepEqual([one.running.size, two.running.size], [1, 0]);
  // p1 stops renewing (killed); p2 keeps its rounds.
  for (let elapsed = 0; elapsed < LEASE_MS; elapsed += LEASE_MS / 3) {
    clock.now += LEASE_MS / 3;
    await two.supervisor.tick();
    if (clock.now - 1_000_000 <= LEASE_MS) assert.equal(two.running.size, 0, `not taken while the lease holds (${clock.now - 1_000_000} ms)`);
  }
  clock.now += LEASE_MS / 3;
  await two.supervisor.tick();
  assert.equal(two.running.size, 1, 'taken once the lease lapsed');
});

test('a source removed or changed is stopped; a lost lease stops the puller; a store outage keeps it only while the lease surely holds', async () => {
  const leases = new MemoryLeases();
  const clock = { now: 1_000_000 };
  let sources = [source('a'), source('b')];
  const one = processor('p1', leases, () => sources, clock);
  await one.supervisor.tick();
  sources = [source('a', 'rtsp://8.8.4.4/moved')];
  clock.now += 2_000;
  await one.supervisor.tick();
  assert.deepEqual([...one.running.keys()], ['t/a'], 'b removed; a changed: restarted with the new URL');
  leases.leases.set('t/a', { holder: 'someone-else', expiresAt: clock.now + LEASE_MS });
  clock.now += 2_000;
  await one.supervisor.tick();
  assert.equal(one.running.size, 0, 'the lease is someone else\'s now');
  leases.leases.delete('t/a');
  await one.supervisor.tick();
  assert.equal(one.running.size, 1);
  leases.failing = true;
  clock.now += 2_000;
  await assert.rejects(one.supervisor.tick()); // the round fails: the puller runs on, its lease still holds
  assert.equal(one.running.size, 1);
  clock.now += LEASE_MS;
  await assert.rejects(one.supervisor.tick());
  assert.equal(one.running.size, 0, 'given up once its lease may have lapsed: another processor may hold it by now');
  leases.failing = false;
  await one.supervisor.tick();
  assert.equal(one.running.size, 1, 'taken again once the store is back');
  await one.supervisor.close();
  assert.equal(one.running.size, 0, 'close stops every puller');
  assert.equal(leases.leases.size, 0, 'and gives the leases back');
});

test('a state change is written at once, not at the next renewal', async () => {
  const leases = new MemoryLeases();
  const clock = { now: 1_000_000 };
  const one = processor('p1', leases, () => [source('a')], clock);
  await one.supervisor.tick();
  assert.equal(leases.leases.get('t/a')?.status, undefined, 'nothing reported yet');
  one.running.get('t/a')!.changed();
  await new Promise((r) => setImmediate(r));
  assert.equal(leases.leases.get('t/a')?.status?.state, 'connected');
});
