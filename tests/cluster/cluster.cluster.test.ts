import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../src/platform/config.js';
import { StreamResult } from '../../src/contracts/stream.js';
import { topicNames } from '../../src/contracts/topics.js';
import { assertMatchesBaseline, midJob as waitMidJob, type FaultCounts } from '../helpers/baseline.js';
import { allDetections, allStreamDetections, authHeaders, registerStream, submitJob, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { metricSum } from '../helpers/metrics.js';
import { TestNetwork, type TestHost } from '../helpers/netns.js';
import { imagePath, MODEL_PATH, SHARED, TOUR_VIDEO } from '../helpers/paths.js';
import { compareToReference, loadReference } from '../helpers/reference.js';
import { apiUrl, assertRunning, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';

/**
 * The cluster suite (npm run test:cluster): every role on a host of its own — network namespaces on one machine
 * (tests/helpers/netns.ts), each with its own /tmp and working directory — and the data services (Kafka, FerretDB,
 * Redis) on a data host. Roles reach each other only through the addresses their configuration gives them. Faults
 * are real: a host's processes killed at once, a host's cable pulled, the broker restarted. Each scenario ends with
 * every job done and every result stored exactly once, compared with a fault-free run.
 */
const ROOT = process.cwd();
const KEY = `vdet_cluster_${Date.now()}_0123456789abcdef`;
const counts: FaultCounts = { faults: 0, jobs: 0, lost: 0, duplicated: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Per role: where its /metrics answers (the api on its HTTP port). */
const METRICS_PORT: Record<string, number> = { api: 8080, processor: 9101, detector: 9102, merger: 9103 };

class Cluster {
  readonly network = TestNetwork.create([ROOT, SHARED]);
  readonly roles = new Map<string, { host: TestHost; role: RunningRole; name: string }>();
  data!: TestHost;
  dataEnv: Record<string, string> = {};
  env: Record<string, string> = {};

  async startData(): Promise<void> {
    this.data = await this.network.addHost('data');
    this.dataEnv = { VDET_STACK_DIR: '/tmp/work/.stack', VDET_STACK_ADDRESS: this.data.address };
    this.stack('up');
    const at = this.data.address;
    this.env = {
      KAFKA_BROKERS: `${at}:9092`, MONGO_URL: `mongodb://${at}:27017/`, REDIS_URL: `redis://${at}:6379`,
      VDET_MODEL: realpathSync(MODEL_PATH), VDET_BOOTSTRAP_KEY: KEY, VDET_LOG_LEVEL: 'info', VDET_HTTP_PORT: '8080',
      VDET_TOPIC_PARTITIONS: '6', VDET_CHUNK_FRAMES: '8', VDET_DEVICES: 'cpu:1',
      VDET_WIRE_FORMAT: 'raw', // 8-frame chunks, 50 a job, spread over every detector host (the tour has only 8 GOPs)
      VDET_RATE_LIMIT_PER_MIN: '1000000', VDET_RATE_LIMIT_PER_ADDRESS_PER_MIN: '1000000',
    };
  }

  /** scripts/stack.sh on the data host (its own .stack under its private /tmp). */
  stack(...args: string[]): void {
    this.data.run('bash', [`${ROOT}/scripts/stack.sh`, ...args], this.dataEnv, 600_000);
  }

  get config() {
    return loadConfig(this.env);
  }

  /** New hosts, one role process on each: `[host name, role]`. */
  async start(entries: [string, string][]): Promise<void> {
    const started: RunningRole[] = [];
    for (const [name, role] of entries) {
      const host = await this.network.addHost(name);
      const running = startRole(role, { ...this.env, VDET_HTTP_HOST: host.address }, (command, args, env) => host.spawn(command, args, env));
      this.roles.set(name, { host, role: running, name: role });
      started.push(running);
    }
    await waitStarted(started);
  }

  api(name: string): Target {
    return { base: `http://${this.roles.get(name)!.host.address}:8080`, key: KEY };
  }

  /** The host dies: every process on it killed at once, its namespace torn down. */
  kill(name: string): void {
    this.network.destroyHost(name);
    this.roles.delete(name);
  }

  /** A counter summed over its label sets, from a role host's /metrics. */
  async metric(name: string, metric: string, labels = ''): Promise<number> {
    const entry = this.roles.get(name)!;
    const text = await (await fetch(`http://${entry.host.address}:${METRICS_PORT[entry.name]}/metrics`)).text();
    return metricSum(text, metric, labels);
  }

  hostsOf(role: string): string[] {
    return [...this.roles].filter(([, e]) => e.name === role).map(([name]) => name);
  }

  /** The role processes by host, for a stalled job's failure. */
  processes(): ReadonlyMap<string, RunningRole> {
    return new Map([...this.roles].map(([name, e]) => [name, e.role]));
  }

  destroy(): void {
    this.network.destroy();
  }
}

const cluster = new Cluster();
let baseline: FrameItem[] = [];
const assertSameAsBaseline = (api: Target, id: string) => assertMatchesBaseline(api, id, baseline, cluster.config.mongo, counts, { trackIds: true, roles: () => cluster.processes() });

/** Waits until the job has made some progress but is not finished (up to 2 min: nine roles share two cores). */
const midJob = (api: Target, id: string) => waitMidJob(api, id, () => cluster.processes(), 40, 120_000);

describe('cluster suite: every role on its own host', () => {
  before(async () => {
    await cluster.startData();
    await cluster.start([
      ['merger-1', 'merger'], ['merger-2', 'merger'],
      ['detector-1', 'detector'], ['detector-2', 'detector'], ['detector-3', 'detector'],
      ['processor-1', 'processor'], ['processor-2', 'processor'],
    ]);
    await cluster.start([['api-a', 'api'], ['api-b', 'api']]);
    assert.equal(await apiUrl(cluster.roles.get('api-a')!.role), cluster.api('api-a').base);
    const id = await submitJob(cluster.api('api-a'), TOUR_VIDEO);
    assert.equal((await waitForJob(cluster.api('api-a'), id)).status, 'done');
    baseline = await allDetections(cluster.api('api-a'), id);
    assert.equal(baseline.length, 400);
  });

  after(() => {
    cluster.destroy();
    console.log(`cluster suite: ${JSON.stringify(counts)}`);
  });

  test('an upload through api host A, its progress over SSE on api host B, its results read on both', async () => {
    const [a, b] = [cluster.api('api-a'), cluster.api('api-b')];
    const id = await submitJob(a, TOUR_VIDEO);
    const response = await fetch(`${b.base}/v1/jobs/${id}/events`, { headers: authHeaders(b) });
    assert.equal(response.status, 200);
    const events = [...(await response.text()).matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ type: m[1]!, data: JSON.parse(m[2]!) as { framesDone?: number } }));
    assert.equal(events.at(-1)?.type, 'done');
    const progress = events.filter((e) => e.type === 'progress').map((e) => e.data.framesDone!);
    assert.ok(progress.length >= 2, `progress events on B: ${progress.join(',')}`);
    assert.deepEqual(progress, [...progress].sort((x, y) => x - y), 'progress only grows');
    await assertSameAsBaseline(a, id);
    await assertSameAsBaseline(b, id);
  });

  test('a detector host dies mid-job (its processes killed at once, its namespace torn down) and another joins', async () => {
    const api = cluster.api('api-a');
    const id = await submitJob(api, TOUR_VIDEO);
    await midJob(api, id);
    cluster.kill('detector-3');
    counts.faults++;
    await cluster.start([['detector-4', 'detector']]);
    await assertSameAsBaseline(api, id);
  });

  test('work spreads: every detector host runs some of a long job, every merger host merges some jobs', async () => {
    const api = cluster.api('api-b');
    const detectors = cluster.hostsOf('detector');
    const mergers = cluster.hostsOf('merger');
    const batches = async () => Promise.all(detectors.map((h) => cluster.metric(h, 'vdet_batch_size_count')));
    const merged = async () => Promise.all(mergers.map((h) => cluster.metric(h, 'vdet_frames_merged_total', 'source="job"')));
    const [batchesBefore, mergedBefore] = [await batches(), await merged()];
    const id = await submitJob(api, TOUR_VIDEO);
    await assertSameAsBaseline(api, id);
    const ran = (await batches()).map((n, i) => n - batchesBefore[i]!);
    assert.ok(ran.every((n) => n > 0), `model runs per detector host (${detectors.join(', ')}): ${ran.join(', ')}`);
    // A job's results are merged in order by the merger that owns its partition (key: the job id); jobs spread.
    for (let jobs = 0; jobs < 16; jobs++) {
      if ((await merged()).every((n, i) => n > mergedBefore[i]!)) break;
      const image = await submitJob(api, imagePath('dog'));
      assert.equal((await waitForJob(api, image)).status, 'done');
    }
    const mergedDelta = (await merged()).map((n, i) => n - mergedBefore[i]!);
    assert.ok(mergedDelta.every((n) => n > 0), `frames merged per merger host (${mergers.join(', ')}): ${mergedDelta.join(', ')}`);
  });

  test('a merger host is cut off from the network for 20 s (its cable out) and comes back', async () => {
    const api = cluster.api('api-a');
    const mergers = cluster.hostsOf('merger');
    const merged = async () => Promise.all(mergers.map((h) => cluster.metric(h, 'vdet_frames_merged_total', 'source="job"')));
    const before = await merged();
    const id = await submitJob(api, TOUR_VIDEO);
    await midJob(api, id);
    // The job's merger (the one whose count moved) is the one to cut off.
    const now = await merged();
    const merging = mergers.filter((_, i) => before[i]! < now[i]!);
    assert.equal(merging.length, 1, `one merger merges the job: ${mergers.join(', ')}`);
    const cut = merging[0]!;
    cluster.network.setConnected(cut, false);
    counts.faults++;
    await sleep(20_000);
    cluster.network.setConnected(cut, true);
    await assertSameAsBaseline(api, id);
    assertRunning([cluster.roles.get(cut)!.role]);
  });

  test("the data host's Kafka restarts while a stream and a job run: the stream keeps its order and loses nothing", async () => {
    const api = cluster.api('api-b');
    const streamId = 'cam-cluster';
    const token = await registerStream(api, streamId, { policy: 'lossless' });
    const topics = topicNames(cluster.config.kafka.topicPrefix);
    const kafka = new Kafka({ brokers: [...cluster.config.kafka.brokers], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    const producer = kafka.producer();
    await producer.connect();
    const frame = readFileSync(imagePath('person'));
    const FRAMES = 120;
    let retried = 0;
    // The camera: 10 frames a second, each sent until the broker takes it (as a camera with a buffer would).
    const camera = (async () => {
      for (let seq = 0; seq < FRAMES; seq++) {
        for (;;) {
          try {
            await producer.send({ topic: topics.frames, messages: [{ key: streamId, value: frame, headers: { 'vdet-token': token, 'vdet-seq': String(seq), 'vdet-ts': String(Date.now()) } }] });
            break;
          } catch {
            retried++;
            await sleep(500);
          }
        }
        await sleep(100);
      }
    })();
    const id = await submitJob(api, TOUR_VIDEO);
    await midJob(api, id);
    await sleep(2_000);
    cluster.stack('stop', 'kafka');
    counts.faults++;
    await sleep(3_000);
    cluster.stack('up');
    await camera;
    await producer.disconnect();
    assert.ok(retried > 0, 'the camera saw the broker go');
    await assertSameAsBaseline(api, id);

    {
      const deadline = Date.now() + 180_000;
      let stored = await allStreamDetections(api, streamId);
      while (stored.length < FRAMES && Date.now() < deadline) {
        await sleep(500);
        stored = await allStreamDetections(api, streamId);
      }
      assert.deepEqual(stored.map((f) => f.seq), Array.from({ length: FRAMES }, (_, i) => i), 'every frame stored once');
      const reference = loadReference('person');
      for (const f of stored) assert.deepEqual(compareToReference(f.detections as never, reference.detections), [], `seq ${f.seq}`);
      // The same picture every frame: the same objects, so the same track ids from first to last, across the restart.
      const ids = (f: (typeof stored)[number]) => f.detections.map((d) => d.trackId);
      assert.ok(ids(stored[1]!).some((id) => id !== undefined), 'the stream is tracked');
      for (const f of stored.slice(1)) assert.deepEqual(ids(f), ids(stored[1]!), `seq ${f.seq}: track ids`);
    }
    // vdet.results is at-least-once (consumers dedupe by seq): each frame's first result comes in sequence order.
    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId: `cluster-results-${Date.now()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.results, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => {
      const result = StreamResult.decode(message.value);
      if (result.stream === streamId && !seen.includes(result.seq)) seen.push(result.seq);
    } });
    for (let i = 0; i < 600 && seen.length < FRAMES; i++) await sleep(100);
    await consumer.disconnect();
    assert.deepEqual(seen, Array.from({ length: FRAMES }, (_, i) => i), 'results in order, none lost');
  });
});
