import { isVdetError } from './errors.js';

/**
 * What to do when handling a message failed:
 * - `dependency`: Kafka, MongoDB or the network is away. Retry without a bound (with backoff): the message is fine,
 *   and failing it would fail a job for an outage. The partition waits, which is right while the store is gone.
 * - `retriable`: an unexpected error that may pass. Retry a bounded number of times, then give up.
 * - `fatal`: the message itself is bad (a VdetError that is not retriable). Give up at once.
 * Giving up means: dead-letter the message, fail its job with the reason, commit the offset.
 */
export type FailureKind = 'dependency' | 'retriable' | 'fatal';

const DEPENDENCY_ERRORS = /^(Mongo(Network|ServerSelection|NotConnected|TopologyClosed|PoolCleared|NetworkTimeout)Error|KafkaJS(Connection|RequestTimeout|NumberOfRetriesExceeded|BrokerNotFound|LockTimeout|NonRetriable)?Error)$/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function classifyFailure(error: unknown): FailureKind {
  if (isVdetError(error)) {
    if (error.code === 'VDET_DEPENDENCY_UNAVAILABLE') return 'dependency';
    return error.retriable ? 'retriable' : 'fatal';
  }
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (DEPENDENCY_ERRORS.test(e.name)) return 'dependency';
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'dependency';
    if ((e as { retriable?: unknown }).retriable === true) return 'dependency';
  }
  return 'retriable';
}

/** Exponential backoff with full jitter: a random wait up to base × 2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 30_000, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1)));
}

export interface RetryPolicy {
  /** Attempts for `retriable` failures before giving up. */
  maxAttempts: number;
  sleep(ms: number): Promise<void>;
  /** True once the process is shutting down: stop retrying and let the message be redelivered later. */
  stopping(): boolean;
  /** Told of each failed attempt that will be tried again, before the wait (an operator's log line). */
  onRetry?(error: unknown, attempt: number, kind: FailureKind, waitMs: number): void;
}

/**
 * Runs `attempt` until it succeeds, gives up (`giveUp` is awaited, and its own failure propagates so the message is
 * not committed), or the process stops (the last error propagates: no commit, redelivery after restart).
 */
export async function runWithRetry(
  attempt: () => Promise<void>,
  giveUp: (error: unknown, attempts: number) => Promise<void>,
  policy: RetryPolicy,
): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      const kind = classifyFailure(error);
      if (kind === 'fatal' || (kind === 'retriable' && n >= policy.maxAttempts)) {
        await giveUp(error, n);
        return;
      }
      if (policy.stopping()) throw error;
      const waitMs = backoffMs(n, 200, kind === 'dependency' ? 30_000 : 5_000);
      policy.onRetry?.(error, n, kind, waitMs);
      await policy.sleep(waitMs);
    }
  }
}
