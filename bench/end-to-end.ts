import { randomBytes } from 'node:crypto';
import { openAsBlob, readFileSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { topicNames } from '../src/contracts/topics.js';
import { allDetections, type FrameItem } from '../tests/helpers/client.js';
import { imagePath } from '../tests/helpers/paths.js';
import { apiUrl, startRole, type RunningRole } from '../tests/helpers/roles.js';
import { createTestEnv, type TestEnv } from '../tests/helpers/stack.js';
import { cpuSecondsBetween, sampleCpu, stackPids } from './cpu.js';
import { detectionTimes } from './kafka-timeline.js';

/**
 * The four roles as four processes on the local stack, each run with its own topics, database and Redis prefix.
 * A still image warms them up (consumer groups joined, model loaded), then the video is uploaded and timed from the
 * upload's first byte to the job's `finishedAt`. Where the time went is read from outside: job timestamps in
 * MongoDB, the processor's `decodeMs` log field, the detector's output timestamps on the detections topic and each
 * chunk's `mergedAt`.
 */
export interface EndToEndResult {
  jobId: string;
  frames: number;
  chunks: number;
  videoMs: number;
  e2eMs: number;
  /** Peak resident memory (VmHWM) of each role's process, MiB; ffmpeg, a child of the processor, not included. */
  rssMb: Record<string, number>;
  /** CPU seconds each role, the processor's children (ffmpeg) and each stack service used during the job. */
  cpuSeconds: Record<string, number>;
  /** Consecutive phases: their sum is e2eMs. */
  timeline: { uploadMs: number; queueMs: number; fetchProbeMs: number; decodeAndDetectMs: number; mergeTailMs: number };
  /** Processor: ffmpeg decode + letterbox + chunk publishing (its `decodeMs`); undefined when the log line is absent. */
  decodeMs: number | undefined;
  /** Detector results: frames/s between its first and last result, and while / after the processor ran. */
  detector: { firstResultMs: number; tailAfterDecodeMs: number; steadyFps: number; whileDecodingFps: number; afterDecodingFps: number; source: 'kafka' | 'mongo' };
  merge: { meanChunkLagMs: number; maxChunkLagMs: number };
  /** Every frame's detections, read back through the api. */
  results: FrameItem[];
}

const ROLES = ['merger', 'detector', 'processor', 'api'] as const;

interface Api { base: string; key: string }

async function submit(api: Api, file: string): Promise<string> {
  const form = new FormData();
  form.append('file', await openAsBlob(file), path.basename(file));
  const response = await fetch(`${api.base}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${api.key}` } });
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

