import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { StreamResult } from '../../src/contracts/stream.js';
import { topicNames } from '../../src/contracts/topics.js';
import { authHeaders, type Target } from '../helpers/client.js';
import { metricSum } from '../helpers/metrics.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { LoopbackCamera } from '../helpers/rtsp-camera.js';
import { createTestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

interface SourceView { url: string; fps: number; state: string; lastError: string | null; reconnects: number; framesPulled: number; processor: string | null }

/**
 * Cameras vdet pulls itself: an RTSP camera on loopback (a Go RTSP server fed by ffmpeg), two processors sharing
 * it by lease, results read back from vdet.results.
 */
describe('cameras: a stream pulled over RTSP, with a lease that fails over', () => {
  const KEY = `vdet_cameras_${Date.now()}_0123456789abcdef`;
  const LEASE_MS = 6_000; // VDET_CAMERA_LEASE_MS's default: the failover measured is the one a deployment gets
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_CAMERA_ALLOW_HOSTS: '127.0.0.1' });
  const topics = topicNames(stack.config.kafka.topicPrefix);
  const camera = new LoopbackCamera(20_000 + Math.floor(Math.random() * 20_000), TOUR_VIDEO);
  const roles: RunningRole[] = [];
  const processors: RunningRole[] = [];
  const metricsPorts = [0, 1].map(() => 20_000 + Math.floor(Math.random() * 20_000));
  const processorMetric = async (i: number, name: string) => metricSum(await (await fetch(`http://127.0.0.1:${metricsPorts[i]}/metrics`)).text(), name);
  const results: (StreamResult & { arrivedAt: number })[] = [];
  let consumer: Consumer | undefined;
  let api: Target;

  const call = async <T>(method: string, path: string, body?: object) => {
    const response = await fetch(`${api.base}${path}`, {
      method, headers: authHeaders(api, body ? { 'content-type': 'application/json' } : {}), ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (response.status === 204 ? null : await response.json()) as T };
  };
  const source = async (stream: string) => (await call<SourceView>('GET', `/v1/streams/${stream}/source`)).body;
  const resultsOf = (stream: string, since = 0) => results.filter((r) => r.stream === stream && r.arrivedAt >= since);
  /** Results of frames pulled after `since` (a frame's ts is when the processor received it from the camera). */
  const pulledAfter = (stream: string, since: number) => results.filter((r) => r.stream === stream && r.ts > since);

  before(async () => {
    await camera.startRelay();
    await camera.start();
    for (const role of ['merger', 'detector', 'api']) roles.push(startRole(role, stack.env));
    for (const port of metricsPorts) processors.push(startRole('processor', { ...stack.env, VDET_METRICS_PORT: String(port) }));
    await waitStarted([...roles, ...processors]);
    api = { base: await apiUrl(roles[2]!), key: KEY };
    const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
    consumer = kafka.consumer({ groupId: `${stack.id}-results-reader`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.results, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { results.push({ ...StreamResult.decode(message.value), arrivedAt: Date.now() }); } });
  });

  after(async () => {
    await consumer?.disconnect();
    for (const role of [...processors, ...roles]) await role.stop();
    await camera.close();
    await stack.cleanup();
  });

  test('a camera URL is checked: other schemes, and addresses the rules do not allow, are refused with a reason', async () => {
    for (const url of ['ftp://127.0.0.1/cam', 'file:///etc/passwd', 'https://user:pw@127.0.0.1/live.m3u8', 'http://10.1.2.3/live.m3u8', 'rtsp://10.1.2.3/cam', 'rtsp://169.254.169.254/latest', 'rtsp://[::ffff:7f00:2]/cam', 'rtsp://localhost/cam', 'srt://127.0.0.1:9000?passphrase=x']) {
      const { status, body } = await call<{ code: string; detail: string }>('PUT', '/v1/streams/cam-refused/source', { url });
      assert.equal(status, 422, url);
      assert.equal(body.code, 'VDET_CAMERA_REFUSED', url);
      assert.ok(body.detail.length > 20, `${url}: a sentence says why (${body.detail})`);
    }
    assert.equal((await call('GET', '/v1/streams/cam-refused')).status, 404, 'nothing was registered');
    assert.equal((await call('PUT', '/v1/streams/cam-refused/source', { url: camera.url, fps: 100 })).status, 400, 'fps is bounded');
  });

  test('an RTSP camera gives results on vdet.results at its fps, its password never shown', async (t) => {
    const url = camera.url.replace('rtsp://', 'rtsp://viewer:s3cret-pass@');
    const put = await call<SourceView>('PUT', '/v1/streams/cam-rtsp/source', { url, fps: 4 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.ok(!put.body.url.includes('s3cret') && put.body.url.includes('***'), put.body.url);
    await until(() => `results of cam-rtsp (${resultsOf('cam-rtsp').length}); source ${JSON.stringify(put.body)}`, () => resultsOf('cam-rtsp').length >= 3, 60_000);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    const window = resultsOf('cam-rtsp', from).filter((r) => r.arrivedAt < from + 6_000);
    const fps = window.length / 6;
    assert.ok(fps >= 2.5 && fps <= 5, `results at the source's fps (4): ${fps.toFixed(2)} a second`);
    t.diagnostic(`results at ${fps.toFixed(2)} frames/s for a source of fps 4`);
    const seqs = resultsOf('cam-rtsp').map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
    assert.equal(new Set(seqs).size, seqs.length, 'each frame once');
    const labels = new Set(resultsOf('cam-rtsp').flatMap((r) => r.detections.map((d) => d.label)));
    assert.ok(['person', 'bicycle', 'dog', 'bird'].some((l) => labels.has(l)), `the tour video's objects are detected: ${[...labels].join(', ')}`);
    const view = await source('cam-rtsp');
    assert.equal(view.state, 'connected');
    assert.ok(view.framesPulled > 0 && view.processor, JSON.stringify(view));
    const stream = (await call<{ source?: SourceView; stats: { processed: number } }>('GET', '/v1/streams/cam-rtsp')).body;
    assert.equal(stream.source?.state, 'connected');
    assert.ok(stream.stats.processed > 0);
    const listed = JSON.stringify((await call('GET', '/v1/streams')).body);
    assert.ok(!listed.includes('s3cret'), 'the password is in no listing');
  });

  test('an SRT camera (MPEG-TS over SRT, the camera listening) gives results too', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const srt = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-re', '-stream_loop', '-1', '-i', TOUR_VIDEO, '-an', '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=listener`], { stdio: 'ignore' });
    try {
      assert.equal((await call('PUT', '/v1/streams/cam-srt/source', { url: `srt://127.0.0.1:${port}`, fps: 2 })).status, 200);
      await until('results of the SRT camera', () => resultsOf('cam-srt').length >= 3, 60_000);
      let view = await source('cam-srt');
      await until(() => `connected (renewals report it): ${JSON.stringify(view)}`, async () => (view = await source('cam-srt')).state === 'connected', 10_000);
      assert.equal((await call('DELETE', '/v1/streams/cam-srt/source')).status, 204);
    } finally {
      srt.kill('SIGKILL');
    }
  });

  test('an HLS camera: vdet fetches the live playlist and its segments itself; a playlist naming a refused host gets nothing from it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vdet-hls-'));
    const live = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-re', '-stream_loop', '-1', '-i', TOUR_VIDEO, '-an', '-c', 'copy',
      '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments', path.join(dir, 'live.m3u8')], { stdio: 'ignore' });
    const elsewhere: string[] = [];
    const serve = (host: string, handle: (url: string) => { status: number; body?: Buffer | string }) => new Promise<Server>((resolve) => {
      const server = createServer((request, response) => {
        const { status, body } = handle(request.url ?? '/');
        response.writeHead(status).end(body);
      });
      server.listen(0, host, () => resolve(server));
    });
    const origin = await serve('127.0.0.1', (url) => {
      if (url === '/evil.m3u8') return { status: 200, body: `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.2:${(other.address() as AddressInfo).port}/secret.ts\n` };
      try {
        return { status: 200, body: readFileSync(path.join(dir, path.basename(url))) };
      } catch {
        return { status: 404 };
      }
    });
    const other = await serve('127.0.0.2', (url) => { elsewhere.push(url); return { status: 200, body: 'internal' }; });
    const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    try {
      assert.equal((await call('PUT', '/v1/streams/cam-hls/source', { url: `${base}/live.m3u8`, fps: 2 })).status, 200);
      await until('results of the HLS camera', () => resultsOf('cam-hls').length >= 3, 60_000);
      assert.equal((await call('PUT', '/v1/streams/cam-evil/source', { url: `${base}/evil.m3u8` })).status, 200);
      let view = await source('cam-evil');
      await until(() => `the refused segment host in the last error: ${JSON.stringify(view)}`, async () => /127\.0\.0\.2/.test((view = await source('cam-evil')).lastError ?? ''), 30_000);
      assert.deepEqual(elsewhere, [], 'nothing was asked of the host the rules refuse');
      assert.equal(resultsOf('cam-evil').length, 0);
      for (const stream of ['cam-hls', 'cam-evil']) assert.equal((await call('DELETE', `/v1/streams/${stream}/source`)).status, 204);
    } finally {
      live.kill('SIGKILL');
      origin.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('two cameras are shared out over the two processors, one each', async () => {
    assert.equal((await call('PUT', '/v1/streams/cam-second/source', { url: camera.url, fps: 2 })).status, 200);
    await until('results of the second camera', () => resultsOf('cam-second').length >= 2, 60_000);
    let holders: (string | null)[] = [];
    await until(() => `one camera each: ${holders.join(', ')}`, async () => {
      holders = [(await source('cam-rtsp')).processor, (await source('cam-second')).processor];
      return holders.every(Boolean) && holders[0] !== holders[1];
    }, 30_000);
    assert.equal((await call('DELETE', '/v1/streams/cam-second/source')).status, 204);
  });

  test('killing the processor that holds the lease moves the camera to the other within 15 s', async (t) => {
    const holder = (await source('cam-rtsp')).processor!;
    const victim = processors.find((p) => holder.includes(`-${p.child.pid}-`));
    assert.ok(victim, `the holder ${holder} is one of the two processors`);
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    await until('results of frames pulled after the kill', () => pulledAfter('cam-rtsp', killedAt).length >= 2, 30_000);
    const resumedAfter = pulledAfter('cam-rtsp', killedAt)[0]!.arrivedAt - killedAt;
    assert.ok(resumedAfter < 15_000, `results resumed ${resumedAfter} ms after the kill`);
    t.diagnostic(`results of newly pulled frames resumed ${resumedAfter} ms after kill -9 of the lease holder (lease ${LEASE_MS} ms)`);
    const view = await source('cam-rtsp');
    assert.ok(view.processor && view.processor !== holder, `another processor holds it: ${view.processor}`);
    const survivor = processors.findIndex((p) => p !== victim);
    assert.ok(await processorMetric(survivor, 'vdet_camera_lease_moves_total') >= 1, 'the move is counted');
    assert.ok(await processorMetric(survivor, 'vdet_camera_frames_pulled_total') > 0);
  });

  test('a camera that drops shows reconnecting with the last error; when it comes back, results resume', async (t) => {
    await camera.stop();
    let dropped = await source('cam-rtsp');
    await until(() => `reconnecting: ${JSON.stringify(dropped)}`, async () => (dropped = await source('cam-rtsp')).state === 'reconnecting', 30_000);
    assert.ok(dropped.lastError && dropped.reconnects >= 1, JSON.stringify(dropped));
    assert.ok(!JSON.stringify(dropped).includes('s3cret'), `the camera's password is not in what ffmpeg said: ${dropped.lastError}`);
    const holder = processors.findIndex((p) => dropped.processor!.includes(`-${p.child.pid}-`));
    assert.ok(await processorMetric(holder, 'vdet_camera_reconnects_total') >= 1, 'the reconnect is counted');
    await camera.start();
    const back = Date.now();
    await until('results of frames pulled after the camera came back', () => pulledAfter('cam-rtsp', back).length >= 2, 45_000);
    t.diagnostic(`reconnecting with "${dropped.lastError}"; results again ${pulledAfter('cam-rtsp', back)[0]!.arrivedAt - back} ms after the camera came back`);
    let view = await source('cam-rtsp');
    await until(() => `connected again: ${JSON.stringify(view)}`, async () => (view = await source('cam-rtsp')).state === 'connected', 10_000);
  });

  test('DELETE stops the pull: no more results, and the source is gone', async () => {
    assert.equal((await call('DELETE', '/v1/streams/cam-rtsp/source')).status, 204);
    const deleted = Date.now();
    await new Promise((r) => setTimeout(r, LEASE_MS / 3 + 2_000)); // the holder sees it gone at its next round
    const settledAt = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(resultsOf('cam-rtsp', settledAt).length, 0, `results stopped within ${settledAt - deleted} ms`);
    const gone = await call<{ code: string }>('GET', '/v1/streams/cam-rtsp/source');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'VDET_CAMERA_SOURCE_NOT_FOUND');
    assert.equal((await call('GET', '/v1/streams/cam-rtsp')).status, 200, 'the stream itself stays');
    for (const role of [...processors, ...roles]) assert.ok(!role.output().includes('s3cret'), `the camera's password is in no ${role.role} log line`);
  });
});
