import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { boxIou } from '../../src/vision/yolox.js';
import type { StreamResult } from '../../src/contracts/stream.js';
import { allDetections, type FrameItem, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, runCli, startRole, waitStarted, type CliRun, type RunningRole } from '../helpers/roles.js';
import { createTestEnv, type TestEnv } from '../helpers/stack.js';

/**
 * The client commands as a user runs them, the built cli as a child process with pipes (no terminal), against
 * `vdet all` on the local stack: `vdet submit`, `jobs`, `results` over HTTP, `vdet push` through Kafka.
 */
const CLI = path.resolve('dist/src/cli.js');
const KEY = 'vdet_client_test_key_0123456789abcdef';

function vdet(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runCli(args, env);
}

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const jsonLines = <T>(text: string): T[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
const strip = (f: FrameItem) => ({ frame: f.frame, ptsMs: f.ptsMs, detections: f.detections });

describe('vdet submit, jobs, results, push against a running vdet', { timeout: 600_000 }, () => {
  let stack: TestEnv;
  let service: RunningRole;
  let target: Target;
  let env: Record<string, string>;
  let dir = '';

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: npm run build first`);
    stack = createTestEnv({ VDET_BOOTSTRAP_KEY: KEY, VDET_LOG_LEVEL: 'info' });
    service = startRole('all', stack.env);
    await waitStarted([service]);
    target = { base: await apiUrl(service), key: KEY };
    env = { VDET_API_URL: target.base, VDET_API_KEY: KEY, VDET_TOPIC_PREFIX: stack.env['VDET_TOPIC_PREFIX']! };
    dir = await mkdtemp(path.join(os.tmpdir(), 'vdet-client-test-'));
  });

  after(async () => {
    await service?.stop();
    await stack?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  let jobId = '';
  let written: (FrameItem & { job: string; file: string })[] = [];

  test('submit --wait --out: the results file equals the api\'s detections, the table its summary, nothing on stderr', async () => {
    const out = path.join(dir, 'tour.jsonl');
    const run = await vdet(['submit', TOUR_VIDEO, '--fps', '5', '--wait', '--out', out], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'no progress bar or log line without a terminal');
    const done = /: job ([0-9a-f-]{36}) done, 80 frames, (\d+) detections/.exec(run.stdout);
    assert.ok(done, run.stdout);
    jobId = done[1]!;
    written = jsonLines(await readFile(out, 'utf8'));
    assert.deepEqual(written.map((f) => f.frame), Array.from({ length: 80 }, (_, i) => i));
    assert.ok(written.every((f) => f.job === jobId && f.file === TOUR_VIDEO));
    const api = await allDetections(target, jobId);
    assert.deepEqual(written.map(strip), api.map(strip));
    assert.equal(Number(done[2]), api.reduce((n, f) => n + f.detections.length, 0));
    const summary = (await (await fetch(`${target.base}/v1/jobs/${jobId}/summary`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { labels: Record<string, { detections: number; frames: number }> };
    for (const [label, s] of Object.entries(summary.labels)) {
      assert.match(run.stdout, new RegExp(`^${label}\\s+${s.detections}\\s+${s.frames}\\s`, 'm'), `table row of ${label}`);
    }
  });

  test('results ID: every page to stdout, or to a file; the same frames as the api', async () => {
    assert.ok(jobId, 'needs the submitted job');
    const run = await vdet(['results', jobId], env);
    assert.equal(run.code, 0, run.stderr);
    const frames = jsonLines<FrameItem>(run.stdout);
    assert.deepEqual(frames.map(strip), written.map(strip));
    const file = path.join(dir, 'results.jsonl');
    const toFile = await vdet(['results', jobId, '--out', file, '--label', 'dog'], env);
    assert.equal(toFile.code, 0, toFile.stderr);
    const dogs = jsonLines<FrameItem>(await readFile(file, 'utf8'));
    assert.deepEqual(dogs.map(strip), (await allDetections(target, jobId, 1000, { label: 'dog' })).map(strip));
    assert.ok(dogs.length > 0 && dogs.every((f) => f.detections.every((d) => d.label === 'dog')));
    assert.match(toFile.stdout, new RegExp(`^${dogs.length} frames written to `));
  });

  test('submit --export csv writes the api\'s export; jobs lists the jobs; jobs get and cancel', async () => {
    const csv = path.join(dir, 'tour.csv');
    const exported = await vdet(['submit', TOUR_VIDEO, '--stride', '20', '--export', 'csv', '--out', csv], env);
    assert.equal(exported.code, 0, exported.stderr);
    const id = /csv export of job ([0-9a-f-]{36}) written/.exec(exported.stdout)?.[1];
    assert.ok(id, exported.stdout);
    const expected = await (await fetch(`${target.base}/v1/jobs/${id}/export?format=csv`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    assert.equal(await readFile(csv, 'utf8'), expected);
    assert.match(expected, /^frame,ms,label,class_id,score,x1,y1,x2,y2,track_id\r\n0,0,/);

    const queued = await vdet(['submit', TOUR_VIDEO], env);
    assert.equal(queued.code, 0, queued.stderr);
    const [queuedId, file] = queued.stdout.trim().split('\t');
    assert.equal(file, TOUR_VIDEO);
    const list = await vdet(['jobs'], env);
    assert.equal(list.code, 0, list.stderr);
    for (const known of [jobId, id!, queuedId!]) assert.match(list.stdout, new RegExp(`^${known}\\s+(queued|running|done)\\s`, 'm'));
    const got = await vdet(['jobs', 'get', queuedId!], env);
    assert.equal(got.code, 0, got.stderr);
    assert.equal((JSON.parse(got.stdout) as { id: string }).id, queuedId);
    const cancelled = await vdet(['jobs', 'cancel', queuedId!], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const gone = await vdet(['jobs', 'get', queuedId!], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^vdet: VDET_JOB_NOT_FOUND: .+\n$/);
  });

  test('errors are one line and a non-zero exit: bad key, unreachable api, missing file, bad flag', async () => {
    const badKey = await vdet(['jobs'], { ...env, VDET_API_KEY: 'vdet_wrong_key_000000000000' });
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /^vdet: VDET_UNAUTHORIZED: [^\n]+\n$/);
    const closed = await freePort();
    const away = await vdet(['jobs'], { ...env, VDET_API_URL: `http://127.0.0.1:${closed}` });
    assert.equal(away.code, 1);
    assert.match(away.stderr, new RegExp(`^vdet: cannot reach the api at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)[^\\n]+\n$`));
    const missing = await vdet(['submit', path.join(dir, 'nope.mp4')], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^vdet: .*nope\.mp4: no such file\.\n$/);
    const usage = await vdet(['submit', TOUR_VIDEO, '--frobnicate'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^vdet: Unknown option '--frobnicate'/);
    assert.equal(usage.stdout + missing.stdout + away.stdout + badKey.stdout, '');
  });

  test('push: frames into Kafka at 5 frames/s, every result back in order with its latency, the job\'s detections', async () => {
    assert.ok(written.length === 80, 'needs the 5 frames/s job to compare with');
    const minted = await vdet(['streams', 'token', 'client-cam', '--settings', '{"policy":"lossless"}'], env);
    assert.equal(minted.code, 0, minted.stderr);
    assert.match(minted.stderr, /^minted token [0-9a-f]{12} for stream client-cam \(registered\); it is shown only this once\n$/);
    const token = minted.stdout.trim();
    assert.match(token, /^vdet_st_[0-9a-f]{12}_[\w-]{32}$/);
    const run = await vdet(['push', TOUR_VIDEO, '--stream', 'client-cam', '--fps', '5', '--frames', '12'], { ...env, VDET_STREAM_TOKEN: token });
    assert.equal(run.code, 0, run.stderr);
    const results = jsonLines<StreamResult>(run.stdout);
    assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 12 }, (_, i) => i));
    assert.ok(results.every((r) => r.stream === 'client-cam' && r.width === 640 && r.height === 360));
    assert.ok(results.every((r) => r.latencyMs > 0 && r.latencyMs < 30_000), results.map((r) => r.latencyMs).join(','));
    // Sent at the frame rate: capture times 200 ms apart (the sender's timer, give or take a busy machine).
    const gaps = results.slice(1).map((r, i) => r.ts - results[i]!.ts);
    assert.ok(gaps.reduce((a, b) => a + b, 0) / gaps.length > 150, gaps.join(','));
    assert.match(run.stderr, /^pushed 12 frames of .+ to stream client-cam in [\d.]+ s \(5 frames\/s\); 12 results; latency p50 \d+, p95 \d+, p99 \d+, max \d+ ms\n$/);
    // The same frames as the job's at 5 frames/s (JPEG on the way: boxes agree, not to the pixel).
    let matched = 0;
    let wanted = 0;
    for (const result of results) {
      const frame = written[result.seq]!;
      for (const d of frame.detections.filter((x) => x.score >= 0.5)) {
        wanted++;
        if (result.detections.some((p) => p.label === d.label && boxIou(p.box, d.box) >= 0.7)) matched++;
      }
    }
    assert.ok(wanted > 30 && matched / wanted >= 0.95, `${matched} of ${wanted} confident job detections found in the pushed frames' results`);
  });

  test('streams: the list, the tokens without secrets, revoke, a camera set, shown and stopped, remove; a bad id is a usage error', async () => {
    const list = await vdet(['streams'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^id\s+in\s+processed\s+dropped\s+failed\s+fps\s+last seen\nclient-cam\s+12\s+12\s+0\s+0\s/);
    const tokens = await vdet(['streams', 'tokens', 'client-cam'], env);
    const tokenId = /^([0-9a-f]{12})\s+\S+\s+20\d\d-/m.exec(tokens.stdout)?.[1];
    assert.ok(tokenId, tokens.stdout);
    assert.doesNotMatch(tokens.stdout, /vdet_st_/);
    const revoked = await vdet(['streams', 'revoke', 'client-cam', tokenId], env);
    assert.equal(revoked.stdout, `revoked token ${tokenId} of stream client-cam\n`);
    const again = await vdet(['streams', 'revoke', 'client-cam', tokenId], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^vdet: .*no ingest token with this id/);
    const bad = await vdet(['streams', 'token', 'no/slash'], env);
    assert.equal(bad.code, 2);
    const refused = await vdet(['streams', 'camera', 'client-cam', 'rtsp://10.9.9.9/cam'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vdet: VDET_CAMERA_REFUSED: [^\n]+\n$/);
    const set = await vdet(['streams', 'camera', 'client-cam', 'rtsp://viewer:pw@8.8.8.8:1/cam', '--fps', '2'], env);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^stream\s+client-cam\ncamera\s+rtsp:\/\/viewer:\*\*\*@8\.8\.8\.8:1\/cam\nfps\s+2\nstate\s+(waiting|connecting|reconnecting|failed)\n/);
    const shown = await vdet(['streams', 'camera', 'client-cam'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /:pw@/);
    assert.equal((await vdet(['streams', 'camera', 'client-cam', '--stop'], env)).stdout, 'stopped pulling the camera of stream client-cam\n');
    const none = await vdet(['streams', 'camera', 'client-cam'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^vdet: VDET_CAMERA_SOURCE_NOT_FOUND: /);
    const removed = await vdet(['streams', 'remove', 'client-cam'], env);
    assert.equal(removed.stdout, 'removed stream client-cam\n');
    assert.equal((await vdet(['streams'], env)).stdout, 'no streams\n');
  });
});
