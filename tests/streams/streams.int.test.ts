import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { ApiKeyStore } from '../../src/shared/api-keys.js';
import { StreamResult } from '../../src/shared/contracts/stream.js';
import { connectStore } from '../../src/shared/mongo.js';
import { topicNames } from '../../src/shared/topics.js';
import { authHeaders, type Target } from '../helpers/client.js';
import { imagePath } from '../helpers/paths.js';
import { compareToReference, loadReference } from '../helpers/reference.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

/** Frames pushed straight into Kafka, through the four roles as processes, read back from vdet.results. */
describe('streams: frames in on vdet.frames, results out on vdet.results', () => {
  const KEY = `vdet_streams_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_FRAME_MAX_BYTES: String(400 * 1024) });
  const topics = topicNames(stack.config.kafka.topicPrefix);
  const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
  const roles: RunningRole[] = [];
  const results: StreamResult[] = [];
  const deadLetters: { key: string; headers: Record<string, string> }[] = [];
  let producer: Producer;
  let consumers: Consumer[] = [];
  let api: Target;
  let other: Target;

  const send = (stream: string | null, value: Buffer, headers: Record<string, string> = {}) =>
    producer.send({ topic: topics.frames, messages: [{ key: stream, value, headers }] });
  const resultsOf = (stream: string) => results.filter((r) => r.stream === stream);
  async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !(await check());) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    for (const role of ['merger', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    api = { base: await apiUrl(roles[3]!), key: KEY };
    const store = await connectStore(stack.config.mongo);
    other = { base: api.base, key: (await new ApiKeyStore(store.db).create('someone-else', 'test')).key };
    await store.close();
    producer = kafka.producer();
    await producer.connect();
    for (const [topic, sink] of [[topics.results, 'results'], [topics.dlq, 'dlq']] as const) {
      const consumer = kafka.consumer({ groupId: `${stack.id}-${sink}-reader`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (sink === 'results') results.push(StreamResult.decode(message.value));
          else deadLetters.push({ key: message.key?.toString() ?? '', headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) });
        },
      });
      consumers.push(consumer);
    }
  });

  after(async () => {
    for (const c of consumers) await c.disconnect();
    consumers = [];
    await producer.disconnect();
    for (const role of roles) await role.stop();
    await stack.cleanup();
  });

  test('frames of the reference images give the reference detections', async () => {
    const names = ['dog', 'horses', 'person', 'eagle'];
    for (const [i, name] of names.entries()) await send('cam-reference', readFileSync(imagePath(name)), { 'vdet-seq': String(i), 'vdet-ts': String(Date.now()) });
    await until('4 results', () => resultsOf('cam-reference').length >= 4);
    for (const [i, name] of names.entries()) {
      const result = resultsOf('cam-reference').find((r) => r.seq === i)!;
      const reference = loadReference(name);
      assert.deepEqual([result.width, result.height], [reference.width, reference.height]);
      assert.deepEqual(compareToReference(result.detections, reference.detections), [], name);
      assert.ok(result.latencyMs >= 0 && result.latencyMs < 30_000);
    }
  });

  test('results come out in order per stream, each frame once', async () => {
    const frame = readFileSync(imagePath('person'));
    for (let seq = 0; seq < 20; seq++) {
      for (const stream of ['cam-a', 'cam-b']) await send(stream, frame, { 'vdet-seq': String(seq), 'vdet-ts': String(Date.now()) });
    }
    await until('40 results', () => resultsOf('cam-a').length >= 20 && resultsOf('cam-b').length >= 20);
    for (const stream of ['cam-a', 'cam-b']) assert.deepEqual(resultsOf(stream).map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i));
    const stats = (await (await fetch(`${api.base}/v1/streams/cam-a`, { headers: authHeaders(api) })).json()) as { stats: { processed: number; framesIn: number; latencyMs: { p50: number } } };
    assert.equal(stats.stats.processed, 20);
    assert.equal(stats.stats.framesIn, 20);
    assert.ok(stats.stats.latencyMs.p50 > 0);
  });

  test('bad frames go to the dead-letter topic with a reason; the stream goes on', async () => {
    const jpeg = readFileSync(imagePath('dog'));
    await send('cam-bad', Buffer.from('this is not an image'));
    await send('cam-bad', jpeg.subarray(0, 2000)); // truncated
    await send('cam-bad', Buffer.concat([jpeg, Buffer.alloc(400 * 1024)])); // over VDET_FRAME_MAX_BYTES
    await send(null, jpeg); // no key: no stream id
    await send('cam-bad', jpeg, { 'vdet-seq': '99' });
    await until('4 dead letters', () => deadLetters.length >= 4);
    await until('the good frame', () => resultsOf('cam-bad').some((r) => r.seq === 99));
    assert.ok(deadLetters.every((d) => d.headers['vdet-error-code'] === 'VDET_FRAME_INVALID' && d.headers['vdet-source-topic'] === topics.frames));
    const reasons = deadLetters.map((d) => d.headers['vdet-error']).join(' | ');
    for (const reason of [/not a JPEG, PNG or WebP/, /could not be decoded/, /at most 409600/, /no key/]) assert.match(reasons, reason);
    const stats = (await (await fetch(`${api.base}/v1/streams/cam-bad`, { headers: authHeaders(api) })).json()) as { stats: { failed: number; processed: number } };
    assert.equal(stats.stats.failed, 3);
    assert.equal(stats.stats.processed, 1);
  });

  test('drop-oldest skips frames past their lag bound, and counts them; settings apply without a restart', async () => {
    const put = await fetch(`${api.base}/v1/streams/cam-late/settings`, {
      method: 'PUT', headers: authHeaders(api, { 'content-type': 'application/json' }), body: JSON.stringify({ policy: 'drop-oldest', maxLagMs: 5000 }),
    });
    assert.equal(put.status, 200);
    const frame = readFileSync(imagePath('eagle'));
    for (let seq = 0; seq < 5; seq++) await send('cam-late', frame, { 'vdet-seq': String(seq), 'vdet-ts': String(Date.now() - 60_000) });
    for (let seq = 5; seq < 8; seq++) await send('cam-late', frame, { 'vdet-seq': String(seq), 'vdet-ts': String(Date.now()) });
    await until('the fresh frames', () => resultsOf('cam-late').length >= 3);
    assert.deepEqual(resultsOf('cam-late').map((r) => r.seq), [5, 6, 7]);
    const view = (await (await fetch(`${api.base}/v1/streams/cam-late`, { headers: authHeaders(api) })).json()) as { stats: { dropped: number; processed: number; framesIn: number } };
    assert.deepEqual([view.stats.framesIn, view.stats.dropped, view.stats.processed], [8, 5, 3]);
  });

  test('the api: list, time-range detections, live events, and other tenants see nothing', async () => {
    const list = (await (await fetch(`${api.base}/v1/streams`, { headers: authHeaders(api) })).json()) as { items: { id: string }[] };
    assert.ok(['cam-a', 'cam-b', 'cam-reference'].every((id) => list.items.some((s) => s.id === id)));
    const all = (await (await fetch(`${api.base}/v1/streams/cam-a/detections?limit=7`, { headers: authHeaders(api) })).json()) as { items: { seq: number; ts: number }[]; next: string };
    assert.equal(all.items.length, 7);
    const from = all.items[3]!.ts;
    const ranged = (await (await fetch(`${api.base}/v1/streams/cam-a/detections?from=${from}&limit=1000`, { headers: authHeaders(api) })).json()) as { items: { ts: number }[] };
    assert.ok(ranged.items.length >= 17 && ranged.items.every((i) => i.ts >= from));

    const events = await fetch(`${api.base}/v1/streams/cam-live/events`, { headers: authHeaders(api) });
    assert.equal(events.status, 404); // not known yet
    await send('cam-live', readFileSync(imagePath('dog')), { 'vdet-seq': '0' });
    await until('cam-live registered', () => resultsOf('cam-live').length === 1);
    const live = await fetch(`${api.base}/v1/streams/cam-live/events`, { headers: authHeaders(api) });
    assert.equal(live.status, 200);
    const reader = live.body!.getReader();
    await send('cam-live', readFileSync(imagePath('dog')), { 'vdet-seq': '1' });
    let text = '';
    while (!/event: result\ndata: .*"seq":1/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    for (const path of ['/v1/streams/cam-a', '/v1/streams/cam-a/detections', '/v1/streams/cam-a/events']) {
      assert.equal((await fetch(`${other.base}${path}`, { headers: authHeaders(other) })).status, 404, path);
    }
    const claim = await fetch(`${other.base}/v1/streams/cam-a/settings`, { method: 'PUT', headers: authHeaders(other, { 'content-type': 'application/json' }), body: '{}' });
    assert.equal(claim.status, 404);
    assert.equal(((await (await fetch(`${other.base}/v1/streams`, { headers: authHeaders(other) })).json()) as { items: unknown[] }).items.length, 0);
  });
});
