import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { StreamResult } from '../src/contracts/stream.js';
import { topicNames } from '../src/contracts/topics.js';
import { registerStream, submitJob, waitForJob, type Target } from '../tests/helpers/client.js';
import { storedFrameNumbers } from '../tests/helpers/baseline.js';
import { jpegFramesOf } from '../tests/helpers/jpeg-frames.js';
import { metricSum } from '../tests/helpers/metrics.js';
import { TOUR_VIDEO } from '../tests/helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../tests/helpers/roles.js';
import { createTestEnv } from '../tests/helpers/stack.js';
import { soakVerdict, writeSoakReport, type Sample } from './soak-report.js';
import { numberArgument } from './args.js';

/**
 * npm run soak -- --minutes N (not in CI): a mixed load on the local stack for N minutes — a job every 30 s, cycling
 * through varied videos made from the tour video (sizes, lengths, frame rates, containers), and four lossless live
 * streams at 2 frames/s each — through the four roles as processes. Every 10 s it samples each role's RSS, event-loop
 * delay (p99), consumer lag and frames in flight; at the end it checks every job and stream frame stored exactly
 * once, and writes docs/soak.md (and docs/soak.svg) with the curves and the verdict.
 */
const MINUTES = numberArgument('minutes', 30);
const STREAMS = 4;
const STREAM_FPS = 2;
const KEY = `vdet_soak_${Date.now()}_0123456789abcdef`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The videos jobs cycle through, made once from the tour video. */
function soakVideos(dir: string): string[] {
  const make = (name: string, args: string[]) => {
    const out = path.join(dir, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', TOUR_VIDEO, ...args, out]);
    return out;
  };
  return [
    TOUR_VIDEO,
    make('small-10s.mp4', ['-t', '10', '-vf', 'scale=320:180', '-c:v', 'libx264', '-preset', 'veryfast']),
    make('hd-4s.mkv', ['-t', '4', '-vf', 'scale=1280:720', '-c:v', 'libx264', '-preset', 'veryfast']),
    make('12fps.webm', ['-t', '8', '-r', '12', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-b:v', '500k']),
  ];
}

/** A role's /metrics address, from its start-up log line. */
function metricsUrl(role: RunningRole): string {
  const url = /"url":"(http:\/\/[^"]+)"/.exec(role.output())?.[1];
  if (!url) throw new Error(`${role.role}: no url in its log`);
  return `${url}/metrics`;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}


async function main(): Promise<void> {
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TOPIC_PARTITIONS: '4' });
  const topics = topicNames(stack.config.kafka.topicPrefix);
  const roles = ['merger', 'detector', 'processor', 'api'].map((r) => startRole(r, stack.env));
  const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${stack.id}-soak-reader`, maxWaitTimeInMs: 100 });
  const videoDir = mkdtempSync(path.join(os.tmpdir(), 'vdet-soak-videos-'));
  const jobs: { id: string; video: string }[] = [];
  const results = new Map<string, number[]>();
  const samples: Sample[] = [];
  try {
    await waitStarted(roles);
    const api: Target = { base: await apiUrl(roles[3]!), key: KEY };
    const videos = soakVideos(videoDir);
    const frames = jpegFramesOf(TOUR_VIDEO, STREAM_FPS);
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: topics.results, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => {
      const r = StreamResult.decode(message.value);
      results.set(r.stream, [...(results.get(r.stream) ?? []), r.seq]);
    } });
    const streamIds = Array.from({ length: STREAMS }, (_, i) => `soak-${i}`);
    const tokens = new Map<string, string>();
    for (const id of streamIds) tokens.set(id, await registerStream(api, id, { policy: 'lossless' }));

    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const sent = new Map(streamIds.map((id) => [id, 0]));
    const cameras = streamIds.map(async (id) => {
      for (let seq = 0; Date.now() < end; seq++) {
        const at = started + (seq * 1000) / STREAM_FPS;
        if (at > Date.now()) await sleep(at - Date.now());
        await producer.send({ topic: topics.frames, messages: [{ key: id, value: frames[seq % frames.length]!, headers: { 'vdet-token': tokens.get(id)!, 'vdet-seq': String(seq), 'vdet-ts': String(Date.now()) } }] });
        sent.set(id, seq + 1);
      }
    });
    const uploads = (async () => {
      for (let n = 0; Date.now() < end; n++) {
        const video = videos[n % videos.length]!;
        jobs.push({ id: await submitJob(api, video), video: path.basename(video) });
        await sleep(Math.max(0, started + (n + 1) * 30_000 - Date.now()));
      }
    })();
    const sampler = (async () => {
      while (Date.now() < end + 120_000) {
        const sample: Sample = { t: (Date.now() - started) / 1000, rssMiB: {}, loopDelayMs: {}, lag: 0, inFlight: 0 };
        for (const role of roles) {
          const text = await (await fetch(metricsUrl(role))).text();
          sample.rssMiB[role.role] = rssMiB(role.child.pid!);
          sample.loopDelayMs[role.role] = metricSum(text, 'vdet_nodejs_eventloop_lag_p99_seconds') * 1000;
          sample.lag += metricSum(text, 'vdet_consumer_lag');
          sample.inFlight += metricSum(text, 'vdet_frames_in_flight');
        }
        samples.push(sample);
        const last = samples.at(-1)!;
        console.log(`t=${last.t.toFixed(0)}s rss ${JSON.stringify(Object.fromEntries(Object.entries(last.rssMiB).map(([k, v]) => [k, Math.round(v)])))} lag ${last.lag} in flight ${last.inFlight} jobs ${jobs.length}`);
        if (Date.now() > end && last.lag === 0 && last.inFlight === 0) break;
        await sleep(10_000);
      }
    })();
    await Promise.all([...cameras, uploads]);
    await sampler;

    // Outcome: every job done with each frame stored once; every stream frame stored once, results in order.
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    const db = mongo.db(stack.config.mongo.database);
    let lost = 0;
    let duplicated = 0;
    const failed: string[] = [];
    for (const job of jobs) {
      const view = await waitForJob(api, job.id, 600_000);
      if (view.status !== 'done') failed.push(`${job.id} (${job.video}): ${view.status} ${JSON.stringify(view.error)}`);
      const stored = await storedFrameNumbers(db, job.id);
      const distinct = new Set(stored).size;
      duplicated += stored.length - distinct;
      lost += view.progress.framesTotal - distinct;
    }
    let outOfOrder = 0;
    for (const id of streamIds) {
      for (let i = 0; i < 600 && (await db.collection('stream_frames').countDocuments({ stream: id })) < sent.get(id)!; i++) await sleep(500);
      const seqs = (await db.collection('stream_frames').find({ stream: id }, { projection: { seq: 1 } }).toArray()).map((f) => f['seq'] as number);
      lost += sent.get(id)! - new Set(seqs).size;
      duplicated += seqs.length - new Set(seqs).size;
      const firsts = [...new Set(results.get(id) ?? [])];
      outOfOrder += firsts.filter((seq, i) => i > 0 && seq < firsts[i - 1]!).length;
    }
    await mongo.close();
    const totals = {
      minutes: MINUTES, jobs: jobs.length, failed,
      streamFrames: [...sent.values()].reduce((a, b) => a + b, 0), lost, duplicated, outOfOrder,
    };
    const verdict = soakVerdict(samples, totals);
    writeSoakReport('docs', samples, totals, verdict);
    console.log(JSON.stringify({ ...totals, verdict }));
    if (!verdict.pass) process.exitCode = 1;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    for (const role of roles) await role.stop();
    rmSync(videoDir, { recursive: true, force: true });
    await stack.cleanup();
  }
}

await main();
