import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { ApiKeyStore } from '../../src/store/api-keys.js';
import { StreamResult } from '../../src/contracts/stream.js';
import { connectStore } from '../../src/store/mongo.js';
import { topicNames } from '../../src/contracts/topics.js';
import { authHeaders, registerStream, type Target } from '../helpers/client.js';
import { jpegFramesOf } from '../helpers/jpeg-frames.js';
import { imagePath, TOUR_VIDEO } from '../helpers/paths.js';
import { compareToReference, loadReference } from '../helpers/reference.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/** Frames pushed straight into Kafka, through the four roles as processes, read back from vdet.results. */
describe('streams: frames in on vdet.frames, results out on vdet.results', () => {
  const KEY = `vdet_streams_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_FRAME_MAX_BYTES: String(400 * 1024) });
  const topics = topicNames(stack.config.kafka.topicPrefix);
  const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
  const roles: RunningRole[] = [];
  const results: StreamResult[] = [];
  const deadLetters: { key: string; headers: Record<string, string> }[] = [];
  const tokens = new Map<string, string>();
  let producer: Producer;
  let consumers: Consumer[] = [];
  let api: Target;
  let other: Target;

  const rawSend = (stream: string | null, value: Buffer, headers: Record<string, string> = {}) =>
    producer.send({ topic: topics.frames, messages: [{ key: stream, value, headers }] });
  /** Sends as the stream's camera: with the ingest token minted for it (registering it on first use). */
  const send = async (stream: string, value: Buffer, headers: Record<string, string> = {}) => {
    if (!tokens.has(stream)) tokens.set(stream, await registerStream(api, stream));
    await rawSend(stream, value, { 'vdet-token': tokens.get(stream)!, ...headers });
  };
  const resultsOf = (stream: string, tenant = 'default') => results.filter((r) => r.stream === stream && r.tenant === tenant);
  const json = async <T>(target: Target, path: string, init: RequestInit = {}) => {
    const response = await fetch(`${target.base}${path}`, { ...init, headers: authHeaders(target, init.body ? { 'content-type': 'application/json' } : {}) });
    return { status: response.status, body: (response.status === 204 ? null : await response.json()) as T };
  };

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

  test('bad frames go to the dead-letter topic with a reason (or, found out by the detector\'s decode, are counted failed); the stream goes on', async () => {
    const jpeg = readFileSync(imagePath('dog'));
    await send('cam-bad', Buffer.from('this is not an image'));
    await send('cam-bad', jpeg.subarray(0, 2000)); // truncated
    await send('cam-bad', Buffer.concat([jpeg, Buffer.alloc(400 * 1024)])); // over VDET_FRAME_MAX_BYTES
    // A PNG whole to its header (IHDR … IEND) with its compressed data garbled: the detector's decode finds it out.
    const png = await sharp(jpeg).resize(320).png().toBuffer(); // under VDET_FRAME_MAX_BYTES
    png.fill(0x55, png.indexOf('IDAT') + 100, png.indexOf('IDAT') + 400);
    await send('cam-bad', png);
    await rawSend(null, jpeg, { 'vdet-token': tokens.get('cam-bad')! }); // no key: no stream id
    await send('cam-bad', jpeg, { 'vdet-seq': '99' });
    await until('4 dead letters', () => deadLetters.length >= 4);
    await until('the good frame', () => resultsOf('cam-bad').some((r) => r.seq === 99));
    assert.equal(deadLetters.length, 4);
    assert.ok(deadLetters.every((d) => d.headers['vdet-error-code'] === 'VDET_FRAME_INVALID' && d.headers['vdet-source-topic'] === topics.frames));
    assert.ok(deadLetters.every((d) => !Object.values(d.headers).some((v) => v.includes(tokens.get('cam-bad')!))), 'no token in a dead letter');
    const reasons = deadLetters.map((d) => d.headers['vdet-error']).join(' | ');
    for (const reason of [/not a JPEG, PNG or WebP/, /could not be decoded/, /at most 409600/, /no key/]) assert.match(reasons, reason);
    const statsOf = async () => (await (await fetch(`${api.base}/v1/streams/cam-bad`, { headers: authHeaders(api) })).json()) as { stats: { failed: number; processed: number } };
    await until('the counts', async () => (await statsOf()).stats.failed >= 4); // the detector's failure is counted as its chunk is stored
    const stats = await statsOf();
    assert.equal(stats.stats.failed, 4);
    assert.equal(stats.stats.processed, 1);
  });

  test('drop-oldest skips frames past their lag bound, and counts them; settings apply without a restart', async () => {
    tokens.set('cam-late', await registerStream(api, 'cam-late', { policy: 'drop-oldest', maxLagMs: 5000 }));
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
    assert.equal(events.status, 404); // not registered yet
    await send('cam-live', readFileSync(imagePath('dog')), { 'vdet-seq': '0' });
    await until('cam-live\'s first result', () => resultsOf('cam-live').length === 1);
    const live = await fetch(`${api.base}/v1/streams/cam-live/events`, { headers: authHeaders(api) });
    assert.equal(live.status, 200);
    const reader = live.body!.getReader();
    await send('cam-live', readFileSync(imagePath('dog')), { 'vdet-seq': '1' });
    let text = '';
    while (!/event: result\ndata: .*"seq":1/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    for (const path of ['/v1/streams/cam-a', '/v1/streams/cam-a/detections', '/v1/streams/cam-a/events', '/v1/streams/cam-a/tokens']) {
      assert.equal((await fetch(`${other.base}${path}`, { headers: authHeaders(other) })).status, 404, path);
    }
    for (const [method, path] of [['POST', '/v1/streams/cam-a/tokens'], ['DELETE', '/v1/streams/cam-a'], ['DELETE', '/v1/streams/cam-a/tokens/0123456789ab']]) {
      assert.equal((await fetch(`${other.base}${path}`, { method, headers: authHeaders(other) })).status, 404, `${method} ${path}`);
    }
    assert.equal((await json<{ items: unknown[] }>(other, '/v1/streams')).body.items.length, 0);
  });

  test('streams belong to credentials: a frame without a valid token of its stream is dead-lettered and stored for nobody', async () => {
    const frame = readFileSync(imagePath('person'));
    const before = deadLetters.length;
    const owner = await json<{ stats: { framesIn: number; processed: number; failed: number } }>(api, '/v1/streams/cam-a');
    await rawSend('cam-a', frame, { 'vdet-seq': '500' }); // no token
    await rawSend('cam-a', frame, { 'vdet-seq': '501', 'vdet-token': 'vdet_st_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }); // well shaped, never minted
    await rawSend('cam-a', frame, { 'vdet-seq': '502', 'vdet-token': 'let me in' });
    await rawSend('cam-a', frame, { 'vdet-seq': '503', 'vdet-token': tokens.get('cam-b')! }); // another stream's token
    await until('4 dead letters', () => deadLetters.length >= before + 4);
    const letters = deadLetters.slice(before);
    assert.ok(letters.every((d) => d.key === 'cam-a' && d.headers['vdet-error-code'] === 'VDET_FRAME_UNAUTHORIZED'), JSON.stringify(letters));
    const reasons = letters.map((d) => d.headers['vdet-error']).join(' | ');
    for (const reason of [/no vdet-token header/, /not valid: it was revoked, or never minted/, /for another stream than its key/]) assert.match(reasons, reason);
    // Nothing reached the stream: no result, no counter, no stored frame.
    await send('cam-a', frame, { 'vdet-seq': '504' });
    await until('the good frame after them', () => resultsOf('cam-a').some((r) => r.seq === 504));
    assert.ok(!resultsOf('cam-a').some((r) => r.seq >= 500 && r.seq <= 503));
    await until('the good frame counted', async () => (await json<{ stats: { processed: number } }>(api, '/v1/streams/cam-a')).body.stats.processed > owner.body.stats.processed);
    const after = await json<{ stats: { framesIn: number; processed: number; failed: number } }>(api, '/v1/streams/cam-a');
    assert.deepEqual([after.body.stats.framesIn, after.body.stats.processed, after.body.stats.failed],
      [owner.body.stats.framesIn + 1, owner.body.stats.processed + 1, owner.body.stats.failed]);
  });

  test('two tenants may both have cam-a: each camera\'s frames reach its own tenant\'s stream only', async () => {
    const registered = await json<{ id: string; stats: { processed: number } }>(other, '/v1/streams/cam-a/settings', { method: 'PUT', body: '{"minScore":0.5}' });
    assert.equal(registered.status, 200); // its own cam-a: the first tenant's is not in its way
    assert.equal(registered.body.stats.processed, 0);
    const minted = await json<{ token: string; id: string; stream: string }>(other, '/v1/streams/cam-a/tokens', { method: 'POST' });
    assert.equal(minted.status, 201);
    assert.match(minted.body.token, new RegExp(`^vdet_st_${minted.body.id}_`));
    const ownerBefore = (await json<{ stats: { processed: number } }>(api, '/v1/streams/cam-a')).body.stats.processed;
    for (let seq = 0; seq < 3; seq++) await rawSend('cam-a', readFileSync(imagePath('dog')), { 'vdet-seq': String(1000 + seq), 'vdet-token': minted.body.token });
    await until('the other tenant\'s 3 results', () => resultsOf('cam-a', 'someone-else').length >= 3);
    assert.deepEqual(resultsOf('cam-a', 'someone-else').map((r) => r.seq), [1000, 1001, 1002]);
    assert.ok(resultsOf('cam-a', 'someone-else').every((r) => r.detections.every((d) => d.score >= 0.5)), 'its own settings apply');
    assert.ok(!resultsOf('cam-a').some((r) => r.seq >= 1000));
    await until('the other tenant\'s frames counted', async () => (await json<{ stats: { processed: number } }>(other, '/v1/streams/cam-a')).body.stats.processed === 3);
    assert.equal((await json<{ stats: { processed: number } }>(api, '/v1/streams/cam-a')).body.stats.processed, ownerBefore);
    await until('the other tenant\'s frames stored', async () => (await json<{ items: unknown[] }>(other, '/v1/streams/cam-a/detections')).body.items.length === 3);
    const theirs = await json<{ items: { seq: number }[] }>(other, '/v1/streams/cam-a/detections');
    assert.deepEqual(theirs.body.items.map((i) => i.seq), [1000, 1001, 1002]);
    const mine = await json<{ items: { seq: number }[] }>(api, '/v1/streams/cam-a/detections?limit=1000');
    assert.ok(!mine.body.items.some((i) => i.seq >= 1000));
    assert.deepEqual((await json<{ items: { id: string }[] }>(other, '/v1/streams')).body.items.map((i) => i.id), ['cam-a']);
  });

  test('tokens: listed without secrets, several at once, revoked within seconds, capped; a removed stream takes its tokens along', async (t) => {
    const frame = readFileSync(imagePath('eagle'));
    tokens.set('cam-rotate', await registerStream(api, 'cam-rotate'));
    const second = await json<{ token: string; id: string }>(api, '/v1/streams/cam-rotate/tokens', { method: 'POST' });
    const list = await json<{ items: { id: string; createdAt: string; lastUsedAt: string | null }[] }>(api, '/v1/streams/cam-rotate/tokens');
    assert.equal(list.body.items.length, 2);
    assert.ok(!JSON.stringify(list.body).includes(second.body.token.slice(-20)), 'no secret in the list');
    // Stored as its SHA-256 only: what the store holds does not hold the token, or its secret part.
    const store = await connectStore(stack.config.mongo);
    try {
      const stored = JSON.stringify(await store.db.collection('stream_tokens').find({}).toArray());
      for (const token of [tokens.get('cam-rotate')!, second.body.token]) {
        assert.ok(!stored.includes(token.slice(-20)), 'no token in the store');
        assert.ok(stored.includes(createHash('sha256').update(token).digest('hex')), 'its SHA-256 is');
      }
    } finally {
      await store.close();
    }
    // Both work at once: the camera moves to the second, then the first is revoked.
    await rawSend('cam-rotate', frame, { 'vdet-seq': '0', 'vdet-token': tokens.get('cam-rotate')! });
    await rawSend('cam-rotate', frame, { 'vdet-seq': '1', 'vdet-token': second.body.token });
    await until('both tokens\' frames', () => resultsOf('cam-rotate').length >= 2);
    const firstId = list.body.items.find((i) => i.id !== second.body.id)!.id;
    assert.ok((await json<{ items: { id: string; lastUsedAt: string | null }[] }>(api, '/v1/streams/cam-rotate/tokens')).body.items.every((i) => i.lastUsedAt !== null));
    assert.equal((await json(api, `/v1/streams/cam-rotate/tokens/${firstId}`, { method: 'DELETE' })).status, 204);
    assert.equal((await json<{ code: string }>(api, `/v1/streams/cam-rotate/tokens/${firstId}`, { method: 'DELETE' })).body.code, 'VDET_STREAM_TOKEN_NOT_FOUND');
    const revokedAt = Date.now();
    const before = deadLetters.length;
    for (let seq = 10; deadLetters.length === before; seq++) {
      assert.ok(Date.now() - revokedAt < 10_000, 'the revoked token still worked after 10 s');
      await rawSend('cam-rotate', frame, { 'vdet-seq': String(seq), 'vdet-token': tokens.get('cam-rotate')! });
      await new Promise((r) => setTimeout(r, 250));
    }
    t.diagnostic(`revoked token refused ${Date.now() - revokedAt} ms after the DELETE`);
    assert.match(deadLetters.at(-1)!.headers['vdet-error']!, /revoked, or never minted/);
    await rawSend('cam-rotate', frame, { 'vdet-seq': '100', 'vdet-token': second.body.token });
    await until('the second token still works', () => resultsOf('cam-rotate').some((r) => r.seq === 100));
    // At most 10 a stream.
    for (let n = 1; n < 10; n++) assert.equal((await json(api, '/v1/streams/cam-rotate/tokens', { method: 'POST' })).status, 201);
    const over = await json<{ code: string }>(api, '/v1/streams/cam-rotate/tokens', { method: 'POST' });
    assert.deepEqual([over.status, over.body.code], [409, 'VDET_STREAM_TOKEN_LIMIT']);
    // Removing the stream removes its tokens, detections and counters; its camera's frames are refused.
    const seen = resultsOf('cam-rotate').length;
    await until('every result counted and stored', async () => (await json<{ stats: { processed: number } }>(api, '/v1/streams/cam-rotate')).body.stats.processed === seen
      && (await json<{ items: unknown[] }>(api, '/v1/streams/cam-rotate/detections?limit=1000')).body.items.length === seen);
    assert.equal((await json(api, '/v1/streams/cam-rotate', { method: 'DELETE' })).status, 204);
    assert.equal((await json(api, '/v1/streams/cam-rotate')).status, 404);
    const again = await json<{ stats: { processed: number; framesIn: number } }>(api, '/v1/streams/cam-rotate/settings', { method: 'PUT', body: '{}' });
    assert.deepEqual([again.body.stats.processed, again.body.stats.framesIn], [0, 0], 'registered again, it starts empty');
    assert.equal((await json<{ items: unknown[] }>(api, '/v1/streams/cam-rotate/detections')).body.items.length, 0);
    assert.equal((await json<{ items: unknown[] }>(api, '/v1/streams/cam-rotate/tokens')).body.items.length, 0);
    const removedAt = Date.now();
    const lettersBefore = deadLetters.length;
    for (let seq = 200; deadLetters.length === lettersBefore; seq++) {
      assert.ok(Date.now() - removedAt < 10_000, 'a removed stream\'s token still worked after 10 s');
      await rawSend('cam-rotate', frame, { 'vdet-seq': String(seq), 'vdet-token': second.body.token });
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(deadLetters.at(-1)!.headers['vdet-error']!, /revoked, or never minted/);
  });

  test('a stream is tracked in sequence order: results carry track ids, and a merger restart keeps them going', async () => {
    const jpegs = jpegFramesOf(TOUR_VIDEO, 10, 4); // the tour's first picture (4 s of it), moving: its objects span the restart
    const t0 = Date.now();
    const push = async (stream: string, from: number, to: number) => {
      for (let seq = from; seq < to; seq++) await send(stream, jpegs[seq]!, { 'vdet-seq': String(seq), 'vdet-ts': String(t0 + seq * 200) });
      await until(`${stream} results up to ${to}`, () => new Set(resultsOf(stream).map((r) => r.seq)).size >= to, 120_000);
    };
    const idsOf = (stream: string) => {
      const first = new Map<number, (number | undefined)[]>();
      for (const r of resultsOf(stream)) if (!first.has(r.seq)) first.set(r.seq, r.detections.map((d) => d.trackId));
      return [...first].sort(([a], [b]) => a - b).map(([, ids]) => ids);
    };
    const half = Math.floor(jpegs.length / 2);
    await push('cam-track-straight', 0, jpegs.length);
    await push('cam-track-restart', 0, half);
    const merger = roles[0]!;
    assert.equal(merger.role, 'merger');
    await merger.stop();
    roles[0] = startRole('merger', stack.env);
    await waitStarted([roles[0]]);
    await push('cam-track-restart', half, jpegs.length);
    const straight = idsOf('cam-track-straight');
    assert.equal(straight.length, jpegs.length);
    const before = new Set(straight.slice(0, half).flat().filter((id) => id !== undefined));
    assert.ok(straight.slice(half).flat().some((id) => id !== undefined && before.has(id)), 'a track spans the restart');
    assert.ok(straight.flat().filter((id) => id !== undefined).length >= jpegs.length, 'objects are tracked');
    assert.deepEqual(idsOf('cam-track-restart'), straight, 'the same ids with a merger restart half-way');
    const stored = (await (await fetch(`${api.base}/v1/streams/cam-track-restart/detections?limit=100`, { headers: authHeaders(api) })).json()) as { items: { seq: number; detections: { trackId?: number }[] }[] };
    assert.deepEqual(stored.items.sort((a, b) => a.seq - b.seq).map((f) => f.detections.map((d) => d.trackId)), straight, 'stored with the same ids');
    const off = await json<{ code: string }>(api, '/v1/streams/cam-track-bad/settings', { method: 'PUT', body: JSON.stringify({ tracking: { highThreshold: 0.9, newTrackThreshold: 0.5 } }) });
    assert.deepEqual([off.status, off.body.code], [400, 'VDET_OPTIONS_INVALID']);
  });

  test('zones and lines on a stream: each result carries what its frame changed, GET /zones counts the same', async (t) => {
    const zones = [{ name: 'everywhere', polygon: [[1, 1], [639, 1], [639, 359], [1, 359]] }];
    const lines = [{ name: 'middle', from: [320, 0], to: [320, 360] }];
    tokens.set('cam-zones', await registerStream(api, 'cam-zones', { zones, lines }));
    const view = await json<{ settings: { zones: unknown; lines: unknown } }>(api, '/v1/streams/cam-zones');
    assert.deepEqual([view.body.settings.zones, view.body.settings.lines], [zones, lines], 'stored and read back as given');
    const jpegs = jpegFramesOf(TOUR_VIDEO, 10, 4);
    const t0 = Date.now();
    for (let seq = 0; seq < jpegs.length; seq++) await send('cam-zones', jpegs[seq]!, { 'vdet-seq': String(seq), 'vdet-ts': String(t0 + seq * 100) });
    await until('cam-zones results', () => new Set(resultsOf('cam-zones').map((r) => r.seq)).size >= jpegs.length, 120_000);
    const bySeq = new Map(resultsOf('cam-zones').map((r) => [r.seq, r]));
    const events = [...bySeq.values()].sort((a, b) => a.seq - b.seq).flatMap((r) => (r.events ?? []).map((e) => ({ ...e, seq: r.seq })));
    const entered = events.filter((e) => e.type === 'entered');
    assert.ok(entered.length >= 2, JSON.stringify(events));
    t.diagnostic(`events over ${jpegs.length} frames: ${['entered', 'left', 'crossed'].map((type) => `${events.filter((e) => e.type === type).length} ${type}`).join(', ')}`);
    for (const e of entered) assert.ok(bySeq.get(e.seq)!.detections.some((d) => d.trackId === e.trackId && d.label === e.label), `track ${e.trackId} is in frame ${e.seq}`);
    const counted = await json<{ zones: { name: string; labels: Record<string, { entered: number }> }[]; lines: { name: string; labels: Record<string, { in: number; out: number }> }[] }>(api, '/v1/streams/cam-zones/zones');
    assert.equal(counted.status, 200);
    const objectsIn: Record<string, Set<number>> = {};
    for (const e of entered) (objectsIn[e.label] ??= new Set()).add(e.trackId);
    assert.deepEqual(Object.fromEntries(Object.entries(counted.body.zones[0]!.labels).map(([label, c]) => [label, c.entered])),
      Object.fromEntries(Object.entries(objectsIn).sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, ids]) => [label, ids.size])), 'distinct objects that entered, per label');
    const crossings: Record<string, { in: number; out: number }> = {};
    for (const e of events) if (e.type === 'crossed') (crossings[e.label] ??= { in: 0, out: 0 })[e.direction]++;
    assert.deepEqual(counted.body.lines, [{ name: 'middle', labels: Object.fromEntries(Object.entries(crossings).sort(([a], [b]) => (a < b ? -1 : 1))) }]);
    // Bad zones and lines get the same answers as a job's options.
    const untracked = await json<{ code: string }>(api, '/v1/streams/cam-zones/settings', { method: 'PUT', body: JSON.stringify({ track: false, zones }) });
    assert.deepEqual([untracked.status, untracked.body.code], [400, 'VDET_OPTIONS_INVALID']);
    const threeD = await json<{ code: string }>(api, '/v1/streams/cam-zones/settings', { method: 'PUT', body: JSON.stringify({ lines: [{ name: 'l', from: [0, 0, 0], to: [5, 5] }] }) });
    assert.deepEqual([threeD.status, threeD.body.code], [400, 'VDET_VALIDATION']);
    await registerStream(api, 'cam-no-zones');
    const none = await json<{ zones: unknown[]; lines: unknown[] }>(api, '/v1/streams/cam-no-zones/zones');
    assert.deepEqual([none.status, none.body.zones, none.body.lines], [200, [], []]);
  });

  test('settings written at once: each PUT lands and answers its own settings; a DELETE meanwhile fails none of them', async () => {
    for (let round = 0; round < 3; round++) {
      const id = `cam-race-${round}`;
      const puts = Array.from({ length: 8 }, (_, i) => json<{ settings: { minScore?: number } }>(api, `/v1/streams/${id}/settings`, { method: 'PUT', body: JSON.stringify({ minScore: i / 10 }) }));
      const removed = round > 0 ? json(api, `/v1/streams/${id}`, { method: 'DELETE' }) : undefined;
      const answers = await Promise.all(puts);
      assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200), `round ${round}`);
      assert.deepEqual(answers.map((a) => a.body.settings.minScore), Array.from({ length: 8 }, (_, i) => i / 10), 'each answers what it wrote');
      assert.ok([204, 404].includes((await removed)?.status ?? 204));
    }
  });

  test('stream ids are checked: not one of letters, digits, _ . : - gets a 400', async () => {
    for (const id of ['cam$1', 'a'.repeat(129), 'cam%20one', 'cam%C3%A9ra']) {
      const put = await json<{ code: string }>(api, `/v1/streams/${id}/settings`, { method: 'PUT', body: '{}' });
      assert.deepEqual([put.status, put.body.code], [400, 'VDET_VALIDATION'], id);
    }
  });
});

/** VDET_STREAM_TOKENS=off: a single-tenant deployment that secures Kafka itself; every stream is the default tenant's. */
describe('streams with tokens off: frames need no token, and every stream belongs to VDET_STREAM_TENANT', () => {
  const KEY = `vdet_streams_off_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_BOOTSTRAP_TENANT: 'site', VDET_STREAM_TOKENS: 'off', VDET_STREAM_TENANT: 'site' });
  const topics = topicNames(stack.config.kafka.topicPrefix);
  const kafka = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING });
  let service: RunningRole;
  let producer: Producer;
  let consumer: Consumer;
  const results: StreamResult[] = [];

  before(async () => {
    service = startRole('all', stack.env);
    await waitStarted([service]);
    producer = kafka.producer();
    await producer.connect();
    consumer = kafka.consumer({ groupId: `${stack.id}-results-reader`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.results, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void results.push(StreamResult.decode(message.value)) });
  });

  after(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await service?.stop();
    await stack.cleanup();
  });

  test('a stream first seen on Kafka is registered to the site tenant and shows in its api', async () => {
    await producer.send({ topic: topics.frames, messages: [{ key: 'gate', value: readFileSync(imagePath('dog')), headers: { 'vdet-seq': '0' } }] });
    for (const deadline = Date.now() + 60_000; results.length === 0;) {
      assert.ok(Date.now() < deadline, 'no result within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([results[0]!.stream, results[0]!.tenant, results[0]!.seq], ['gate', 'site', 0]);
    assert.deepEqual(compareToReference(results[0]!.detections, loadReference('dog').detections), []);
    const api = { base: await apiUrl(service), key: KEY };
    const view = (await (await fetch(`${api.base}/v1/streams/gate`, { headers: authHeaders(api) })).json()) as { id: string; stats: { framesIn: number } };
    assert.deepEqual([view.id, view.stats.framesIn], ['gate', 1]);
  });
});
