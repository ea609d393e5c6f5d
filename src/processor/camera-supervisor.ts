import type { Logger } from 'pino';
import type { CameraLeases } from '../store/camera-leases.js';
import { CAMERA_STATES, redactedCameraUrl, type CameraSource } from '../contracts/camera.js';
import { metrics } from '../platform/metrics.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import type { CameraPuller } from './camera-puller.js';

export interface CameraSupervisorDeps {
  log: Logger;
  streams: Pick<StreamStore, 'withSources'>;
  leases: CameraLeases;
  /** This processor instance, as leases name it. */
  processorId: string;
  leaseMs: number;
  maxPerProcessor: number;
  /** `changed`: to be called when the puller's state changes (reported at once, not at the next renewal). */
  startPuller(record: StreamRecord, changed: () => void): CameraPuller;
  now?(): number;
}

interface Held {
  record: StreamRecord;
  puller: CameraPuller;
  /** When this processor last renewed the lease: past renewedAt + leaseMs another may hold it, so the puller stops. */
  renewedAt: number;
}

const sameSource = (a: CameraSource, b: CameraSource) => a.url === b.url && a.fps === b.fps;

/**
 * Shares the registered camera sources out over the live processors, through leases in MongoDB: every third of a
 * lease, each processor renews what it holds (reporting its pullers' state), stops what was removed, changed or
 * lost, and takes free or lapsed sources up to its fair share (sources ÷ live processors, at most
 * VDET_CAMERA_MAX_PER_PROCESSOR). Above its share it gives one source back per round, so a processor that joins
 * gets work. A processor that dies stops renewing; its sources move within a lease and a round.
 */
export class CameraSupervisor {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly deps: CameraSupervisorDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const every = Math.max(250, Math.floor(this.deps.leaseMs / 3));
    const loop = () => {
      this.round = this.tick().catch((error: unknown) => this.deps.log.warn({ err: error }, 'camera round failed; trying again next round'));
      void this.round.then(() => {
        if (!this.closed) this.timer = setTimeout(loop, every);
      });
    };
    loop();
  }

  /** Sources this processor pulls now (stream keys). */
  holding(): string[] {
    return [...this.held.keys()];
  }

  /** One round: renew, stop, take. Exposed for tests, which drive rounds themselves. */
  async tick(): Promise<void> {
    const { leases, processorId: me, leaseMs } = this.deps;
    const now = this.now();
    let sources: StreamRecord[];
    try {
      await leases.heartbeat(me, now);
      sources = await this.deps.streams.withSources();
    } catch (error) {
      // The store is away: nothing can be renewed, so what may lapse by now is given up (another processor that
      // still reaches the store may take it), and the rest goes on until then.
      for (const [key, held] of this.held) if (now >= held.renewedAt + leaseMs) await this.drop(key, 'its lease could not be renewed in time', false);
      throw error;
    }
    const wanted = new Map(sources.map((r) => [r._id, r]));
    for (const [key, held] of this.held) {
      const record = wanted.get(key);
      if (!record?.source || !sameSource(record.source, held.record.source!)) {
        await this.drop(key, 'the source was removed or changed');
        continue;
      }
      let renewed = false;
      try {
        renewed = await leases.renew(key, me, now, leaseMs, held.puller.status);
      } catch (error) {
        // The store is away: keep pulling while the lease is surely still ours, then stop.
        if (now < held.renewedAt + leaseMs) continue;
        this.deps.log.warn({ err: error, stream: key }, 'camera lease could not be renewed in time');
      }
      if (renewed) held.renewedAt = now;
      else await this.drop(key, 'the lease was lost', false);
    }
    const live = Math.max(1, await leases.liveProcessors(now, leaseMs)); // a live one heartbeats every third of it
    const share = Math.min(this.deps.maxPerProcessor, Math.ceil(sources.length / live));
    if (this.held.size > share) {
      const newest = [...this.held.keys()].at(-1)!;
      await this.drop(newest, `more than this processor's share (${share} of ${sources.length} over ${live} processors)`);
    }
    for (const record of shuffled(sources)) {
      if (this.closed || this.held.size >= share) break;
      if (this.held.has(record._id) || !record.source) continue;
      const { acquired, previous } = await leases.acquire(record._id, me, now, leaseMs);
      if (!acquired) continue;
      if (previous) metrics.cameraLeaseMoves.inc();
      this.deps.log.info({ stream: record._id, camera: redactedCameraUrl(record.source.url), from: previous ?? null }, 'camera source taken');
      this.held.set(record._id, { record, puller: this.deps.startPuller(record, () => void this.reportNow(record._id)), renewedAt: now });
    }
    this.report();
  }

  /** Writes a held source's state now (a renewal: it also extends the lease); a failure waits for the next round. */
  private async reportNow(key: string): Promise<void> {
    const held = this.held.get(key);
    if (!held) return;
    const now = this.now();
    const renewed = await this.deps.leases.renew(key, this.deps.processorId, now, this.deps.leaseMs, held.puller.status).catch(() => false);
    if (renewed && this.held.get(key) === held) held.renewedAt = now;
    this.report();
  }

  private async drop(key: string, why: string, release = true): Promise<void> {
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    this.deps.log.info({ stream: key, why }, 'camera source given up');
    await held.puller.stop();
    if (release) await this.deps.leases.release(key, this.deps.processorId).catch(() => undefined);
    this.report();
  }

  private report(): void {
    for (const state of CAMERA_STATES) metrics.cameraSources.set({ state }, [...this.held.values()].filter((h) => h.puller.status.state === state).length);
  }

  /** Stops every puller and gives the leases back, so other processors take the sources at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.round;
    for (const key of [...this.held.keys()]) await this.drop(key, 'the processor is stopping');
    await this.deps.leases.leave(this.deps.processorId).catch(() => undefined);
  }
}

/** Sources in random order, so processors starting together do not all reach for the same one first. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
