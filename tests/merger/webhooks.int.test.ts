import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { WebhookOutboxStore } from '../../src/store/webhook-outbox.js';
import { WebhookOutbox } from '../../src/merger/webhooks.js';
import { PUBLIC_ONLY, buildAddressPolicy, type AddressPolicy } from '../../src/platform/address-policy.js';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import type { Resolver } from '../../src/platform/guarded-http.js';
import { connectStore, type Store } from '../../src/store/mongo.js';
import type { JobRecord } from '../../src/store/job-record.js';
import { verifyWebhook, webhookKeyId } from '../../src/platform/webhook-signature.js';
import { createTestEnv } from '../helpers/stack.js';

interface Outboxed { _id: string; attempts: number; deliveredAt?: Date; lastError?: string }

/**
 * Job callbacks against a listener on loopback, with the merger's outbox on the real MongoDB: what the address
 * policy refuses never reaches the listener, whatever spelling or name leads there; what it allows is delivered to
 * the address that was checked, signed with a timestamp and key id.
 */
describe('webhook delivery: SSRF guard and signature', () => {
  const stack = createTestEnv();
  let store: Store;
  let keys: ApiKeyStore;
  let server: Server;
  let port = 0;
  const received: { url: string; headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  const outboxes: WebhookOutbox[] = [];

  before(async () => {
    store = await connectStore(stack.config.mongo);
    keys = new ApiKeyStore(store.db);
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (c: Buffer) => (body += c.toString()));
      request.on('end', () => {
        received.push({ url: request.url ?? '', headers: request.headers, body });
        // A receiver that takes its time: /slow/… answers after 6 s.
        setTimeout(() => response.writeHead(204).end(), request.url?.startsWith('/slow/') ? 6_000 : 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const outbox of outboxes) outbox.stop();
    server.close();
    await store.close();
    await stack.cleanup();
  });

  /** A job of `tenant` that ended, with this callback URL. */
  async function endedJob(url: string, tenant = 'tenant-w'): Promise<string> {
    const id = url.split('/').at(-1)!;
    const now = new Date();
    await store.jobs.insertOne({
      _id: id, tenant, status: 'done', filename: 'x.jpg', uploadId: `${tenant}/${id}`, uploadBytes: 1,
      options: { callbackUrl: url }, progress: { framesDone: 1, framesTotal: 1 }, createdAt: now, finishedAt: now,
    } as unknown as JobRecord);
    return id;
  }

  /** Ends a job with this callback URL and runs an outbox with this policy until it delivered or failed once. */
  async function deliver(base: string, policy: AddressPolicy, resolve?: Resolver): Promise<{ record: Outboxed; hits: typeof received }> {
    const id = await endedJob(`${base}/${randomUUID()}`);
    const url = `${base}/${id}`;
    const outbox = new WebhookOutbox(new WebhookOutboxStore(store.db, store.jobs), keys, pino({ level: 'silent' }), { policy, resolve });
    outboxes.push(outbox);
    const before = received.length;
    // Earlier cases' refused deliveries wait for a retry: park them, so this outbox (with its own policy) tries only this one.
    await store.db.collection<Outboxed>('webhooks').updateMany({ deliveredAt: { $exists: false } }, { $set: { nextAt: new Date(8.64e15) } });
    outbox.start();
    try {
      for (let i = 0; i < 100; i++) {
        const record = await store.db.collection<Outboxed>('webhooks').findOne({ _id: `${id}:done` });
        if (record && record.attempts >= 1) return { record, hits: received.slice(before).filter((r) => r.url === `/${id}`) };
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no delivery attempt for ${url}`);
    } finally {
      outbox.stop();
    }
  }

  const fakeDns = (answers: Record<string, string[]>, calls: string[] = []): Resolver => async (host) => {
    calls.push(host);
    const addresses = answers[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  test('loopback in every spelling, and names that resolve to it, are refused at delivery; the listener sees nothing', async () => {
    const dns = fakeDns({ 'rebind.example': ['127.0.0.1'], 'metadata.example': ['169.254.169.254'], 'mixed.example': ['93.184.215.14', '10.0.0.7'] });
    for (const host of ['127.0.0.1', 'localhost', 'localhost.', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::1]', '[::]', '0.0.0.0', '2130706433',
      'rebind.example', 'metadata.example', 'mixed.example']) {
      const { record, hits } = await deliver(`http://${host}:${port}`, PUBLIC_ONLY, dns);
      assert.equal(hits.length, 0, `${host} reached the listener`);
      assert.equal(record.deliveredAt, undefined, host);
      assert.match(record.lastError ?? '', /^refused: /, `${host}: ${record.lastError}`);
    }
  });

  test('what the operator allows is delivered, to the address that was checked, signed with timestamp and key id', async () => {
    // The first answer is the allowed 127.0.0.1; a second lookup would say 127.0.0.2, where nothing listens: the
    // delivery succeeds only if the socket connects to the address that was checked (no second resolution).
    const calls: string[] = [];
    let asked = 0;
    const flipping: Resolver = async (host) => {
      calls.push(host);
      return [{ address: asked++ === 0 ? '127.0.0.1' : '127.0.0.2', family: 4 }];
    };
    const ranges = buildAddressPolicy(false, ['127.0.0.1/32']).policy;
    const flipped = await deliver(`http://flip.example:${port}`, ranges, flipping);
    assert.equal(flipped.hits.length, 1, String(flipped.record.lastError));
    assert.ok(flipped.record.deliveredAt);
    assert.deepEqual(calls, ['flip.example'], 'resolved once, at delivery');

    const named = await deliver(`http://hooks.internal:${port}`, buildAddressPolicy(false, ['hooks.internal']).policy, fakeDns({ 'hooks.internal': ['127.0.0.1'] }));
    assert.equal(named.hits.length, 1, String(named.record.lastError));

    const open = await deliver(`http://127.0.0.1:${port}`, buildAddressPolicy(true, []).policy);
    assert.equal(open.hits.length, 1, 'VDET_WEBHOOK_ALLOW_PRIVATE=true still delivers to loopback');
    const [hit] = open.hits;
    const secret = await keys.webhookSecret('tenant-w');
    const headers = { timestamp: hit!.headers['x-vdet-timestamp'] as string, signature: hit!.headers['x-vdet-signature'] as string };
    assert.ok(Math.abs(Number(headers.timestamp) - Date.now() / 1000) < 60, headers.timestamp);
    assert.equal(hit!.headers['x-vdet-key-id'], webhookKeyId(secret));
    assert.ok(verifyWebhook(secret, headers, hit!.body), 'the signature covers timestamp "." body');
    assert.ok(!verifyWebhook(secret, headers, hit!.body, Date.now() + 6 * 60_000), 'and is stale 6 minutes later');
  });

  test('a rotated secret: during the overlap each delivery carries both signatures, and either secret verifies it', async () => {
    const old = await keys.webhookSecret('tenant-w');
    const fresh = await keys.rotateWebhookSecret('tenant-w', 60_000);
    assert.notEqual(fresh, old);
    const during = await deliver(`http://127.0.0.1:${port}`, buildAddressPolicy(true, []).policy);
    const [hit] = during.hits;
    const headers = { timestamp: hit!.headers['x-vdet-timestamp'] as string, signature: hit!.headers['x-vdet-signature'] as string };
    assert.equal(hit!.headers['x-vdet-key-id'], `${webhookKeyId(fresh)}, ${webhookKeyId(old)}`);
    assert.ok(verifyWebhook(fresh, headers, hit!.body), 'a receiver already on the new secret');
    assert.ok(verifyWebhook(old, headers, hit!.body), 'a receiver still on the old one');
    assert.ok(!verifyWebhook('neither', headers, hit!.body));
    const newest = await keys.rotateWebhookSecret('tenant-w', 0); // no overlap: the previous one stops at once
    const after = (await deliver(`http://127.0.0.1:${port}`, buildAddressPolicy(true, []).policy)).hits[0]!;
    assert.equal(after.headers['x-vdet-key-id'], webhookKeyId(newest));
    const afterHeaders = { timestamp: after.headers['x-vdet-timestamp'] as string, signature: after.headers['x-vdet-signature'] as string };
    assert.ok(verifyWebhook(newest, afterHeaders, after.body));
    assert.ok(!verifyWebhook(fresh, afterHeaders, after.body));
  });

  test('one tenant\'s slow receiver does not hold up another tenant\'s callbacks', async (t) => {
    await store.db.collection<Outboxed>('webhooks').updateMany({ deliveredAt: { $exists: false } }, { $set: { nextAt: new Date(8.64e15) } });
    const slow = await Promise.all(Array.from({ length: 6 }, () => endedJob(`http://127.0.0.1:${port}/slow/${randomUUID()}`, 'tenant-slow')));
    const fast = await endedJob(`http://127.0.0.1:${port}/${randomUUID()}`, 'tenant-fast');
    const outbox = new WebhookOutbox(new WebhookOutboxStore(store.db, store.jobs), keys, pino({ level: 'silent' }), { policy: buildAddressPolicy(true, []).policy });
    outboxes.push(outbox);
    const started = Date.now();
    outbox.start();
    try {
      while (!received.some((r) => r.url === `/${fast}`)) {
        assert.ok(Date.now() - started < 5_000, 'the fast tenant\'s callback waited behind the slow receiver');
        await new Promise((r) => setTimeout(r, 50));
      }
      const fastMs = Date.now() - started;
      const slowSeen = received.filter((r) => slow.some((id) => r.url === `/slow/${id}`)).length;
      t.diagnostic(`fast tenant's callback after ${fastMs} ms; the slow tenant's receiver had ${slowSeen} of 6 open (at most 2 at once)`);
      assert.ok(slowSeen <= 2, `${slowSeen} slow deliveries under way at once`);
    } finally {
      outbox.stop();
    }
  });
});
