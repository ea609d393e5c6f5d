import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { boxIou } from '../../src/vision/yolox.js';
import type { Config } from '../../src/platform/config.js';
import { allDetections, getJob, waitForJob, type FrameItem, type Target } from './client.js';
import type { RunningRole } from './roles.js';

/** What the fault and cluster suites count across their scenarios: faults injected, jobs checked, frames lost or stored twice. */
export interface FaultCounts {
  faults: number;
  jobs: number;
  lost: number;
  duplicated: number;
}

/** The frame numbers of a job's stored results, one per stored result (a frame stored twice appears twice). */
export async function storedFrameNumbers(db: Db, jobId: string): Promise<number[]> {
  return (await db.collection('frames').find({ jobId }, { projection: { data: 1 } }).toArray())
    .flatMap((c) => (JSON.parse(c['data'] as string) as { frame: number }[]).map((f) => f.frame));
}

/** A role's log lines worth reading after a stall: warnings and worse, and Kafka group events (the last 40). */
export function notableLines(output: string): string {
  const notable = output.split('\n').filter((line) => /"level":(4|5|6)0|kafka|group|KafkaJS/.test(line));
  return notable.slice(-40).map((line) => line.slice(0, 600)).join('\n');
}

/**
 * Waits until the job has made some progress but is not finished: the moment to inject a fault. `roles`: the suite's
 * roles by name, whose exit fails it at once and whose logs a job that never got going shows; `timeoutMs`: how long it polls, at least.
 */
export async function midJob(api: Target, id: string, roles: () => ReadonlyMap<string, RunningRole>, atLeast = 40, timeoutMs = 60_000): Promise<void> {
  let job: Awaited<ReturnType<typeof getJob>> | undefined;
  for (let i = 0; i < timeoutMs / 100; i++) { // polls every 100 ms (plus the request's own time)
    job = await getJob(api, id).catch(() => undefined);
    if (job && job.status === 'running' && job.progress.framesDone >= atLeast) return;
    if (job && (job.status === 'done' || job.status === 'failed')) assert.fail(`job ended (${job.status}) before the fault`);
    const exited = [...roles()].find(([, role]) => role.child.exitCode !== null || role.child.signalCode !== null);
    if (exited) assert.fail(`the ${exited[0]} exited (${exited[1].child.exitCode ?? exited[1].child.signalCode}) while no fault was injected:\n${notableLines(exited[1].output())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = [...roles()].map(([name, role]) => `--- ${name} (warnings, errors, kafka events):\n${notableLines(role.output())}`);
  assert.fail(`the job never got going (status ${job?.status ?? 'unknown'}, ${job?.progress.framesDone ?? 0} frames done)\n${logs.join('\n')}`);
}

/**
 * Waits for a job and compares its stored results with a fault-free run's: done, the same frames, labels and boxes
 * (and track ids with `trackIds`), and exactly one stored result per frame in MongoDB. Counts into `counts`.
 */
export async function assertMatchesBaseline(
  api: Target, id: string, baseline: readonly FrameItem[], mongo: Config['mongo'], counts: FaultCounts,
  options: { trackIds?: boolean; roles?: () => ReadonlyMap<string, RunningRole> } = {},
): Promise<void> {
  const job = await waitForJob(api, id, 600_000).catch(async (error: Error) => {
    // A job that never ends: what it reached and what the roles said are the whole diagnosis.
    const last = await getJob(api, id).catch(() => undefined);
    const logs = [...(options.roles?.() ?? [])].map(([name, role]) => `--- ${name} (warnings, errors, kafka events):\n${notableLines(role.output())}`);
    throw new Error(`${error.message} (progress ${JSON.stringify(last?.progress)})\n${logs.join('\n')}`);
  });
  counts.jobs++;
  assert.equal(job.status, 'done', JSON.stringify(job.error));
  const frames = await allDetections(api, id);
  const client = new MongoClient(mongo.url);
  await client.connect();
  try {
    const stored = await storedFrameNumbers(client.db(mongo.database), id);
    const distinct = new Set(stored).size;
    counts.duplicated += stored.length - distinct;
    counts.lost += baseline.length - distinct;
    assert.equal(stored.length, distinct, 'duplicated results');
  } finally {
    await client.close();
  }
  assert.equal(frames.length, baseline.length, 'frames lost');
  for (const [i, frame] of frames.entries()) {
    const expected = baseline[i]!;
    assert.equal(frame.frame, expected.frame);
    assert.deepEqual(frame.detections.map((d) => d.label), expected.detections.map((d) => d.label), `frame ${i}`);
    frame.detections.forEach((d, j) => assert.ok(boxIou(d.box, expected.detections[j]!.box) > 0.99, `frame ${i} box ${j}`));
    if (options.trackIds) {
      // The merger tracks from its state in MongoDB: a fault anywhere in a tracking step changes no id.
      const ids = (f: FrameItem) => f.detections.map((d) => d.trackId);
      assert.deepEqual(ids(frame), ids(expected), `frame ${i}: track ids`);
    }
  }
  if (options.trackIds) assert.ok(baseline.some((f) => f.detections.some((d) => d.trackId !== undefined)), 'the baseline is tracked');
}
