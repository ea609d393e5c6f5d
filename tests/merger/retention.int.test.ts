import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { retentionStore } from '../../src/store/job-data.js';
import { connectStore } from '../../src/store/mongo.js';
import { StreamFrameStore } from '../../src/store/stream-frame-store.js';
import { topicNames } from '../../src/contracts/topics.js';
import { authHeaders, registerStream, submitJob, waitForJob, type Target } from '../helpers/client.js';
import { imagePath } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/** A job's and a stream's own retention, without VDET_RETENTION_DAYS, on the real stack (a pass every second). */
describe('retention per job and per stream', () => {
  const KEY = `vdet_retention_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_RETENTION_INTERVAL_S: '1' });
  const SECONDS_3 = 3 / (24 * 3600); // retentionDays for 3 s
  let service: RunningRole;
  let api: Target;

  before(async () => {
    service = startRole('all', stack.env);
    await waitStarted([service]);
    api = { base: await apiUrl(service), key: KEY };
  });

  after(async () => {
    await service?.stop();
    await stack.cleanup();
  });

  const status = async (path: string) => (await fetch(`${api.base}${path}`, { headers: authHeaders(api) })).status;

  test('a job with retentionDays is removed with its upload that long after it ends; a job without stays', async (t) => {
    const short = await waitForJob(api, await submitJob(api, imagePath('dog'), { retentionDays: SECONDS_3 }));
    const kept = await waitForJob(api, await submitJob(api, imagePath('dog')));
    assert.deepEqual([short.status, kept.status], ['done', 'done']);
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      const db = mongo.db(stack.config.mongo.database);
      const uploadId = (await db.collection('jobs').findOne({ _id: short.id as never }))!['uploadId'] as string;
      const waited = await until('the short job removed', async () => (await status(`/v1/jobs/${short.id}`)) === 404, 30_000);
      t.diagnostic(`removed ${waited} ms after it was seen done (retention 3 s, a pass every second)`);
      assert.equal(await db.collection('uploads.files').countDocuments({ filename: uploadId }), 0, 'its upload too (the record goes last)');
      assert.equal(await db.collection('frames').countDocuments({ jobId: short.id }), 0, 'its detections too');
      assert.equal(await status(`/v1/jobs/${kept.id}`), 200);
    } finally {
      await mongo.close();
    }
  });

  test('a deletion that fails halfway keeps the ended job\'s record, so that the next one finishes it', async () => {
    const done = await waitForJob(api, await submitJob(api, imagePath('dog')));
    assert.equal(done.status, 'done');
    const store = await connectStore(stack.config.mongo);
    try {
      const job = (await store.jobs.findOne({ _id: done.id }))!;
      const retention = retentionStore(store, new StreamFrameStore(store.db), store.db.collection('streams'));
      const uploadsLeft = () => store.db.collection('uploads.files').countDocuments({ filename: job.uploadId });
      assert.equal(await uploadsLeft(), 1);
      const deleteFiles = store.uploads.deleteNamed.bind(store.uploads);
      store.uploads.deleteNamed = async () => { throw new Error('injected: the store went away mid-delete'); };
      await assert.rejects(retention.deleteJob(job), /injected/);
      assert.equal(await status(`/v1/jobs/${done.id}`), 200, 'the record stays: the next pass finds the job again');
      assert.equal(await uploadsLeft(), 1);
      store.uploads.deleteNamed = deleteFiles;
      await retention.deleteJob(job);
      assert.equal(await status(`/v1/jobs/${done.id}`), 404);
      assert.equal(await uploadsLeft(), 0);
      assert.equal(await store.frames.countDocuments({ jobId: done.id }), 0);
    } finally {
      await store.close();
    }
  });

  test('a stream with retentionDays loses its stored detections that old; another stream keeps them', async () => {
    const topics = topicNames(stack.config.kafka.topicPrefix);
    const short = await registerStream(api, 'cam-brief', { retentionDays: SECONDS_3 });
    const kept = await registerStream(api, 'cam-kept');
    const producer = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const frame = readFileSync(imagePath('dog'));
    await producer.send({
      topic: topics.frames,
      messages: [{ key: 'cam-brief', value: frame, headers: { 'vdet-token': short, 'vdet-seq': '0' } }, { key: 'cam-kept', value: frame, headers: { 'vdet-token': kept, 'vdet-seq': '0' } }],
    });
    await producer.disconnect();
    const stored = async (id: string) => ((await (await fetch(`${api.base}/v1/streams/${id}/detections`, { headers: authHeaders(api) })).json()) as { items: unknown[] }).items.length;
    await until('both frames stored', async () => (await stored('cam-brief')) === 1 && (await stored('cam-kept')) === 1, 60_000);
    await until('cam-brief\'s frame removed', async () => (await stored('cam-brief')) === 0, 30_000);
    assert.equal(await stored('cam-kept'), 1);
  });
});
