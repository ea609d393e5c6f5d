import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerHandle } from './bus.js';
import { RETRY, isAccessDenied } from './kafkajs-client.js';

/** What a supervised consumer shares with its bus. */
export interface ConsumerSupervision {
  kafka: Kafka;
  log: Logger;
  maxMessageBytes: number;
  /** Every consumer the bus has open (it disconnects them on close). */
  consumers: Set<Consumer>;
  awaitCoordinator(groupId: string): Promise<void>;
  /** True once the bus (or one of its consumers) is stopping: nothing is started or retried any more. */
  stopping(): boolean;
  markStopping(): void;
}

/**
 * A consumer of `topics` in `groupId`, started by `run`, behind a handle that outlives it. kafkajs restarts a
 * crashed consumer only after errors it calls retriable; a broker that is down or frozen for a while ends a
 * group-coordinator lookup with a "non-retriable" one, after which kafkajs leaves the consumer stopped while its
 * process lives on (the fault suite's stall after a broker outage). Such a consumer is replaced here by a new one,
 * with back-off, until one runs. Bad credentials or missing ACLs, which no restart mends, end the process instead
 * (offsets are committed only after the work: nothing is lost); its supervisor reports it and starts it again.
 */
export async function startSupervisedConsumer(
  bus: ConsumerSupervision, groupId: string, topics: string[], run: (consumer: Consumer, first: boolean) => Promise<void>, onGroupJoin?: () => void,
): Promise<ConsumerHandle> {
  const topicList = topics.map((topic) => ({ topic }));
  let current: Consumer | undefined;
  let stopped = false;
  let paused = false;
  const create = async (first: boolean) => {
    await bus.awaitCoordinator(groupId);
    const consumer = bus.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: bus.maxMessageBytes,
      maxBytes: bus.maxMessageBytes * 2,
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 500,
      retry: RETRY,
    });
    bus.consumers.add(consumer);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      bus.log.info({ groupId, memberId: payload.memberId, partitions: Object.values(payload.memberAssignment).reduce((n, p) => n + p.length, 0) }, 'kafka group joined');
      onGroupJoin?.();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (bus.stopping() || stopped) return;
      if (payload.restart) {
        bus.log.warn({ groupId, err: payload.error }, 'kafka consumer crashed; kafkajs restarts it');
        return;
      }
      if (isAccessDenied(payload.error)) {
        bus.log.fatal({ groupId, err: payload.error }, 'kafka consumer stopped for good (access denied); exiting so that the role is started again');
        setImmediate(() => process.exit(1));
        return;
      }
      bus.log.warn({ groupId, err: payload.error }, 'kafka consumer stopped after an error kafkajs does not retry; starting a new one');
      bus.consumers.delete(consumer);
      void consumer.disconnect().catch(() => undefined);
      void replace();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await run(consumer, first);
    } catch (error) {
      bus.consumers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    current = consumer;
    if (paused) consumer.pause(topicList);
  };
  const replace = async () => {
    current = undefined;
    for (let attempt = 0; !bus.stopping() && !stopped; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)));
      if (bus.stopping() || stopped) return;
      try {
        await create(false);
        bus.log.info({ groupId, attempts: attempt + 1 }, 'kafka consumer replaced');
        return;
      } catch (error) {
        bus.log.warn({ groupId, err: error, attempt: attempt + 1 }, 'kafka consumer could not be started again yet; retrying');
      }
    }
  };
  await create(true);
  return {
    stop: async () => {
      stopped = true;
      bus.markStopping();
      const consumer = current;
      if (!consumer) return;
      bus.consumers.delete(consumer);
      await consumer.disconnect();
    },
    pause: () => {
      paused = true;
      current?.pause(topicList);
    },
    resume: () => {
      paused = false;
      current?.resume(topicList);
    },
  };
}
