import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MEDIA_TOKEN_MAX_TTL_MS, signMediaToken } from '../../src/api/media-token.js';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { connectStore } from '../../src/store/mongo.js';
import { authHeaders, submitJob, uploadFile, type Target } from '../helpers/client.js';
import { imagePath } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/**
 * docs/security.md's promises about the api, over a real socket against the real stack: headers, media served as
 * what it is, media tokens of the server's own key, /readyz detail for the operator only, nothing secret in the log,
 * no unusable bootstrap key. Only the api runs: no job needs to finish.
 */
describe('api security', () => {
  const KEY = `vdet_security_${Date.now()}_0123456789abcdef`;
  const OPS_TOKEN = `ops_${Date.now()}_0123456789abcdef0123456789`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_OPS_TOKEN: OPS_TOKEN });
  let api: RunningRole;
  let a: Target;

  before(async () => {
    api = startRole('api', stack.env);
    await waitStarted([api]);
    a = { base: await apiUrl(api), key: KEY };
  });

  after(async () => {
    await api?.stop();
    await stack.cleanup();
  });

  test('security headers: a restrictive CSP on the viewer and /docs, nosniff, no framing, no referrer', async () => {
    for (const path of ['/', '/docs/', '/v1/jobs', '/healthz']) {
      const response = await fetch(`${a.base}${path}`, { headers: authHeaders(a) });
      await response.body?.cancel();
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, `${path}: ${csp}`);
      assert.match(csp, /object-src 'none'/, path);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, path);
    }
    const viewer = (await fetch(`${a.base}/`)).headers.get('content-security-policy') ?? '';
    assert.doesNotMatch(viewer, /unsafe-inline|unsafe-eval/, viewer);
    assert.match(viewer, /media-src 'self' blob:/);
  });

  test('an upload is served as what its bytes are, never as the Content-Type it was sent with', async () => {
    const html = Buffer.from('BM<script>alert(document.domain)</script>'.padEnd(64, ' '));
    const refused = await uploadFile(a, new Blob([html], { type: 'text/html' }), undefined, 'x.html');
    assert.equal(refused.status, 415, 'BM followed by HTML is no BMP');
    assert.equal(((await refused.json()) as { code: string }).code, 'VDET_UNSUPPORTED_MEDIA');

    const id = await submitJob(a, new Blob([readFileSync(imagePath('dog'))], { type: 'text/html' }), undefined, 'dog.html');
    const { url } = (await (await fetch(`${a.base}/v1/jobs/${id}/source-url`, { method: 'POST', headers: authHeaders(a) })).json()) as { url: string };
    for (const [how, request] of [['key', () => fetch(`${a.base}/v1/jobs/${id}/source`, { headers: authHeaders(a) })], ['signed URL', () => fetch(`${a.base}${url}`)]] as const) {
      const response = await request();
      await response.body?.cancel();
      assert.equal(response.status, 200, how);
      assert.equal(response.headers.get('content-type'), 'image/jpeg', how);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', how);
      assert.equal(response.headers.get('content-security-policy'), 'sandbox', how);
    }

    // An upload stored before vdet sniffed it, with the client's text/html kept: its bytes decide, not that.
    const store = await connectStore(stack.config.mongo);
    try {
      const job = await store.jobs.findOne({ _id: id });
      await store.uploads.write(job!.uploadId, Readable.from([html]), { tenant: job!.tenant, contentType: 'text/html' });
    } finally {
      await store.close();
    }
    const legacy = await fetch(`${a.base}/v1/jobs/${id}/source`, { headers: authHeaders(a) });
    assert.equal(legacy.status, 200);
    assert.equal(legacy.headers.get('content-type'), 'application/octet-stream');
    assert.equal(legacy.headers.get('content-security-policy'), 'sandbox');
    assert.ok(Buffer.from(await legacy.arrayBuffer()).equals(html), 'the newest revision was served');
  });

  test('media tokens: signed with the server key, for one job, and never longer than 24 h', async () => {
    const id = await submitJob(a, imagePath('dog'));
    const asked = await fetch(`${a.base}/v1/jobs/${id}/source-url?ttlS=31536000`, { method: 'POST', headers: authHeaders(a) });
    const { url, expiresAt } = (await asked.json()) as { url: string; expiresAt: string };
    assert.ok(Date.parse(expiresAt) <= Date.now() + MEDIA_TOKEN_MAX_TTL_MS + 5_000, `a year was asked, ${expiresAt} given`);
    const ok = await fetch(`${a.base}${url}`);
    await ok.body?.cancel();
    assert.equal(ok.status, 200);

    const store = await connectStore(stack.config.mongo);
    const keys = new ApiKeyStore(store.db);
    const [mediaKey, tenantSecret] = [await keys.mediaTokenKey(), await keys.webhookSecret(stack.config.http.bootstrapTenant)];
    await store.close();
    assert.notEqual(mediaKey, tenantSecret);
    const statusOf = async (expiresAtMs: number, key: string) => {
      const response = await fetch(`${a.base}/v1/jobs/${id}/source?token=${signMediaToken({ purpose: 'job-media', jobId: id, expiresAtMs }, key)}`);
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await statusOf(Date.now() + 60_000, mediaKey), 200);
    assert.equal(await statusOf(Date.now() + 60_000, tenantSecret), 401, 'the tenant\'s webhook secret signs no media token');
    assert.equal(await statusOf(Date.now() + 365 * 24 * 3600_000, mediaKey), 401, 'a far-future expiry');
  });

  test('/readyz: the status for anyone, the checks and their errors only with VDET_OPS_TOKEN', async () => {
    const anonymous = (await (await fetch(`${a.base}/readyz`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(anonymous), ['status']);
    const tenant = (await (await fetch(`${a.base}/readyz`, { headers: authHeaders(a) })).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(tenant), ['status'], 'a tenant\'s key is not the operator\'s');
    const wrong = (await (await fetch(`${a.base}/readyz`, { headers: { authorization: `Bearer ${OPS_TOKEN}x` } })).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(wrong), ['status']);
    const operator = (await (await fetch(`${a.base}/readyz`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })).json()) as { checks: Record<string, unknown> };
    assert.deepEqual(Object.keys(operator.checks).sort(), ['kafka', 'mongo', 'redis']);
  });

  test('callback URLs: a literal IPv4-mapped loopback is refused, a public name starting with "fd" is not', async () => {
    const refused = await uploadFile(a, imagePath('dog'), { callbackUrl: 'http://[::ffff:127.0.0.1]:9/x' });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { detail: string }).detail, /callbackUrl/);
    const accepted = await uploadFile(a, imagePath('dog'), { callbackUrl: 'https://fdic.gov/vdet-hook' });
    assert.equal(accepted.status, 202, await accepted.clone().text());
  });

  test('the log holds no token, key or callback query string', async () => {
    const token = `MTcwMDAwMDAwMDAwMA.LEAKED_SIGNATURE_${Date.now()}`;
    const probe = await fetch(`${a.base}/v1/jobs/00000000-0000-4000-8000-000000000000/source?token=${token}`);
    await probe.body?.cancel();
    const receiverSecret = `RECEIVER_SECRET_${Date.now()}`;
    await submitJob(a, imagePath('dog'), { callbackUrl: `https://hooks.example.com/in?auth=${receiverSecret}` });
    await new Promise((r) => setTimeout(r, 300));
    const log = api.output();
    assert.match(log, /source\?token=\[redacted\]/, 'the request was logged');
    for (const secret of [token, 'LEAKED_SIGNATURE', receiverSecret, KEY, OPS_TOKEN]) assert.ok(!log.includes(secret), `${secret} is in the log`);
  });

  test('a placeholder or short bootstrap key stops the api at start-up with VDET_CONFIG_INVALID', async () => {
    for (const key of ['change-me-bootstrap-key', 'vdet_too_short']) {
      const bad = startRole('api', { ...stack.env, VDET_BOOTSTRAP_KEY: key });
      const code = await new Promise<number | null>((resolve) => bad.child.once('exit', resolve));
      assert.equal(code, 1, key);
      assert.match(bad.output(), /VDET_CONFIG_INVALID.*VDET_BOOTSTRAP_KEY (is a documented placeholder|must be at least 32 characters)/, bad.output());
    }
  });
});
