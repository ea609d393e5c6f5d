import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, type Target } from '../helpers/client.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/**
 * Limits before and after authentication, counted in Redis (@fastify/rate-limit's store): two api processes on one
 * stack share them. VDET_TRUST_PROXY=true lets the test be many client addresses (X-Forwarded-For).
 */
describe('api limits: per address before authentication, wrong keys, per key; shared by every replica', () => {
  const KEY = `vdet_limits_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TRUST_PROXY: 'true',
    VDET_AUTH_FAILURES_PER_MIN: '10', VDET_RATE_LIMIT_PER_ADDRESS_PER_MIN: '60', VDET_RATE_LIMIT_PER_MIN: '1000000',
  });
  const apis: RunningRole[] = [];
  let bases: string[] = [];

  before(async () => {
    apis.push(startRole('api', stack.env), startRole('api', stack.env));
    await waitStarted(apis);
    bases = await Promise.all(apis.map((api) => apiUrl(api)));
  });

  after(async () => {
    for (const api of apis) await api.stop();
    await stack.cleanup();
  });

  const from = (address: string, target: Target, path = '/v1/jobs') =>
    fetch(`${target.base}${path}`, { headers: authHeaders(target, { 'x-forwarded-for': address }) }).then(async (r) => ({
      status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { code?: string; detail?: string },
    }));

  test('an address guessing keys gets 429 after 10 wrong ones, on either replica; a key in use there keeps working', async () => {
    const good = { base: bases[0]!, key: KEY };
    assert.equal((await from('198.51.100.10', good)).status, 200);
    for (let i = 0; i < 10; i++) {
      const wrong = await from('198.51.100.10', { base: bases[i % 2]!, key: `vdet_guess_${i}` });
      assert.deepEqual([wrong.status, wrong.body.code], [401, 'VDET_UNAUTHORIZED'], `guess ${i}`);
    }
    for (const base of bases) {
      const limited = await from('198.51.100.10', { base, key: 'vdet_guess_more' });
      assert.deepEqual([limited.status, limited.body.code], [429, 'VDET_RATE_LIMITED'], base);
      assert.ok(Number(limited.retryAfter) >= 1 && Number(limited.retryAfter) <= 60, String(limited.retryAfter));
      assert.match(limited.body.detail ?? '', /This address sent 10 invalid API keys within a minute; retry in \d+ s\./);
    }
    assert.equal((await from('198.51.100.10', good)).status, 200, 'the tenant\'s key, verified a moment ago, is not locked out');
    assert.equal((await from('198.51.100.11', { base: bases[1]!, key: 'vdet_guess_other' })).status, 401, 'another address has its own count');
  });

  test('an address gets 60 requests a minute whatever the key, on both replicas together; others are not affected', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await from('203.0.113.20', { base: bases[i % 2]!, key: KEY })).status);
    assert.deepEqual(statuses.slice(0, 60), Array(60).fill(200));
    assert.equal(statuses[60], 429);
    const limited = await from('203.0.113.20', { base: bases[0]!, key: KEY });
    assert.match(limited.body.detail ?? '', /This address may make 60 requests a minute; retry in \d+ s\./);
    const noKey = await fetch(`${bases[1]}/v1/jobs`, { headers: { 'x-forwarded-for': '203.0.113.20' } });
    assert.equal(noKey.status, 429, 'counted before authentication: no key is no way round it');
    await noKey.body?.cancel();
    assert.equal((await from('203.0.113.21', { base: bases[0]!, key: KEY })).status, 200);
    const probe = await fetch(`${bases[0]}/healthz`, { headers: { 'x-forwarded-for': '203.0.113.20' } });
    assert.equal(probe.status, 200, 'probes are not limited');
    await probe.body?.cancel();
  });
});
