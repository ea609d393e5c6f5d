import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { jobEventsChannel, type JobEvent } from '../shared/progress.js';

type Listener = (event: JobEvent) => void;

/**
 * Live job events for server-sent events, from Redis pub/sub: the merger publishes on whichever machine it runs,
 * and every api process subscribes, so a client may be connected to any replica. One subscriber connection per
 * process, one Redis subscription per watched job however many clients watch it.
 */
export class JobEventHub {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(redis: Redis, private readonly config: Config['redis']) {
    this.subscriber = redis.duplicate({ keyPrefix: '', enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, message: string) => {
      let event: JobEvent;
      try {
        event = JSON.parse(message) as JobEvent;
      } catch {
        return;
      }
      for (const listener of this.listeners.get(channel) ?? []) listener(event);
    });
  }

  /** Starts listening to a job; the returned function stops. */
  async watch(jobId: string, listener: Listener): Promise<() => Promise<void>> {
    const channel = jobEventsChannel(this.config, jobId);
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
