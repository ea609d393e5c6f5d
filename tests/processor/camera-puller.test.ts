import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { buildAddressPolicy, PUBLIC_ONLY } from '../../src/platform/address-policy.js';
import { createLogger } from '../../src/platform/logger.js';
import type { CameraPullRequest } from '../../src/media/camera-ffmpeg.js';
import { CameraPuller, type CameraPullerDeps, type PulledFrame } from '../../src/processor/camera-puller.js';

const quiet = createLogger('fatal', 'test', new Writable({ write: (_c, _e, done) => done() }));
const LIMITS = { maxWidth: 4096, maxHeight: 4096, maxStreams: 16, timeoutS: 60 };
const tick = () => new Promise((r) => setImmediate(r));
async function* segmentsOf(parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

/** A camera scripted attempt by attempt: each attempt sends `frames` frames, then ends with `error`. */
function scriptedCamera(attempts: { frames: number; error?: string }[]) {
  const requests: CameraPullRequest[] = [];
  const pull = (request: CameraPullRequest) => {
    requests.push(request);
    const attempt = attempts.shift() ?? { frames: 0, error: 'Connection refused' };
    let stop!: () => void;
    const ended = new Promise<{ frames: number; error?: string }>((resolve) => {
      stop = () => resolve({ frames: attempt.frames });
      setImmediate(() => {
        for (let i = 0; i < attempt.frames; i++) request.onFrame(Buffer.from([0xff, 0xd8, i, 0xff, 0xd9]));
        resolve({ frames: attempt.frames, ...(attempt.error ? { error: attempt.error } : {}) });
      });
    });
    return { stop: () => stop(), ended };
  };
  return { pull, requests };
}

function puller(overrides: Partial<CameraPullerDeps>, waits: number[], stopAfterWaits: number) {
  const holder: { puller?: CameraPuller } = {};
  const p = new CameraPuller({
    source: { url: 'rtsp://user:pw@8.8.8.8:554/cam', fps: 5 }, policy: PUBLIC_ONLY, resolve: async () => [], limits: LIMITS, log: quiet,
    pull: scriptedCamera([]).pull, hls: () => segmentsOf([]), deliver: async () => undefined, dropped: () => undefined,
    sleep: async (ms) => {
      waits.push(ms);
      if (waits.length >= stopAfterWaits) void holder.puller?.stop();
      await tick();
    },
    ...overrides,
  });
  holder.puller = p;
  return p;
}

test('a camera that drops is tried again with backoff from 1 s; 10 attempts in a row without a frame show failed', async () => {
  const camera = scriptedCamera([{ frames: 3, error: 'Connection reset by peer' }]);
  const delivered: PulledFrame[] = [];
  const waits: number[] = [];
  const states: string[] = [];
  const p = puller({ pull: camera.pull, deliver: async (frames) => { delivered.push(...frames); states.push(p.status.state); } }, waits, 11);
  await until(() => waits.length >= 11);
  await p.stop();
  assert.deepEqual(camera.requests[0]!.input, { url: 'rtsp://user:pw@8.8.8.8:554/cam' });
  assert.equal(camera.requests[0]!.fps, 5);
  assert.ok(states.includes('connected'), 'connected while frames came');
  assert.deepEqual(delivered.map((f) => f.jpeg[2]), [0, 1, 2]);
  assert.ok(delivered.every((f, i) => i === 0 || f.seq > delivered[i - 1]!.seq), 'sequence numbers only grow');
  assert.deepEqual(waits.slice(0, 7), [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000], 'the backoff doubles from 1 s to 30 s');
  assert.equal(p.status.state, 'failed');
  assert.match(p.status.lastError!, /Connection refused/);
  assert.ok(p.status.reconnects >= 10);
  assert.equal(p.status.framesPulled, 3);
});

test('an address the rules refuse is never connected to: failed, with the reason, tried again every 30 s', async () => {
  for (const [url, resolved] of [['rtsp://10.0.0.7/cam', []], ['rtsp://cam.example.com/cam', [{ address: '192.168.1.20', family: 4 }]]] as const) {
    const camera = scriptedCamera([]);
    const waits: number[] = [];
    const p = puller({ source: { url }, pull: camera.pull, resolve: async () => [...resolved] }, waits, 2);
    await until(() => waits.length >= 2);
    await p.stop();
    assert.equal(camera.requests.length, 0, url);
    assert.equal(p.status.state, 'failed', url);
    assert.match(p.status.lastError!, /private|non-public/, url);
    assert.deepEqual(waits.slice(0, 2), [30_000, 30_000]);
  }
});

test('ffmpeg is handed the checked address in place of the name (DNS cannot move it); an allowed private range is pulled', async () => {
  const camera = scriptedCamera([{ frames: 1 }]);
  const waits: number[] = [];
  const policy = buildAddressPolicy(false, ['192.168.1.0/24']).policy;
  const p = puller({ source: { url: 'rtsp://admin:pw@door.lan:8554/live?x=1' }, policy, pull: camera.pull, resolve: async () => [{ address: '192.168.1.20', family: 4 }] }, waits, 1);
  await until(() => waits.length >= 1);
  await p.stop();
  assert.deepEqual(camera.requests[0]!.input, { url: 'rtsp://admin:pw@192.168.1.20:8554/live?x=1' });
  assert.equal(camera.requests[0]!.fps, 5, 'the default fps');
});

test('when the stream path falls behind, the oldest pulled frames are dropped and counted', async () => {
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => { release = resolve; });
  const delivered: number[] = [];
  let dropped = 0;
  const camera = scriptedCamera([{ frames: 50 }]);
  const waits: number[] = [];
  const p = puller({
    pull: camera.pull,
    deliver: async (frames) => { delivered.push(...frames.map((f) => f.jpeg[2]!)); await blocked; },
    dropped: (n) => { dropped += n; },
  }, waits, 1);
  await until(() => waits.length >= 1);
  release();
  await p.stop();
  assert.equal(dropped + delivered.length, 50);
  assert.ok(dropped >= 19, `dropped ${dropped}`);
  assert.equal(delivered.at(-1), 49, 'the newest frame is kept');
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !check(); i++) await tick();
  assert.ok(check(), 'timed out');
}

test('an HLS source is handed to ffmpeg as segments vdet fetches, through the same address rules', async () => {
  const camera = scriptedCamera([{ frames: 1 }]);
  const waits: number[] = [];
  const asked: { url: string; policy: unknown }[] = [];
  const policy = buildAddressPolicy(false, ['10.2.0.0/16']).policy;
  const p = puller({
    source: { url: 'https://media.example.com/live/index.m3u8' }, policy, pull: camera.pull,
    hls: (url, options) => { asked.push({ url, policy: options.policy }); return segmentsOf([Buffer.from('ts')]); },
  }, waits, 1);
  await until(() => waits.length >= 1);
  await p.stop();
  assert.deepEqual(asked, [{ url: 'https://media.example.com/live/index.m3u8', policy }]);
  assert.ok('segments' in camera.requests[0]!.input);
});
