import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { submitJob, waitForJob, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/** The detector on the real stack: batches mix jobs, and memory stays bounded however far behind it is. */
describe('detector batching and backpressure', () => {
  const KEY = `vdet_batching_${Date.now()}_0123456789abcdef`;
  const CHUNKS_IN_FLIGHT = 3;
  const CHUNK_FRAMES = 4; // smaller than a batch: a batch fills from several chunks
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TOPIC_PARTITIONS: '8',
    VDET_CHUNKS_IN_FLIGHT: String(CHUNKS_IN_FLIGHT), VDET_CHUNK_FRAMES: String(CHUNK_FRAMES), VDET_BATCH_MAX: '8', VDET_CPU_BATCH_MAX: '8', VDET_BATCH_WAIT_MS: '20', VDET_DEVICES: 'cpu',
    VDET_WIRE_FORMAT: 'raw', // chunks of 4 decoded frames (GOP chunks hold whole GOPs)
  });
  const roles: RunningRole[] = [];
  let api: Target;
  let detectorMetrics = '';

  before(async () => {
    roles.push(startRole('merger', stack.env), startRole('detector', { ...stack.env, VDET_LOG_LEVEL: 'debug' }), startRole('processor', stack.env), startRole('api', stack.env));
    await waitStarted(roles);
    api = { base: await apiUrl(roles[3]!), key: KEY };
    detectorMetrics = /"url":"(http:\/\/[^"]+)","msg":"metrics listening"/.exec(roles[1]!.output())![1]!;
  });

  after(async () => {
    for (const role of roles) await role.stop();
    await stack.cleanup();
  });

  test('with several jobs in flight, batches hold frames of more than one job; frames in memory stay bounded', async () => {
    // Three jobs on eight partitions: at least two land on different partitions, so their chunks are in flight together.
    const ids = await Promise.all([1, 2, 3].map(() => submitJob(api, TOUR_VIDEO)));
    let maxInFlight = 0;
    const sampling = (async () => {
      for (let done = false; !done;) {
        const text = await (await fetch(`${detectorMetrics}/metrics`)).text();
        maxInFlight = Math.max(maxInFlight, Number(/^vdet_frames_in_flight (\d+)/m.exec(text)?.[1] ?? 0));
        done = (await Promise.all(ids.map((id) => fetch(`${api.base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json() as Promise<{ status: string }>))))
          .every((j) => j.status === 'done' || j.status === 'failed');
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    for (const id of ids) assert.equal((await waitForJob(api, id)).status, 'done');
    await sampling;
    const batches = roles[1]!.output().split('\n').filter((l) => l.includes('"msg":"batch"')).map((l) => JSON.parse(l) as { frames: number; queues: string[] });
    const mixed = batches.filter((b) => b.queues.length > 1);
    assert.ok(batches.length > 0);
    assert.ok(mixed.length > 0, `no batch mixed jobs among ${batches.length}`);
    assert.ok(mixed.every((b) => b.queues.every((q) => ids.includes(q))));
    assert.ok(maxInFlight > 0, 'the gauge was never seen above 0');
    assert.ok(maxInFlight <= CHUNKS_IN_FLIGHT * CHUNK_FRAMES, `${maxInFlight} frames in flight, bound ${CHUNKS_IN_FLIGHT * CHUNK_FRAMES}`);
  });
});