async function waitForEnd(api: Api, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${api.base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${api.key}` } });
    const job = (await response.json()) as { status?: string; error?: unknown };
    if (job.status === 'done') return;
    if (job.status === 'failed' || !response.ok) throw new Error(`job ${id}: ${response.status} ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} not done after ${timeoutMs} ms`);
}

function peakRssMb(pid: number | undefined): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** The processor's "job split into chunks" line: when it finished and its decodeMs. */
function splitLine(log: string, jobId: string): { at: number; decodeMs: number } | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"job split into chunks"') || !line.includes(jobId)) continue;
    const entry = JSON.parse(line) as { time: string | number; decodeMs: number };
    return { at: new Date(entry.time).getTime(), decodeMs: entry.decodeMs };
  }
  return undefined;
}

interface JobTimes { _id: string; createdAt: Date; startedAt: Date; finishedAt: Date; progress: { framesDone: number }; media: { durationMs: number } }
interface ChunkTimes { chunk: number; frames: number; mergedAt: number; /** When the detector published its result. */ at: number }

/** What MongoDB and the detections topic say about a finished job; chunks sorted by when the detector finished them. */
async function readJobTimes(config: TestEnv['config'], jobId: string) {
  const mongo = await new MongoClient(config.mongo.url).connect();
  try {
    const db = mongo.db(config.mongo.database);
    const job = await db.collection<JobTimes>('jobs').findOne({ _id: jobId });
    if (!job?.finishedAt) throw new Error(`job ${jobId} has no finishedAt`);
    const merged = await db.collection('job_chunks').find({ jobId }, { projection: { chunk: 1, frames: 1, mergedAt: 1 } }).toArray();
    const kafka = await detectionTimes(config, topicNames(config.kafka.topicPrefix).detections, jobId, merged.length);
    const source: 'kafka' | 'mongo' = kafka.size === merged.length ? 'kafka' : 'mongo'; // mongo: mergedAt stands in
    const chunks: ChunkTimes[] = merged.map((c) => {
      const mergedAt = (c['mergedAt'] as Date).getTime();
      const chunk = c['chunk'] as number;
      return { chunk, frames: c['frames'] as number, mergedAt, at: source === 'kafka' ? kafka.get(chunk)! : mergedAt };
    });
    return { job, chunks: chunks.sort((a, b) => a.at - b.at), source };
  } finally {
    await mongo.close();
  }
}

type Measured = Pick<EndToEndResult, 'jobId' | 'rssMb' | 'cpuSeconds' | 'results'> & { t0: number; processorLog: string };

function analyse(m: Measured, { job, chunks, source }: Awaited<ReturnType<typeof readJobTimes>>): EndToEndResult {
  const first = chunks[0]!;
  const last = chunks.at(-1)!;
  const split = splitLine(m.processorLog, m.jobId);
  const decodeStart = split ? split.at - split.decodeMs : job.startedAt.getTime();
  const decodeEnd = split?.at ?? decodeStart;
  const frames = job.progress.framesDone;
  const framesWhileDecoding = chunks.filter((c) => c.at <= decodeEnd).reduce((n, c) => n + c.frames, 0);
  const lags = chunks.map((c) => c.mergedAt - c.at);
  return {
    jobId: m.jobId,
    frames,
    chunks: chunks.length,
    videoMs: job.media.durationMs,
    e2eMs: job.finishedAt.getTime() - m.t0,
    rssMb: m.rssMb,
    cpuSeconds: m.cpuSeconds,
    timeline: {
      uploadMs: job.createdAt.getTime() - m.t0,
      queueMs: job.startedAt.getTime() - job.createdAt.getTime(),
      fetchProbeMs: decodeStart - job.startedAt.getTime(),
      decodeAndDetectMs: last.at - decodeStart,
      mergeTailMs: job.finishedAt.getTime() - last.at,
    },
    decodeMs: split?.decodeMs,
    detector: {
      firstResultMs: first.at - decodeStart,
      tailAfterDecodeMs: last.at - decodeEnd,
      steadyFps: (frames - first.frames) / ((last.at - first.at) / 1000),
      whileDecodingFps: framesWhileDecoding / ((decodeEnd - decodeStart) / 1000),
      afterDecodingFps: (frames - framesWhileDecoding) / ((last.at - decodeEnd) / 1000),
      source,
    },
    merge: { meanChunkLagMs: lags.reduce((a, b) => a + b, 0) / lags.length, maxChunkLagMs: Math.max(...lags) },
    results: m.results,
  };
}

export async function runEndToEnd(video: string, timeoutMs: number, env: Record<string, string> = {}): Promise<EndToEndResult> {
  const key = `vdet_bench_${randomBytes(12).toString('hex')}`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: key, ...env });
  const roles: RunningRole[] = [];
  try {
    for (const role of ROLES) roles.push(startRole(role, stack.env));
    const api: Api = { base: await apiUrl(roles.find((r) => r.role === 'api')!), key };
    for (let i = 0; !(await fetch(`${api.base}/readyz`).then((r) => r.ok, () => false)); i++) {
      if (i > 300) throw new Error('the api did not become ready in 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitForEnd(api, await submit(api, imagePath('dog')), 120_000); // warm-up

    const pids = { ...Object.fromEntries(roles.map((r) => [r.role, r.child.pid])), ...stackPids() };
    const cpuBefore = sampleCpu(pids);
    const t0 = Date.now();
    const jobId = await submit(api, video);
    await waitForEnd(api, jobId, timeoutMs);
    const cpuSeconds = cpuSecondsBetween(cpuBefore, sampleCpu(pids));
    const measured: Measured = {
      jobId,
      t0,
      cpuSeconds,
      results: await allDetections(api, jobId),
      rssMb: Object.fromEntries(roles.map((r) => [r.role, peakRssMb(r.child.pid)])),
      processorLog: roles.find((r) => r.role === 'processor')!.output(),
    };
    return analyse(measured, await readJobTimes(stack.config, jobId));
  } catch (error) {
    for (const role of roles) console.error(`--- ${role.role} (last lines)\n${role.output().slice(-2000)}`);
    throw error;
  } finally {
    for (const role of roles) await role.stop();
    await stack.cleanup();
  }
}
