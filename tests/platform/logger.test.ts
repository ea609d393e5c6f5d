import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, redactCallbackUrl, redactRequestUrl } from '../../src/platform/logger.js';

/** What the logger writes. */
function captured(log: (logger: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  log(createLogger('info', 'test', { write: (line: string) => lines.push(line) }));
  return lines.join('');
}

test('tokens in URLs, keys in headers and callback query strings never reach a log line', () => {
  const out = captured((log) => {
    log.info({ req: { method: 'GET', url: '/v1/jobs/j1/source?token=MTcx.SECRET-SIG&x=1', headers: { authorization: 'Bearer vdet_SECRET_KEY' } } }, 'incoming request');
    log.info({ headers: { authorization: 'Bearer vdet_SECRET_KEY2', 'x-api-key': 'vdet_SECRET_KEY3' } }, 'headers');
    log.info({ jobId: 'j1', options: { fps: 5, callbackUrl: 'https://hooks.example.com/in?auth=RECEIVER_SECRET' } }, 'job accepted');
    log.info({ url: 'https://example.com/x?token=SECRET_TOKEN' }, 'a url');
  });
  for (const secret of ['SECRET-SIG', 'vdet_SECRET_KEY', 'vdet_SECRET_KEY2', 'vdet_SECRET_KEY3', 'RECEIVER_SECRET', 'SECRET_TOKEN']) {
    assert.ok(!out.includes(secret), `${secret} leaked:\n${out}`);
  }
  assert.match(out, /\/v1\/jobs\/j1\/source\?token=\[redacted\]&x=1/);
  assert.match(out, /https:\/\/hooks\.example\.com\/in\?\[redacted\]/);
  assert.match(out, /"fps":5/);
});

test('the redactions keep what a reader needs', () => {
  assert.equal(redactRequestUrl('/v1/jobs?limit=5'), '/v1/jobs?limit=5');
  assert.equal(redactRequestUrl('/x?a=1&TOKEN=abc&key=k#f'), '/x?a=1&TOKEN=[redacted]&key=[redacted]#f');
  assert.equal(redactCallbackUrl('https://h.example/p'), 'https://h.example/p');
  assert.equal(redactCallbackUrl('https://h.example/p#frag'), 'https://h.example/p');
});
