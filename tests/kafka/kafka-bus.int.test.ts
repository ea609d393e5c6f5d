import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { VdetError } from '../../src/platform/errors.js';
import { createKafkaBus } from '../../src/kafka/kafka.js';
import type { IncomingMessage } from '../../src/kafka/bus.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestEnv } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * A consumer that kafkajs gives up on (an error it does not call retriable; a broker away long enough ends a
 * group-coordinator lookup with one) is replaced by the bus: the uncommitted message comes again, nothing stops.
 */
describe('Kafka bus: a consumer kafkajs leaves stopped is replaced', () => {
  const stack = createTestEnv();
  const topic = `${stack.config.kafka.topicPrefix}bus-crash`;
  after(() => stack.cleanup());

  test('a non-retriable crash: a new consumer takes over and the message is handled after all', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => { lines.push(chunk.toString()); done(); } });
    const bus = createKafkaBus(stack.config.kafka, createLogger('info', 'test', sink));
    const admin = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();

    const handled: string[] = [];
    let giveUps = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => { resolveDone = resolve; });
    const consumer = await bus.consume({
      groupId: `${stack.config.kafka.topicPrefix}bus-crash-group`,
      topics: [topic],
      concurrency: 1,
      async handle(message: IncomingMessage) {
        if (giveUps === 0) throw new VdetError('VDET_MESSAGE_INVALID', 'the first delivery is refused');
        handled.push(message.value!.toString());
        resolveDone();
      },
      async giveUp() {
        giveUps++;
        // The error kafkajs ends a coordinator lookup with: it crashes the consumer and does not restart it.
        throw new kafkajs.KafkaJSNonRetriableError('Failed to find group coordinator');
      },
    });
    try {
      await bus.send(topic, [{ key: 'k', value: Buffer.from('frame-1') }]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`not handled; log:\n${lines.join('')}`)), 60_000); })]);
      clearTimeout(timer);
      assert.deepEqual(handled, ['frame-1'], 'handled once, by the replacement consumer');
      assert.equal(giveUps, 1);
      assert.ok(lines.some((l) => l.includes('starting a new one')), `the crash is logged:\n${lines.join('')}`);
      assert.ok(lines.some((l) => l.includes('kafka consumer replaced')), 'the replacement is logged');
    } finally {
      await consumer.stop();
      await bus.close();
    }
  });
});

describe('Kafka bus: onGroupJoin', () => {
  const stack = createTestEnv();
  const topic = `${stack.config.kafka.topicPrefix}bus-join`;
  after(() => stack.cleanup());

  test('runs when the consumer joins its group, and again when a second member makes the partitions move', async () => {
    const admin = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    const buses = [createKafkaBus(stack.config.kafka, createLogger('warn', 'test', quiet)), createKafkaBus(stack.config.kafka, createLogger('warn', 'test', quiet))];
    const joins = [0, 0];
    const consume = (i: number) => buses[i]!.consume({
      groupId: `${stack.config.kafka.topicPrefix}bus-join-group`, topics: [topic], concurrency: 1,
      handle: async () => undefined, giveUp: async () => undefined, onGroupJoin: () => { joins[i]!++; },
    });
    const first = await consume(0);
    try {
      await until(() => `the first member to join: joins ${joins.join(', ')}`, () => joins[0] === 1);
      const second = await consume(1);
      try {
        await until(() => `both members in the group after the rebalance: joins ${joins.join(', ')}`, () => joins[0]! >= 2 && joins[1]! >= 1);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      await Promise.all(buses.map((b) => b.close()));
    }
  });
});

/**
 * Waits until every thread of the process is stopped (state T in /proc), so that nothing it had under way still
 * answers after SIGSTOP returned; fails, naming the process, when that does not happen within 2 s.
 */
async function untilStopped(pid: number): Promise<void> {
  const states = () => readdirSync(`/proc/${pid}/task`).map((tid) => {
    try {
      return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))?.[1] ?? '?';
    } catch {
      return 'gone';
    }
  });
  for (const deadline = Date.now() + 2_000; Date.now() < deadline; await sleep(10)) {
    if (states().every((s) => s === 'T' || s === 'gone')) return;
  }
  const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 200);
  assert.fail(`process ${pid} (${command}) did not stop after SIGSTOP: thread states ${[...new Set(states())].join(', ')}`);
}

/** The stack's broker process (scripts/stack.sh writes its pid file). */
function brokerPid(): number {
  const dir = process.env.VDET_STACK_DIR ?? new URL('../../.stack', import.meta.url).pathname;
  return Number(readFileSync(`${dir}/kafka/kafka.pid`, 'utf8').trim());
}

describe('Kafka bus: a send the brokers never acknowledge', () => {
  const stack = createTestEnv({ VDET_KAFKA_SEND_TIMEOUT_MS: '2000' });
  const topic = `${stack.config.kafka.topicPrefix}bus-frozen`;
  after(() => stack.cleanup());

  test('fails as an outage after VDET_KAFKA_SEND_TIMEOUT_MS, and the next send goes through on a new producer', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => { lines.push(chunk.toString()); done(); } });
    const bus = createKafkaBus(stack.config.kafka, createLogger('warn', 'test', sink));
    const admin = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const received: string[] = [];
    const consumer = await bus.consume({
      groupId: `${stack.config.kafka.topicPrefix}bus-frozen-group`, topics: [topic], concurrency: 1,
      handle: async (message) => { received.push(message.value!.toString()); }, giveUp: async () => undefined,
    });
    try {
      await bus.send(topic, [{ key: 'k', value: Buffer.from('before') }]); // the producer is connected
      const pid = brokerPid();
      process.kill(pid, 'SIGSTOP'); // the broker keeps its sockets open and answers nothing: kafkajs waits 30 s a request
      const thaw = setTimeout(() => process.kill(pid, 'SIGCONT'), 8_000); // whatever the send does, the broker comes back
      let outcome: unknown;
      let started = Date.now();
      try {
        await untilStopped(pid);
        started = Date.now();
        await bus.send(topic, [{ key: 'k', value: Buffer.from('during') }]);
      } catch (error) {
        outcome = error;
      } finally {
        clearTimeout(thaw);
        process.kill(pid, 'SIGCONT');
      }
      const waited = Date.now() - started;
      assert.ok(outcome instanceof VdetError && outcome.code === 'VDET_DEPENDENCY_UNAVAILABLE' && /within 2000 ms/.test(outcome.message),
        `the send to a frozen broker fails as an outage, not ${String(outcome)}`);
      assert.ok(waited >= 1_900 && waited < 6_000, `the send failed after ${waited} ms, not after its 2000 ms bound`);
      assert.ok(lines.some((l) => l.includes('the producer is replaced')), `the replacement is logged:\n${lines.join('')}`);
      await bus.send(topic, [{ key: 'k', value: Buffer.from('after') }]);
      await until(() => `"after" to be consumed; got ${received.join(', ')}`, () => received.includes('after'));
      assert.equal(received[0], 'before');
    } finally {
      await consumer.stop();
      await bus.close();
    }
  });
});
