import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { groupId, topicNames } from '../../src/contracts/topics.js';
import { assertMatchesBaseline, midJob as waitMidJob, type FaultCounts } from '../helpers/baseline.js';
import { allDetections, getJob, submitJob, uploadFile, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { imagePath, TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { consumerLag, createTestEnv } from '../helpers/stack.js';

/**
 * The fault suite (npm run test:faults): each scenario runs the tour video through the four roles as processes,
 * injects a fault mid-job, and checks the outcome against a fault-free run: job done, the same (frame, detections),
 * exactly one stored result per frame. Run alone: it stops and starts the shared stack's services.
 */
const KEY = `vdet_faults_${Date.now()}_0123456789abcdef`;
// A job that stops moving is reaped after 3 minutes (every fault here is over well within that), so a stall fails
// its scenario with the reaper's reason instead of a timeout.
const stack = createTestEnv({
  VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TOPIC_PARTITIONS: '4', VDET_CHUNK_FRAMES: '8', VDET_VIDEO_CHUNK_FRAMES: '8',
  VDET_JOB_STALL_S: '180', VDET_REAPER_INTERVAL_S: '10',
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counts: FaultCounts = { faults: 0, jobs: 0, lost: 0, duplicated: 0 };

class Cluster {
  readonly roles = new Map<string, RunningRole>();
  api!: Target;

  async start(names: string[], extraEnv: Record<string, string> = {}, preload: readonly string[] = []): Promise<void> {
    const started = names.map((name) => {
      const role = startRole(name.replace(/#\d+$/, ''), { ...stack.env, ...extraEnv }, undefined, preload);
      this.roles.set(name, role);
      return role;
    });
    await waitStarted(started);
    const api = this.roles.get('api');
    if (api && names.includes('api')) this.api = { base: await apiUrl(api), key: KEY };
  }

  async stop(name: string, signal: NodeJS.Signals): Promise<void> {
    const role = this.roles.get(name)!;
    await role.stop(signal);
    this.roles.delete(name);
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    for (const name of [...this.roles.keys()]) await this.stop(name, signal);
  }
}

const stackCommand = (...args: string[]) => execFileSync('bash', ['scripts/stack.sh', ...args], { stdio: 'ignore', timeout: 180_000 });
const servicePid = (service: string) => Number(readFileSync(`.stack/${service}/${service}.pid`, 'utf8').trim());

/** The suite's roles, whose logs a stalled job's failure shows. */
const diagnostics: { roles?: ReadonlyMap<string, RunningRole> } = {};
const midJob = (api: Target, id: string, atLeast = 40) => waitMidJob(api, id, () => diagnostics.roles ?? new Map(), atLeast);

let baseline: FrameItem[] = [];

/** Compares a job's stored results with the fault-free run (tests/helpers/baseline.ts). */
const assertSameAsBaseline = (api: Target, id: string, options: { trackIds?: boolean } = {}) =>
  assertMatchesBaseline(api, id, baseline, stack.config.mongo, counts, { ...options, roles: () => diagnostics.roles ?? new Map() });

describe('fault suite', () => {
  const cluster = new Cluster();
  diagnostics.roles = cluster.roles;

  before(async () => {
    stackCommand('up');
    await cluster.start(['merger', 'detector', 'processor', 'api']);
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    const job = await waitForJob(cluster.api, id);
    assert.equal(job.status, 'done');
    baseline = await allDetections(cluster.api, id);
    assert.equal(baseline.length, 400);
  });

  after(async (t) => {
    await cluster.stopAll();
    stackCommand('up'); // whatever a scenario stopped runs again for the next test file
    await stack.cleanup();
    console.log(`fault suite: ${JSON.stringify(counts)}`);
    void t;
  });

  for (const role of ['detector', 'processor', 'merger'] as const) {
    test(`kill -9 the ${role} mid-job, restart it`, async () => {
      const id = await submitJob(cluster.api, TOUR_VIDEO);
      await midJob(cluster.api, id, role === 'processor' ? 8 : 40);
      await cluster.stop(role, 'SIGKILL');
      counts.faults++;
      await cluster.start([role]);
      await assertSameAsBaseline(cluster.api, id, { trackIds: role === 'merger' });
    });
  }

  test('kill -9 the merger between its MongoDB write and its offset commit', async () => {
    await cluster.stop('merger', 'SIGTERM');
    await cluster.start(['merger'], { VDET_CRASH_AFTER_CHUNKS: '5' }, ['tests/helpers/crash-after-write.mjs']);
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    const merger = cluster.roles.get('merger')!;
    for (let i = 0; i < 600 && merger.child.exitCode === null && merger.child.signalCode === null; i++) await sleep(100);
    assert.equal(merger.child.signalCode, 'SIGKILL');
    assert.match(merger.output(), /dying before the commit/);
    counts.faults++;
    cluster.roles.delete('merger');
    await cluster.start(['merger']);
    await assertSameAsBaseline(cluster.api, id, { trackIds: true });
  });

  test('Kafka down: an upload answers 503 with Retry-After and stores nothing', async () => {
    stackCommand('stop', 'kafka');
    counts.faults++;
    try {
      const mongo = new MongoClient(stack.config.mongo.url);
      await mongo.connect();
      const db = mongo.db(stack.config.mongo.database);
      const before = [await db.collection('jobs').countDocuments(), await db.collection('uploads.files').countDocuments()];
      const response = await uploadFile(cluster.api, imagePath('dog'));
      assert.equal(response.status, 503);
      assert.ok(Number(response.headers.get('retry-after')) > 0);
      assert.equal(((await response.json()) as { code: string }).code, 'VDET_DEPENDENCY_UNAVAILABLE');
      assert.deepEqual([await db.collection('jobs').countDocuments(), await db.collection('uploads.files').countDocuments()], before);
      await mongo.close();
    } finally {
      stackCommand('up');
    }
  });

  test('stop and restart the Kafka broker mid-job', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id);
    stackCommand('stop', 'kafka');
    counts.faults++;
    await sleep(3_000);
    stackCommand('up');
    await assertSameAsBaseline(cluster.api, id);
  });

  test('SIGSTOP the broker for 30 s, then SIGCONT', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id);
    const pid = servicePid('kafka');
    process.kill(pid, 'SIGSTOP');
    counts.faults++;
    await sleep(30_000);
    process.kill(pid, 'SIGCONT');
    await assertSameAsBaseline(cluster.api, id);
  });

  test('restart the MongoDB-protocol server mid-job', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id);
    stackCommand('stop', 'ferretdb');
    counts.faults++;
    await sleep(2_000);
    stackCommand('up');
    await assertSameAsBaseline(cluster.api, id);
  });

  test('stop Redis mid-job: the pipeline goes on, readiness says degraded', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id);
    stackCommand('stop', 'redis');
    counts.faults++;
    const ready = (await (await fetch(`${cluster.api.base}/readyz`)).json()) as { status: string };
    assert.equal(ready.status, 'degraded');
    try {
      await assertSameAsBaseline(cluster.api, id);
    } finally {
      stackCommand('up');
    }
    // Back with Redis (empty): progress comes from MongoDB.
    assert.equal((await getJob(cluster.api, id)).progress.framesDone, 400);
  });

  test('scale detectors 1 → 3 → 1 during a job', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id, 16);
    await cluster.start(['detector#2', 'detector#3']);
    counts.faults++;
    await midJob(cluster.api, id, 200).catch(() => undefined);
    await cluster.stop('detector#2', 'SIGTERM');
    await cluster.stop('detector#3', 'SIGTERM');
    await assertSameAsBaseline(cluster.api, id);
  });

  test('a poison chunk goes to the dead-letter topic and does not stall its partition', async () => {
    const topics = topicNames(stack.config.kafka.topicPrefix);
    const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const poisonKey = `poison-${Date.now()}`;
    for (let p = 0; p < 4; p++) {
      await producer.send({ topic: topics.chunks, messages: [{ key: poisonKey, value: Buffer.from('not a chunk'), partition: p }] });
    }
    await producer.disconnect();
    counts.faults++;
    const id = await submitJob(cluster.api, TOUR_VIDEO); // whichever partition it lands on holds a poison chunk first
    await assertSameAsBaseline(cluster.api, id);
    const consumer = kafka.consumer({ groupId: `${stack.id}-dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    const dead: Record<string, string>[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key?.toString() === poisonKey) {
          dead.push(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])));
        }
      },
    });
    for (let i = 0; i < 100 && dead.length < 4; i++) await sleep(100);
    await consumer.disconnect();
    assert.equal(dead.length, 4);
    assert.equal(dead[0]!['vdet-error-code'], 'VDET_MESSAGE_INVALID');
    assert.equal(dead[0]!['vdet-source-topic'], topics.chunks);
  });

  test('SIGTERM every role mid-job and restart them all', async () => {
    const id = await submitJob(cluster.api, TOUR_VIDEO);
    await midJob(cluster.api, id);
    const started = Date.now();
    await cluster.stopAll('SIGTERM');
    assert.ok(Date.now() - started < 60_000, 'roles exit within the shutdown bound');
    counts.faults++;
    await cluster.start(['merger', 'detector', 'processor', 'api']);
    await assertSameAsBaseline(cluster.api, id);
  });

  test("reset the merger's offsets to the beginning: a full replay leaves MongoDB unchanged", async () => {
    const snapshot = async () => {
      const mongo = new MongoClient(stack.config.mongo.url);
      await mongo.connect();
      try {
        const db = mongo.db(stack.config.mongo.database);
        const frames = await db.collection('frames').find({}, { projection: { _id: 1, detections: 1 } }).sort({ _id: 1 }).toArray();
        const jobs = await db.collection('jobs').find({}, { projection: { _id: 1, status: 1, counts: 1, 'progress.framesDone': 1 } }).sort({ _id: 1 }).toArray();
        return JSON.stringify({ frames, jobs });
      } finally {
        await mongo.close();
      }
    };
    const prefix = stack.config.kafka.topicPrefix;
    const topics = topicNames(prefix);
    const before = await snapshot();
    await cluster.stop('merger', 'SIGTERM');
    const admin = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: groupId(prefix, 'merger'), topic: topics.detections, earliest: true });
    await admin.disconnect();
    counts.faults++;
    await cluster.start(['merger']);
    for (let i = 0; i < 600 && (await consumerLag(stack.config, groupId(prefix, 'merger'), topics.detections)) > 0; i++) await sleep(200);
    assert.equal(await snapshot(), before);
  });
});
