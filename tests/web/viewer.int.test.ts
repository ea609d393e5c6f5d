import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MEDIA_TOKEN_MAX_TTL_MS, signMediaToken, verifyMediaToken } from '../../src/api/media-token.js';
import { parseRange } from '../../src/api/stored-file.js';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { allDetections, allStreamDetections, authHeaders, registerStream, submitJob, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { jpegFramesOf } from '../helpers/jpeg-frames.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';
import { topicNames } from '../../src/contracts/topics.js';

/** The browser globals the page functions below use (the tests compile without the DOM lib). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  value: number; width: number; height: number; seeking: boolean; readyState: number; currentTime: number;
  pause(): void;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
interface PageWindow {
  document: { querySelector(selector: string): PageElement | null };
  sessionStorage: { getItem(key: string): string | null };
  localStorage: { length: number };
}
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WEB_DIR = path.resolve('dist/web');

test('media tokens and byte ranges (no services)', () => {
  const future = Date.now() + 60_000;
  const sign = (jobId: string, expiresAtMs: number, key = 'key') => signMediaToken({ purpose: 'job-media', jobId, expiresAtMs }, key);
  const token = sign('job-1', future);
  assert.ok(verifyMediaToken('job-media', 'job-1', token, 'key'));
  assert.ok(!verifyMediaToken('job-media', 'job-2', token, 'key'), 'another job');
  assert.ok(!verifyMediaToken('job-media', 'job-1', token, 'other key'), 'another key');
  assert.ok(!verifyMediaToken('job-media', 'job-1', sign('job-1', Date.now() - 1), 'key'), 'expired');
  assert.ok(!verifyMediaToken('job-media', 'job-1', sign('job-1', Date.now() + MEDIA_TOKEN_MAX_TTL_MS + 60_000), 'key'), 'far-future expiry');
  assert.ok(verifyMediaToken('job-media', 'job-1', sign('job-1', Date.now() + MEDIA_TOKEN_MAX_TTL_MS - 60_000), 'key'), 'just under the cap');
  const [head, sig] = token.split('.');
  assert.ok(!verifyMediaToken('job-media', 'job-1', `${Buffer.from(String(future + 1000)).toString('base64url')}.${sig}`, 'key'), 'expiry changed');
  assert.ok(!verifyMediaToken('job-media', 'job-1', `${head}.`, 'key'));
  assert.ok(!verifyMediaToken('job-media', 'job-1', 'garbage', 'key'));
  assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 });
  assert.equal(parseRange('bytes=1000-', 1000), 'invalid');
  assert.equal(parseRange('bytes=5-2', 1000), 'invalid');
  assert.equal(parseRange('bytes=0-1,5-6', 1000), 'invalid');
  assert.equal(parseRange('items=0-1', 1000), undefined);
});

/**
 * The viewer, as a person uses it: the four roles as processes, chromium signs in with a key, uploads the tour
 * video by the file input, waits for it in the jobs list, opens the job, seeks to 1 s, and the overlay shows the
 * stored boxes of that frame; the dog's timeline runs from 0 to 4 s.
 */
describe('the viewer at /', () => {
  const KEY = `vdet_viewer_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY });
  const roles: RunningRole[] = [];
  let base = '';
  let api: Target;
  let browser: Browser;
  let page: Page;
  let jobId = '';
  const cspViolations: string[] = [];

  before(async () => {
    assert.ok(CHROMIUM, "Debian's chromium is needed (.ci/run installs it)");
    assert.ok(existsSync(path.join(WEB_DIR, 'index.html')), 'the viewer is built by `npm run build` (dist/web)');
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    base = await apiUrl(roles.find((r) => r.role === 'api')!);
    api = { base, key: KEY };
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    for (const role of roles) {
      const code = await role.stop();
      if (code !== 0) console.error(`${role.role} exited ${code}:\n${role.output().slice(-3000)}`);
    }
    await stack.cleanup();
  });

  test('the page and its assets need no key; they stay out of the OpenAPI document', async () => {
    const index = await fetch(`${base}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    const html = await index.text();
    const asset = /src="(\/app\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const script = await fetch(`${base}${asset}`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${base}/app/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/v1/jobs`)).status, 401, 'the api itself still needs a key');
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/app')), Object.keys(doc.paths).join(' '));
    assert.ok(doc.paths['/v1/jobs/{id}/source'] && doc.paths['/v1/jobs/{id}/source-url']);
    assert.ok(readdirSync(path.join(WEB_DIR, 'app')).some((f) => f.endsWith('.js')));
  });

  test('sign in, upload by the file input with a progress bar, see it done in the jobs list', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sign-in-error', { hasText: 'not valid' }).waitFor();
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#upload-file').waitFor({ state: 'attached' });
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.getItem('vdet.apiKey')), KEY);
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).localStorage.length), 0);

    await page.locator('#upload-file').setInputFiles(TOUR_VIDEO);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('#upload-status', { hasText: 'Uploaded' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#upload-progress').evaluate((el) => (el as unknown as PageElement).value), 1);
    const row = page.locator('tr[data-job-id]').first();
    jobId = (await row.getAttribute('data-job-id'))!;
    assert.ok(jobId);
    await page.locator(`tr[data-job-id="${jobId}"][data-status="done"]`).waitFor({ timeout: 300_000 });
    assert.equal(await page.locator(`tr[data-job-id="${jobId}"] progress`).evaluate((el) => (el as unknown as PageElement).value), 1);
  });

  test('the job page: boxes over the video at 1 s where the stored detections are; the dog timeline 0–4 s', async (t) => {
    assert.ok(jobId, 'the upload test ran');
    await page.locator(`tr[data-job-id="${jobId}"] a`).click();
    const canvas = page.locator('canvas#overlay');
    await canvas.waitFor();
    await page.waitForFunction(() => ((globalThis as unknown as PageWindow).document.querySelector('video')?.readyState ?? 0) >= 2, undefined, { timeout: 30_000 });
    await page.evaluate(() => {
      const video = (globalThis as unknown as PageWindow).document.querySelector('video')!;
      video.pause();
      video.currentTime = 1;
    });
    await page.waitForFunction(() => {
      const video = (globalThis as unknown as PageWindow).document.querySelector('video')!;
      return !video.seeking && video.readyState >= 2 && (globalThis as unknown as PageWindow).document.querySelector('canvas#overlay')?.dataset['pts'] === '1000';
    }, undefined, { timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 300)); // let a late frame callback land, if one would
    assert.equal(await canvas.getAttribute('data-pts'), '1000');
    const shot = path.join(os.tmpdir(), 'vdet-viewer-job.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);

    // The stored frame at 1000 ms, from the api.
    const response = await fetch(`${base}/v1/jobs/${jobId}/detections?fromMs=1000&toMs=1001&limit=1`, { headers: authHeaders(api) });
    const [frame] = ((await response.json()) as { items: FrameItem[] }).items;
    assert.equal(frame?.ptsMs, 1000);
    assert.ok(frame.detections.length > 0);
    assert.equal(await canvas.getAttribute('data-boxes'), String(frame.detections.length));
    // Each tag (and the canvas's accessible name): label, the object's track id, score.
    const tags = frame.detections.map((d) => `${d.label}${d.trackId !== undefined ? ` #${d.trackId}` : ''} ${Math.round(d.score * 100)}%`);
    assert.ok(frame.detections.some((d) => d.trackId !== undefined), 'the job is tracked');
    assert.equal(await canvas.getAttribute('aria-label'), tags.join(', '));
    // A trail under each tracked box seen at least once more in the 1.5 s before (its bottom centre, frame by frame).
    const recent = await allDetections(api, jobId, 1000, { fromMs: '0', toMs: '1001' });
    const trailed = frame.detections.filter((d) => d.trackId !== undefined
      && recent.some((f) => f.ptsMs < 1000 && f.ptsMs > 1000 - 1500 && f.detections.some((e) => e.trackId === d.trackId)));
    assert.ok(trailed.length >= 1, 'an object tracked since before 1 s');
    assert.equal(await canvas.getAttribute('data-trails'), String(trailed.length));
    const colors = Object.fromEntries(await page.locator('.timeline-row').evaluateAll((rows) =>
      rows.map((r) => [(r as unknown as PageElement).dataset['label']!, (r as unknown as PageElement).dataset['color']!])));

    const pixels = await canvas.evaluate((el) => {
      const c = el as unknown as PageElement;
      return { width: c.width, height: c.height, data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
    });
    const sx = pixels.width / 640;
    const sy = pixels.height / 360;
    assert.ok(Math.abs(sx - sy) < 0.01, `the canvas keeps the aspect ratio: ${pixels.width}x${pixels.height}`);
    const at = (x: number, y: number) => {
      const i = (Math.round(y) * pixels.width + Math.round(x)) * 4;
      return pixels.data.slice(i, i + 4) as [number, number, number, number];
    };
    /** The most opaque pixel within 1 px of (x, y): an outline 2 px wide covers some pixel there fully. */
    const edgeAt = (x: number, y: number) => {
      let best = at(x, y);
      for (const dx of [-1, 0, 1]) {
        for (const dy of [-1, 0, 1]) {
          const px = Math.min(pixels.width - 1, Math.max(0, x + dx));
          const py = Math.min(pixels.height - 1, Math.max(0, y + dy));
          const p = at(px, py);
          if (p[3] > best[3]) best = p;
        }
      }
      return best;
    };
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const near = (p: number[], c: number[]) => p[3]! > 200 && c.every((v, i) => Math.abs(p[i]! - v) <= 40);
    let checked = 0;
    for (const d of frame.detections) {
      const [x1, y1, x2, y2] = [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy];
      if (x2 - x1 < 12 || y2 - y1 < 12) continue;
      const color = rgb(colors[d.label]!);
      const points: [number, number][] = [];
      for (let k = 1; k <= 9; k++) {
        const fx = x1 + ((x2 - x1) * k) / 10;
        const fy = y1 + ((y2 - y1) * k) / 10;
        points.push([x1, fy], [Math.min(x2, pixels.width - 1), fy], [fx, Math.min(y2, pixels.height - 1)]);
        if (y1 >= 1) points.push([fx, y1]);
      }
      const hits = points.filter(([x, y]) => near(edgeAt(x, y), color)).length;
      assert.ok(hits / points.length >= 0.6, `${d.label} ${d.box.join(',')}: ${hits}/${points.length} edge pixels in ${colors[d.label]}`);
      checked++;
    }
    assert.ok(checked >= 1, 'at least one box large enough to check');
    // Inside the largest box, away from every box's outline and tag, nothing is drawn.
    const largest = [...frame.detections].sort((a, b) => (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) - (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]))[0]!;
    const cx = ((largest.box[0] + largest.box[2]) / 2) * sx;
    const cy = ((largest.box[1] + largest.box[3]) / 2) * sy;
    const touches = frame.detections.some((d) => {
      const [x1, y1, x2, y2] = [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy];
      const inside = cx > x1 - 6 && cx < x2 + 6 && cy > y1 - 30 * sy && cy < y2 + 6;
      return inside && (Math.abs(cx - x1) < 6 || Math.abs(cx - x2) < 6 || Math.abs(cy - y1) < 30 * sy || Math.abs(cy - y2) < 6);
    });
    if (touches) t.diagnostic('the largest box\'s centre lies on another outline: not sampled');
    else assert.equal(at(cx, cy)[3], 0, `the centre of ${largest.label} is not drawn on`);

    // The dog's timeline: its first segment covers 0–4 s.
    const dog = page.locator('.timeline-row[data-label="dog"] .segment').first();
    const start = Number(await dog.getAttribute('data-start-ms'));
    const end = Number(await dog.getAttribute('data-end-ms'));
    t.diagnostic(`dog: first segment ${start}–${end} ms`);
    assert.ok(start <= 100 && end >= 3900 && end < 4400, `dog ${start}–${end}`);
    // Clicking a segment seeks there.
    await page.locator('.timeline-row[data-label="horse"] .segment').first().click();
    await page.waitForFunction(() => {
      const video = (globalThis as unknown as PageWindow).document.querySelector('video')!;
      return !video.seeking && video.currentTime >= 3.9;
    }, undefined, { timeout: 10_000 });
    assert.ok(await page.locator('#counts tr[data-label="dog"]').count() === 1, 'counts per label from the summary');
    // Tracked: objects per label beside detections, as the summary counts them.
    const summary = (await (await fetch(`${base}/v1/jobs/${jobId}/summary`, { headers: authHeaders(api) })).json()) as { labels: Record<string, { objects?: number }> };
    assert.ok(summary.labels['dog']!.objects! >= 1);
    assert.equal(await page.locator('#counts tr[data-label="dog"] td[data-objects]').getAttribute('data-objects'), String(summary.labels['dog']!.objects));

    // The min-score filter hides weaker boxes.
    await page.evaluate(() => {
      const video = (globalThis as unknown as PageWindow).document.querySelector('video')!;
      video.currentTime = 1;
    });
    await page.waitForFunction(() => (globalThis as unknown as PageWindow).document.querySelector('canvas#overlay')?.dataset['pts'] === '1000');
    await page.locator('#min-score').fill('1');
    assert.equal(await canvas.getAttribute('data-boxes'), '0');
    await page.locator('#min-score').fill('0');
    assert.equal(await canvas.getAttribute('data-boxes'), String(frame.detections.length));
  });

  test('a job with zones and lines: drawn over the video, and what they counted in tables', async (t) => {
    const zones = [{ name: 'everywhere', polygon: [[1, 1], [639, 1], [639, 359], [1, 359]] }];
    const lines = [{ name: 'top', from: [40, 20], to: [600, 20] }, { name: 'middle', from: [320, 0], to: [320, 360] }];
    const id = await submitJob(api, TOUR_VIDEO, { fps: 5, zones, lines });
    assert.equal((await waitForJob(api, id)).status, 'done');
    const counted = (await (await fetch(`${base}/v1/jobs/${id}/zones`, { headers: authHeaders(api) })).json()) as {
      zones: { name: string; labels: Record<string, { entered: number }> }[]; lines: { name: string; labels: Record<string, { in: number; out: number }> }[];
    };
    await page.goto(`${base}/#/jobs/${encodeURIComponent(id)}`);
    const canvas = page.locator('canvas#overlay');
    await page.waitForFunction(() => (globalThis as unknown as PageWindow).document.querySelector('canvas#overlay')?.dataset['regions'] === '3', undefined, { timeout: 30_000 });
    // The top line is drawn in white across the frame (nothing else is drawn that high at 0 s).
    const white = await canvas.evaluate((el) => {
      const c = el as unknown as PageElement;
      const [x, y] = [Math.round((320 / 640) * c.width), Math.round((20 / 360) * c.height)];
      const column = Array.from(c.getContext('2d').getImageData(x, y - 2, 1, 5).data);
      return [0, 1, 2, 3, 4].some((i) => column[i * 4]! > 230 && column[i * 4 + 1]! > 230 && column[i * 4 + 2]! > 230 && column[i * 4 + 3]! > 200);
    });
    assert.ok(white, 'the line "top" is drawn where it is');
    const shot = path.join(os.tmpdir(), 'vdet-viewer-zones.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    const zoneRows = await page.locator('#zone-counts tbody tr').evaluateAll((rows) => rows.map((r) => {
      const d = (r as unknown as PageElement).dataset;
      return `${d['zone']}/${d['label']}=${d['entered']}`;
    }));
    const expectedZones = counted.zones.flatMap((z) => Object.entries(z.labels).map(([label, c]) => `${z.name}/${label}=${c.entered}`));
    assert.ok(expectedZones.length >= 1 && counted.zones[0]!.labels['dog']!.entered >= 1, JSON.stringify(counted));
    assert.deepEqual(zoneRows, expectedZones);
    const lineRows = await page.locator('#line-counts tbody tr').evaluateAll((rows) => rows.map((r) => {
      const d = (r as unknown as PageElement).dataset;
      return `${d['line']}/${d['label']}=${d['in']},${d['out']}`;
    }));
    assert.deepEqual(lineRows, counted.lines.flatMap((l) => Object.entries(l.labels).map(([label, c]) => `${l.name}/${label}=${c.in},${c.out}`)));
  });

  test('/source: the upload with ranges, by key or by a signed token for that job only', async () => {
    assert.ok(jobId, 'the upload test ran');
    const original = readFileSync(TOUR_VIDEO);
    const src = `${base}/v1/jobs/${jobId}/source`;
    const full = await fetch(src, { headers: authHeaders(api) });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    assert.equal(full.headers.get('content-type'), 'video/mp4');
    assert.ok(Buffer.from(await full.arrayBuffer()).equals(original));

    const signed = await fetch(`${src}-url`, { method: 'POST', headers: authHeaders(api) });
    assert.equal(signed.status, 200);
    const { url, expiresAt } = (await signed.json()) as { url: string; expiresAt: string };
    assert.match(url, new RegExp(`^/v1/jobs/${jobId}/source\\?token=[\\w-]+\\.[\\w-]+$`));
    assert.ok(Date.parse(expiresAt) > Date.now());
    const part = await fetch(`${base}${url}`, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${original.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(original.subarray(100, 200)));
    const tail = await fetch(`${base}${url}`, { headers: { range: `bytes=${original.length - 10}-` } });
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(original.subarray(original.length - 10)));
    const outside = await fetch(`${base}${url}`, { headers: { range: `bytes=${original.length}-` } });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get('content-range'), `bytes */${original.length}`);
    await outside.body?.cancel();

    const token = new URL(url, base).searchParams.get('token')!;
    const statusOf = async (u: string, headers: Record<string, string> = {}) => {
      const r = await fetch(u, { headers });
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await statusOf(src), 401, 'no key, no token');
    assert.equal(await statusOf(`${src}?token=${token.slice(0, -2)}xx`), 401, 'a tampered token');
    assert.equal(await statusOf(`${base}/v1/jobs/00000000-0000-0000-0000-000000000000/source?token=${token}`), 401, 'another job');
    assert.equal(await statusOf(`${base}/v1/jobs/${jobId}/detections?token=${token}`), 401, 'a token opens only /source');

    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      const keys = new ApiKeyStore(mongo.db(stack.config.mongo.database));
      // Tokens are signed with the server's media key (generated once, kept in MongoDB), never the tenant's secret.
      const secret = await keys.webhookSecret(stack.config.http.bootstrapTenant);
      const mediaKey = await keys.mediaTokenKey();
      const sign = (expiresAtMs: number, key: string) => signMediaToken({ purpose: 'job-media', jobId, expiresAtMs }, key);
      assert.equal(await statusOf(`${src}?token=${sign(Date.now() + 60_000, secret)}`), 401, 'signed with the tenant secret');
      assert.equal(await statusOf(`${src}?token=${sign(Date.now() - 1000, mediaKey)}`), 401, 'expired');
      assert.equal(await statusOf(`${src}?token=${sign(Date.now() + 30 * 24 * 3600_000, mediaKey)}`), 401, 'a far-future expiry');
      assert.equal(await statusOf(`${src}?token=${sign(Date.now() + 60_000, mediaKey)}`), 200, 'signed with the media key');
      const other = await keys.create('viewer-other-tenant', 'test');
      const otherTarget = { base, key: other.key };
      assert.equal(await statusOf(src, authHeaders(otherTarget)), 404, "another tenant's key");
      const r = await fetch(`${src}-url`, { method: 'POST', headers: authHeaders(otherTarget) });
      assert.equal(r.status, 404);
      await r.body?.cancel();
    } finally {
      await mongo.close();
    }
  });

  test('the streams page lists the streams (none here) without errors', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/#/streams`);
    await page.getByRole('heading', { name: 'Streams' }).waitFor();
    await page.locator('#streams-body').waitFor({ state: 'attached' });
    assert.deepEqual(errors, []);
  });

  test('a stream\'s page, live: boxes with trails, objects per label, zone and line events, their counts', async (t) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const zones = [{ name: 'everywhere', polygon: [[1, 1], [639, 1], [639, 359], [1, 359]] }];
    const lines = [{ name: 'middle', from: [320, 0], to: [320, 360] }];
    const token = await registerStream(api, 'cam-live', { zones, lines });
    const counted = page.waitForResponse((r) => r.url().endsWith('/v1/streams/cam-live/zones'));
    await page.goto(`${base}/#/streams/cam-live`);
    await counted; // the page has its first counts: it listens for results from now on
    await new Promise((r) => setTimeout(r, 500));
    const producer = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const jpegs = jpegFramesOf(TOUR_VIDEO, 10, 3);
    const t0 = Date.now();
    await producer.send({
      topic: topicNames(stack.config.kafka.topicPrefix).frames,
      messages: jpegs.map((value, seq) => ({ key: 'cam-live', value, headers: { 'vdet-token': token, 'vdet-seq': String(seq), 'vdet-ts': String(t0 - (jpegs.length - seq) * 100) } })), // captured over the last 3 s
    });
    await producer.disconnect();
    const last = jpegs.length - 1;
    await page.locator('#stream-latest', { hasText: `#${last} ·` }).waitFor({ timeout: 120_000 });
    const stored = await allStreamDetections(api, 'cam-live');
    assert.equal(stored.length, jpegs.length);
    const idsPerLabel = (frames: { detections: { label: string; trackId?: number }[] }[]) => {
      const ids: Record<string, Set<number>> = {};
      for (const d of frames.flatMap((f) => f.detections)) if (d.trackId !== undefined) (ids[d.label] ??= new Set()).add(d.trackId);
      return ids;
    };
    const seen = idsPerLabel(stored);
    const inView = idsPerLabel(stored.filter((f) => f.seq === last));
    const rows = await page.locator('#stream-objects tr').evaluateAll((trs) => trs.map((r) => {
      const d = (r as unknown as PageElement).dataset;
      return [d['label'], Number(d['inView']), Number(d['seen'])];
    }));
    assert.deepEqual(rows, Object.keys(seen).sort().map((label) => [label, inView[label]?.size ?? 0, seen[label]!.size]), 'in view at the last frame, distinct since the page opened');
    assert.ok(Number(await page.locator('#stream-overlay').getAttribute('data-trails')) >= 1, 'trails under the tracked boxes');
    assert.ok(await page.locator('#stream-events li', { hasText: 'entered everywhere' }).count() >= 1, 'zone events listed');
    // The counts card, refreshed every 2 s, ends equal to GET /zones.
    const expected = await (await fetch(`${base}/v1/streams/cam-live/zones`, { headers: authHeaders(api) })).json() as { zones: { labels: Record<string, { entered: number }> }[] };
    const zoneRows = () => page.locator('#stream-regions #zone-counts tbody tr').evaluateAll((trs) => trs.map((r) => `${(r as unknown as PageElement).dataset['label']}=${(r as unknown as PageElement).dataset['entered']}`));
    const want = Object.entries(expected.zones[0]!.labels).map(([label, c]) => `${label}=${c.entered}`);
    assert.ok(want.length >= 1);
    for (const deadline = Date.now() + 10_000; JSON.stringify(await zoneRows()) !== JSON.stringify(want);) {
      assert.ok(Date.now() < deadline, `zone rows ${JSON.stringify(await zoneRows())}, want ${JSON.stringify(want)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const shot = path.join(os.tmpdir(), 'vdet-viewer-stream.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(errors, []);
  });

  test('everything above ran under the restrictive Content-Security-Policy, without one violation', async () => {
    const csp = (await fetch(`${base}/`)).headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.deepEqual(cspViolations, []);
  });
});
