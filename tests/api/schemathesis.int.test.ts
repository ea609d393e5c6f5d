import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/** schemathesis (PyPI) generates requests for every documented operation: no 5xx, every response as documented. */
describe('the api against its own OpenAPI document', () => {
  const KEY = `vdet_schemathesis_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'warn', VDET_BOOTSTRAP_KEY: KEY, VDET_RATE_LIMIT_PER_MIN: '1000000' });
  let api: RunningRole;
  let base = '';

  before(async () => {
    api = startRole('api', { ...stack.env, VDET_LOG_LEVEL: 'info' });
    await waitStarted([api]);
    base = await apiUrl(api);
  });

  after(async () => {
    await api.stop();
    await stack.cleanup();
  });

  test('schemathesis finds no server error and no response off its schema', async (t) => {
    const child = spawn('bash', ['scripts/schemathesis.sh', base, KEY], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    t.diagnostic(output.split('\n').filter((l) => /passed|failed|operations|Test cases/i.test(l)).slice(-6).join('\n'));
    if (code !== 0) console.error(api.output().split('\n').filter((l) => l.includes('"level":50')).slice(-3).join('\n'));
    assert.equal(code, 0, output.slice(-6000));
    assert.doesNotMatch(api.output(), /"level":50/, 'the api logged an error');
  });
});
