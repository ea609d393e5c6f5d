import type { Logger } from 'pino';
import { VdetError, isVdetError } from '../platform/errors.js';
import type { ConsumeOptions, IncomingMessage, KafkaBus } from './bus.js';
import { metrics } from '../platform/metrics.js';

/**
 * Sends a message that cannot be processed to the dead-letter topic, unchanged, with headers saying where it came
 * from and why. The caller then lets its offset be committed: a poison message never stalls a partition.
 */
export async function sendToDeadLetters(
  bus: KafkaBus, dlqTopic: string, log: Logger, message: IncomingMessage, error: unknown, attempts = 1,
): Promise<void> {
  const reason = isVdetError(error) ? error : new VdetError('VDET_MESSAGE_INVALID', String(error));
  log.warn({ topic: message.topic, partition: message.partition, offset: message.offset, code: reason.code, reason: reason.message }, 'dead letter');
  metrics.deadLetters.inc({ topic: message.topic, code: reason.code });
  await bus.send(dlqTopic, [{
    key: message.key ?? '',
    value: message.value ?? Buffer.alloc(0),
    headers: deadLetterHeaders(message, reason, attempts),
  }]);
}

/**
 * A consumer's `giveUp`: the message goes to the dead letters, then `settle` ends what it stood for (fails its job,
 * tells the merger), so that nothing given up is left stuck.
 */
export function deadLetterThen(
  bus: KafkaBus, dlqTopic: string, log: Logger, settle: (message: IncomingMessage, error: unknown) => Promise<void>,
): ConsumeOptions<unknown>['giveUp'] {
  return async (message, error, attempts) => {
    await sendToDeadLetters(bus, dlqTopic, log, message, error, attempts);
    await settle(message, error);
  };
}

/** Headers of a dead letter: where it came from and why it could not be processed. */
export function deadLetterHeaders(source: IncomingMessage, error: VdetError, attempts: number): Record<string, string> {
  return {
    'vdet-source-topic': source.topic,
    'vdet-source-partition': String(source.partition),
    'vdet-source-offset': source.offset,
    'vdet-error-code': error.code,
    'vdet-error': error.message.slice(0, 1000),
    'vdet-attempts': String(attempts),
  };
}
