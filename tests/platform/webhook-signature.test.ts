import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { verifyWebhook, webhookHeaders, webhookKeyId } from '../../src/platform/webhook-signature.js';

test('a delivery is signed over timestamp "." body, with the key id of the secret', () => {
  const secret = 'tenant-secret';
  const body = '{"id":"j1","status":"done"}';
  const now = Date.UTC(2025, 0, 1, 12);
  const headers = webhookHeaders(secret, body, now);
  assert.equal(headers['x-vdet-timestamp'], String(now / 1000));
  assert.equal(headers['x-vdet-signature'], `v1=${createHmac('sha256', secret).update(`${now / 1000}.${body}`).digest('hex')}`);
  assert.equal(headers['x-vdet-key-id'], `whk_${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`);
  assert.notEqual(webhookKeyId('another secret'), headers['x-vdet-key-id']);
});

test('a receiver rejects a changed body, another secret and a replay older than 5 minutes', () => {
  const body = '{"id":"j1"}';
  const now = Date.UTC(2025, 0, 1, 12);
  const h = webhookHeaders('s', body, now);
  const given = { timestamp: h['x-vdet-timestamp'], signature: h['x-vdet-signature'] };
  assert.ok(verifyWebhook('s', given, body, now + 60_000));
  assert.ok(!verifyWebhook('s', given, '{"id":"j2"}', now));
  assert.ok(!verifyWebhook('t', given, body, now));
  assert.ok(!verifyWebhook('s', given, body, now + 301_000), 'replayed 5 min 1 s later');
  assert.ok(!verifyWebhook('s', { ...given, timestamp: String(now / 1000 + 1) }, body, now), 'timestamp changed');
  assert.ok(!verifyWebhook('s', { timestamp: undefined, signature: given.signature }, body, now));
});

test('signed by two secrets during a rotation: both key ids and signatures, either secret verifies, a third does not', () => {
  const body = '{"id":"j1"}';
  const now = Date.UTC(2025, 0, 1, 12);
  const h = webhookHeaders(['new-secret', 'old-secret'], body, now);
  assert.equal(h['x-vdet-key-id'], `${webhookKeyId('new-secret')}, ${webhookKeyId('old-secret')}`);
  assert.equal(h['x-vdet-signature'], `${webhookHeaders('new-secret', body, now)['x-vdet-signature']}, ${webhookHeaders('old-secret', body, now)['x-vdet-signature']}`);
  const given = { timestamp: h['x-vdet-timestamp'], signature: h['x-vdet-signature'] };
  assert.ok(verifyWebhook('new-secret', given, body, now));
  assert.ok(verifyWebhook('old-secret', given, body, now));
  assert.ok(!verifyWebhook('another', given, body, now));
  assert.ok(!verifyWebhook('old-secret', given, '{"id":"j2"}', now));
});
