import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { VdetError } from '../../src/shared/errors.js';
import { createKafkaBus, type IncomingMessage } from '../../src/shared/kafka.js';
import { createLogger } from '../../src/shared/logger.js';
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
