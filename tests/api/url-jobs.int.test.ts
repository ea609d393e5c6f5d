import assert from 'node:assert/strict';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { allDetections, authHeaders, submitJob, waitForJob, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, runCli, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/**
 * `POST /v1/jobs` with `{ "url": … }`: a loopback HTTP server plays the origin (object storage, a CDN), allowed by
 * VDET_FETCH_ALLOW_HOSTS on one api and not on the other; what is refused or fails leaves nothing stored.
 */
describe('video by URL: fetched under the SSRF rules, the same detections as an upload', () => {
  const KEY = `vdet_url_jobs_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_MAX_UPLOAD_BYTES: String(2 * 1024 * 1024),
    VDET_FETCH_ANSWER_TIMEOUT_S: '1', VDET_FETCH_TIMEOUT_S: '3',
  });
  let origin: Server;
  let base = '';
  let service: RunningRole;
  let strictApi: RunningRole;
  let allowed: Target;
  let strict: Target;
  const asked: string[] = [];

  before(async () => {
    origin = createServer((request, response) => {
      const url = request.url ?? '';
      asked.push(url);
      if (url.startsWith('/videos/')) {
        response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(statSync(TOUR_VIDEO).size) });
        createReadStream(TOUR_VIDEO).pipe(response);
      } else if (url === '/moved') response.writeHead(302, { location: '/videos/tour.mp4?X-Amz-Signature=abc' }).end();
      else if (url === '/to-metadata') response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      else if (url === '/to-ipv6-loopback') response.writeHead(307, { location: `http://[::1]:${(origin.address() as AddressInfo).port}/videos/x.mp4` }).end();
      else if (url === '/big') response.writeHead(200, { 'content-length': String(3 * 1024 * 1024) }).end();
      else if (url === '/big-chunked') {
        response.writeHead(200);
        const mp4 = createReadStream(TOUR_VIDEO, { end: 4095 });
        mp4.on('end', () => {
          const block = Buffer.alloc(256 * 1024);
          for (let i = 0; i < 12; i++) response.write(block);
          response.end();
        });
        mp4.pipe(response, { end: false });
      } else if (url === '/page') response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>not a video</body></html>'.padEnd(2000, ' '));
      else if (url === '/hang') request.on('close', () => response.destroy()); // never answers
      else if (url === '/dribble') {
        response.writeHead(200);
        createReadStream(TOUR_VIDEO, { end: 4095 }).on('data', (c) => response.write(c));
        const timer = setInterval(() => response.write(Buffer.alloc(16)), 500);
        request.on('close', () => clearInterval(timer));
      } else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    service = startRole('all', { ...stack.env, VDET_FETCH_ALLOW_HOSTS: '127.0.0.1/32' });
    strictApi = startRole('api', stack.env);
    await waitStarted([service, strictApi]);
    allowed = { base: await apiUrl(service), key: KEY };
    strict = { base: await apiUrl(strictApi), key: KEY };
  });

  after(async () => {
    await strictApi?.stop();
    await service?.stop();
    origin.close();
    await stack.cleanup();
  });

  const byUrl = (target: Target, body: unknown) => fetch(`${target.base}/v1/jobs`, {
    method: 'POST', headers: authHeaders(target, { 'content-type': 'application/json' }), body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id?: string; code?: string; detail?: string } }));
  const storedUploads = async () => {
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      return await mongo.db(stack.config.mongo.database).collection('uploads.files').countDocuments();
    } finally {
      await mongo.close();
    }
  };

  test('a URL the operator allows becomes a job with the same detections as uploading the file, after a redirect', async () => {
    const options = { fps: 5 };
    const accepted = await byUrl(allowed, { url: `${base}/moved`, options });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const job = await waitForJob(allowed, accepted.body.id!);
    assert.equal(job.status, 'done', JSON.stringify(job));
    assert.equal((job as unknown as { filename: string }).filename, 'tour.mp4', 'named by the path, not the signed query');
    const uploaded = await waitForJob(allowed, await submitJob(allowed, TOUR_VIDEO, options));
    const [fromUrl, fromUpload] = await Promise.all([allDetections(allowed, job.id), allDetections(allowed, uploaded.id)]);
    assert.equal(fromUrl.length, 80);
    assert.deepEqual(fromUrl, fromUpload);
    assert.doesNotMatch(service.output(), /X-Amz-Signature=abc/, 'the signed query is not logged');
    const cli = await runCli(['submit', `${base}/videos/by-cli.mp4`, '--fps', '5', '--wait'], { VDET_API_URL: allowed.base, VDET_API_KEY: KEY });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /by-cli\.mp4: job [0-9a-f-]{36} done, 80 frames/);
  });

  test('without the allowlist the same URL is refused before any request; redirects to refused addresses are refused', async () => {
    const before = await storedUploads();
    const askedBefore = asked.length;
    const refused = await byUrl(strict, { url: `${base}/videos/tour.mp4` });
    assert.deepEqual([refused.status, refused.body.code], [422, 'VDET_FETCH_REFUSED']);
    assert.match(refused.body.detail ?? '', /loopback, private or otherwise non-public address/);
    assert.equal(asked.length, askedBefore, 'the origin was never asked');
    for (const path of ['/to-metadata', '/to-ipv6-loopback']) {
      const redirected = await byUrl(allowed, { url: `${base}${path}` });
      assert.deepEqual([redirected.status, redirected.body.code], [422, 'VDET_FETCH_REFUSED'], path);
    }
    for (const url of ['http://localhost./x.mp4', 'http://[::ffff:127.0.0.1]/x.mp4', 'file:///etc/passwd', 'ftp://example.com/x.mp4', `http://user:pw@example.com/x.mp4`]) {
      const r = await byUrl(strict, { url });
      assert.deepEqual([r.status, r.body.code], [422, 'VDET_FETCH_REFUSED'], url);
    }
    assert.equal(await storedUploads(), before, 'nothing stored');
  });

  test('each way a fetch fails has its code, and leaves nothing stored', async () => {
    const before = await storedUploads();
    const cases: [string, number, string, RegExp][] = [
      ['/missing.mp4', 502, 'VDET_FETCH_FAILED', /answered HTTP 404/],
      ['/big', 413, 'VDET_UPLOAD_TOO_LARGE', /3145728 bytes; this server accepts at most 2097152/],
      ['/big-chunked', 413, 'VDET_UPLOAD_TOO_LARGE', /larger than this server accepts/],
      ['/page', 415, 'VDET_UNSUPPORTED_MEDIA', /not a video or image vdet reads/],
      ['/hang', 502, 'VDET_FETCH_FAILED', /did not answer within 1 s/],
      ['/dribble', 502, 'VDET_FETCH_FAILED', /did not arrive within 3 s/],
    ];
    for (const [path, status, code, detail] of cases) {
      const r = await byUrl(allowed, { url: `${base}${path}` });
      assert.deepEqual([r.status, r.body.code], [status, code], `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.detail ?? '', detail, path);
    }
    const shapes: [unknown, RegExp][] = [[{ href: 'x' }, /url|Unexpected property/i], [{ url: `${base}/videos/t.mp4`, options: { fps: -1 } }, /Option "fps"/]];
    for (const [body, detail] of shapes) {
      const r = await byUrl(allowed, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.detail ?? '', detail);
    }
    assert.equal(await storedUploads(), before);
  });
});
