import type { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import type { StreamResult } from '../contracts/stream.js';
import type { StreamRef } from '../contracts/stream-ref.js';
import { jobEventsChannel, streamEventsChannel, type JobEvent } from './progress.js';

type Listener<T> = (event: T) => void;

/** Live job events and stream results, for server-sent events; each watch returns the function that stops it. */
export interface EventHub {
  watch(jobId: string, listener: Listener<JobEvent>): Promise<() => Promise<void>>;
  watchStream(stream: StreamRef, listener: Listener<StreamResult>): Promise<() => Promise<void>>;
  close(): void;
}

/**
 * Live job events and stream results for server-sent events, from Redis pub/sub: the merger publishes on whichever machine it runs,
 * and every api process subscribes, so a client may be connected to any replica. One subscriber connection per
 * process, one Redis subscription per watched job however many clients watch it.
 */
export class JobEventHub implements EventHub {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<Listener<unknown>>>();

  constructor(redis: Redis, private readonly config: Config['redis']) {
    this.subscriber = redis.duplicate({ keyPrefix: '', enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, message: string) => {
      let event: unknown;
      try {
        event = JSON.parse(message);
      } catch {
        return;
      }
      for (const listener of this.listeners.get(channel) ?? []) listener(event);
    });
  }

  /** Starts listening to a job; the returned function stops. */
  watch(jobId: string, listener: Listener<JobEvent>): Promise<() => Promise<void>> {
    return this.listen(jobEventsChannel(this.config, jobId), listener as Listener<unknown>);
  }

  /** Starts listening to a stream's results; the returned function stops. */
  watchStream(stream: StreamRef, listener: Listener<StreamResult>): Promise<() => Promise<void>> {
    return this.listen(streamEventsChannel(this.config, stream), listener as Listener<unknown>);
  }

  private async listen(channel: string, listener: Listener<unknown>): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      const current = this.listeners.get(channel);
      current?.delete(listener);
      if (current && current.size === 0) {
        this.listeners.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
