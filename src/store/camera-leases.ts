import type { Collection, Db } from 'mongodb';
import type { CameraState } from '../contracts/camera.js';
import { isDuplicateKey } from './documents.js';

/**
 * Which processor pulls which camera, in MongoDB (the store every processor already trusts; Redis holds nothing
 * that correctness needs). A lease names its holder and when it lapses; the holder renews it, with the puller's
 * state, every third of its length. A processor that dies stops renewing, and another takes the source once the
 * lease has lapsed. Times are each processor's clock (keep them in NTP sync, as Kafka and MongoDB want anyway).
 */
export interface CameraLeaseRecord {
  /** The stream's key (tenant/name). */
  _id: string;
  holder: string;
  expiresAt: number;
  takenAt: number;
  state: CameraState;
  lastError: string | null;
  since: number;
  reconnects: number;
  framesPulled: number;
}

/** What the holder reports of its puller at each renewal. */
export type CameraStatus = Pick<CameraLeaseRecord, 'state' | 'lastError' | 'since' | 'reconnects' | 'framesPulled'>;

interface ProcessorRecord {
  _id: string;
  seenAt: number;
}

export interface Acquired {
  acquired: boolean;
  /** The processor that held the source before, when its lease lapsed (a lease move). */
  previous?: string;
}

/** The leases as the processors' supervisor uses them (a port: MongoDB below, a fake in the unit tests). */
export interface CameraLeases {
  acquire(key: string, holder: string, now: number, leaseMs: number): Promise<Acquired>;
  renew(key: string, holder: string, now: number, leaseMs: number, status: CameraStatus): Promise<boolean>;
  release(key: string, holder: string): Promise<void>;
  heartbeat(processor: string, now: number): Promise<void>;
  liveProcessors(now: number, windowMs: number): Promise<number>;
  leave(processor: string): Promise<void>;
}

export class CameraLeaseStore implements CameraLeases {
  private readonly leases: Collection<CameraLeaseRecord>;
  private readonly processors: Collection<ProcessorRecord>;

  constructor(db: Db) {
    this.leases = db.collection<CameraLeaseRecord>('camera_leases');
    this.processors = db.collection<ProcessorRecord>('camera_processors');
  }

  /**
   * Takes the source's lease when nobody holds it or its lease has lapsed: a compare-and-set on the lease as read,
   * so of two processors trying at once exactly one wins.
   */
  async acquire(key: string, holder: string, now: number, leaseMs: number): Promise<Acquired> {
    const current = await this.leases.findOne({ _id: key });
    if (current && current.holder !== holder && current.expiresAt >= now) return { acquired: false };
    const fresh: Omit<CameraLeaseRecord, '_id'> = {
      holder, expiresAt: now + leaseMs, takenAt: now, state: 'connecting', lastError: null, since: now, reconnects: 0, framesPulled: 0,
    };
    if (!current) {
      try {
        await this.leases.insertOne({ _id: key, ...fresh });
        return { acquired: true };
      } catch (error) {
        if (isDuplicateKey(error)) return { acquired: false };
        throw error;
      }
    }
    const { modifiedCount } = await this.leases.updateOne({ _id: key, holder: current.holder, expiresAt: current.expiresAt }, { $set: fresh });
    return modifiedCount === 1 ? { acquired: true, ...(current.holder !== holder ? { previous: current.holder } : {}) } : { acquired: false };
  }

  /** Extends the holder's lease and records its puller's state; false when the lease is no longer its own. */
  async renew(key: string, holder: string, now: number, leaseMs: number, status: CameraStatus): Promise<boolean> {
    const { matchedCount } = await this.leases.updateOne({ _id: key, holder }, { $set: { expiresAt: now + leaseMs, ...status } });
    return matchedCount === 1;
  }

  /** Gives the source up (shutdown, the source removed or moved to even out the load). */
  async release(key: string, holder: string): Promise<void> {
    await this.leases.deleteOne({ _id: key, holder });
  }

  /** The source's lease as last renewed, or null when nobody took it. */
  get(key: string): Promise<CameraLeaseRecord | null> {
    return this.leases.findOne({ _id: key });
  }

  /** Says this processor is alive (sources are shared out over the processors seen lately). */
  async heartbeat(processor: string, now: number): Promise<void> {
    await this.processors.updateOne({ _id: processor }, { $set: { seenAt: now } }, { upsert: true });
  }

  /** Processors seen within `windowMs`, this one included once it has sent a heartbeat. */
  async liveProcessors(now: number, windowMs: number): Promise<number> {
    return this.processors.countDocuments({ seenAt: { $gte: now - windowMs } });
  }

  async leave(processor: string): Promise<void> {
    await this.processors.deleteOne({ _id: processor });
  }
}
