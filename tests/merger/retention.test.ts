import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRetention, type RetentionStore } from '../../src/merger/retention.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2030, 0, 31);

function fakeStore(ages: number[], streamFrameAges: number[]) {
  const jobs = ages.map((days, i) => ({ _id: `j${i}`, tenant: 't', uploadId: `u${i}`, finishedAt: new Date(NOW - days * DAY) }));
  const frames = streamFrameAges.map((days) => NOW - days * DAY);
  const calls = { endedJobs: [] as number[], deleteStreamFrames: [] as number[] };
  const store: RetentionStore = {
    async endedJobs(before, limit) {
      const found = jobs.filter((j) => j.finishedAt < before).slice(0, limit);
      calls.endedJobs.push(found.length);
      return found;
    },
    async deleteJob(job) {
      jobs.splice(jobs.findIndex((j) => j._id === job._id), 1);
    },
    async deleteStreamFrames(beforeMs, limit) {
      let n = 0;
      for (let i = frames.length - 1; i >= 0 && n < limit; i--) if (frames[i]! < beforeMs) { frames.splice(i, 1); n++; }
      calls.deleteStreamFrames.push(n);
      return n;
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

test('without VDET_RETENTION_DAYS nothing is removed and no pass is scheduled', async () => {
  const fake = fakeStore([400], [400]);
  const retention = createRetention(fake.store, { days: undefined, intervalS: 1, batch: 10 }, log);
  retention.start();
  assert.deepEqual(await retention.runOnce(NOW), { jobs: 0, streamFrames: 0 });
  await retention.stop();
  assert.equal(fake.jobs.length, 1);
  assert.deepEqual(fake.calls.endedJobs, []);
});
