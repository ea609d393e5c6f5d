import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { boxIou } from '../../src/detector/yolox.js';
import type { Config } from '../../src/shared/config.js';
import { allDetections, waitForJob, type FrameItem, type Target } from './client.js';

/** What the fault and cluster suites count across their scenarios: faults injected, jobs checked, frames lost or stored twice. */
export interface FaultCounts {
  faults: number;
  jobs: number;
  lost: number;
  duplicated: number;
}

/**
 * Waits for a job and compares its stored results with a fault-free run's: done, the same frames, labels and boxes
 * (and track ids with `trackIds`), and exactly one stored result per frame in MongoDB. Counts into `counts`.
 */
export async function assertMatchesBaseline(
  api: Target, id: string, baseline: readonly FrameItem[], mongo: Config['mongo'], counts: FaultCounts, options: { trackIds?: boolean } = {},
): Promise<void> {
  const job = await waitForJob(api, id, 600_000);
  counts.jobs++;
  assert.equal(job.status, 'done', JSON.stringify(job.error));
  const frames = await allDetections(api, id);
  const client = new MongoClient(mongo.url);
  await client.connect();
  try {
    const stored = (await client.db(mongo.database).collection('frames').find({ jobId: id }, { projection: { data: 1 } }).toArray())
      .flatMap((c) => (JSON.parse(c['data'] as string) as { frame: number }[]).map((f) => ({ frame: f.frame })));
    const distinct = new Set(stored.map((f) => f.frame)).size;
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
