import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRetention, type RetentionStore } from '../../src/merger/retention.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2030, 0, 31);

/** Jobs by age (days since they ended) and, optionally, their own retention; stream frames by age, of stream "s" unless named. */
function fakeStore(ages: (number | [number, number])[], streamFrameAges: (number | [number, string])[], streamRetention: Record<string, number> = {}) {
  const jobs = ages.map((age, i) => {
    const [days, keep] = Array.isArray(age) ? age : [age, undefined];
    const finishedAt = new Date(NOW - days * DAY);
    return { _id: `j${i}`, tenant: 't', uploadId: `u${i}`, status: 'done' as const, finishedAt, expiresAt: keep === undefined ? undefined : new Date(finishedAt.getTime() + keep * DAY) };
  });
  const frames = streamFrameAges.map((age) => (Array.isArray(age) ? { ts: NOW - age[0] * DAY, stream: age[1] } : { ts: NOW - age * DAY, stream: 's' }));
  const calls = { endedJobs: [] as number[], deleteStreamFrames: [] as number[] };
  const store: RetentionStore = {
    async endedJobs(before, limit) {
      const found = jobs.filter((j) => j.finishedAt < before).slice(0, limit);
      calls.endedJobs.push(found.length);
      return found;
    },
    async expiredJobs(now, limit) {
      return jobs.filter((j) => j.expiresAt !== undefined && j.expiresAt < now).slice(0, limit);
    },
    async deleteJob(job) {
      jobs.splice(jobs.findIndex((j) => j._id === job._id), 1);
    },
    async deleteStreamFrames(beforeMs, limit, stream) {
      let n = 0;
      for (let i = frames.length - 1; i >= 0 && n < limit; i--) {
        if (frames[i]!.ts < beforeMs && (!stream || frames[i]!.stream === stream.name)) {
          frames.splice(i, 1);
          n++;
        }
      }
      if (!stream) calls.deleteStreamFrames.push(n);
      return n;
    },
    async streamsWithRetention() {
      return Object.entries(streamRetention).map(([name, days]) => ({ tenant: 't', name, days }));
    },
  };
  return { store, jobs, frames, calls };
}

const log = { info: () => undefined, error: () => undefined };

test('retention removes jobs and stream frames older than VDET_RETENTION_DAYS, in batches, and keeps the rest', async () => {
  const fake = fakeStore([40, 31, 30.5, 29, 1, 0, 45, 50, 60], [100, 31, 29, 2, 35, 33]);
  const retention = createRetention(fake.store, { days: 30, intervalS: 600, batch: 2 }, log);
  assert.deepEqual(await retention.runOnce(NOW), { jobs: 6, streamFrames: 4 });
  assert.deepEqual(fake.jobs.map((j) => j._id).sort(), ['j3', 'j4', 'j5']);
  assert.equal(fake.frames.length, 2);
  assert.deepEqual(fake.calls.endedJobs, [2, 2, 2, 0]); // never more than a batch at once
  assert.deepEqual(fake.calls.deleteStreamFrames, [2, 2, 0]);
  assert.deepEqual(await retention.runOnce(NOW), { jobs: 0, streamFrames: 0 });
});

test('without VDET_RETENTION_DAYS and without a job or stream asking, nothing is removed', async () => {
  const fake = fakeStore([400], [400]);
  const retention = createRetention(fake.store, { days: undefined, intervalS: 1, batch: 10 }, log);
  retention.start();
  assert.deepEqual(await retention.runOnce(NOW), { jobs: 0, streamFrames: 0 });
  await retention.stop();
  assert.equal(fake.jobs.length, 1);
  assert.deepEqual(fake.calls.endedJobs, []);
});

test('a job\'s retentionDays and a stream\'s retentionDays remove sooner; the shorter retention wins', async () => {
  // Jobs: ended 3 days ago keeping 2 (gone), ended 3 keeping 5 (kept), ended 40 keeping 100 (gone by the global 30).
  const fake = fakeStore([[3, 2], [3, 5], [40, 100], 10], [[2, 'short'], [0.5, 'short'], [2, 'long'], [40, 'long'], [2, 's']], { short: 1, long: 60 });
  const retention = createRetention(fake.store, { days: 30, intervalS: 600, batch: 10 }, log);
  assert.deepEqual(await retention.runOnce(NOW), { jobs: 2, streamFrames: 2 });
  assert.deepEqual(fake.jobs.map((j) => j._id), ['j1', 'j3']);
  assert.deepEqual(fake.frames.map((f) => `${f.stream}:${(NOW - f.ts) / DAY}`), ['short:0.5', 'long:2', 's:2']);
  const alone = fakeStore([[3, 2], 400], [[2, 'short'], [400, 's']], { short: 1 });
  assert.deepEqual(await createRetention(alone.store, { days: undefined, intervalS: 600, batch: 10 }, log).runOnce(NOW), { jobs: 1, streamFrames: 1 },
    'without VDET_RETENTION_DAYS only what asked for it goes');
});
