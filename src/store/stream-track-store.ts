import type { Collection } from 'mongodb';
import type { Detection } from '../contracts/messages.js';
import { insertedOnce } from './documents.js';
import type { StreamFrameStore } from './stream-frame-store.js';

/**
 * Where a stream's tracking stands, in MongoDB (`stream_tracking`, one document per stream, `_id` = its stream key),
 * so that any merger on any machine goes on with the same ids: the last sequence number tracked and the tracker's
 * state (ByteTracker.toJSON() as JSON; its lastPtsMs is the stream's tracker clock). Only a conditional update moves
 * it forward. Owner: the merger.
 */
export interface StreamTrackingRecord {
  _id: string;
  tenant: string;
  lastSeq: number;
  state: string;
  /** With zones or lines set: the stream's zone counter (ZoneCounter.toJSON() as JSON), counted since they were first set. */
  zones?: string;
  updatedAt: Date;
}

/** What the tracking step reads and saves of the record. */
export type StreamTrackingState = Pick<StreamTrackingRecord, 'lastSeq' | 'state' | 'zones'>;

/** The stream tracking step's port (src/merger/stream-tracking.ts). */
export interface StreamTrackingStore {
  record(key: string): Promise<StreamTrackingState | undefined>;
  /**
   * Moves the record from `fromSeq` (undefined: no record yet) to `next`; another merger ahead of it wins. True when
   * this call moved it.
   */
  advance(key: string, tenant: string, fromSeq: number | undefined, next: StreamTrackingState): Promise<boolean>;
  /** The stored detections (with their track ids) of frames tracked before. */
  storedDetections(key: string, seqs: readonly number[]): Promise<Map<number, Detection[]>>;
  /** A store that keeps records in memory (src/merger/stream-tracking-cache.ts): read this stream's from MongoDB next time. */
  forget?(key: string): void;
}

export function mongoStreamTrackingStore(tracking: Collection<StreamTrackingRecord>, frames: Pick<StreamFrameStore, 'detectionsOf'>): StreamTrackingStore {
  return {
    async record(key) {
      const found = await tracking.findOne({ _id: key }, { projection: { lastSeq: 1, state: 1, zones: 1 } });
      return found ? { lastSeq: found.lastSeq, state: found.state, ...(found.zones !== undefined ? { zones: found.zones } : {}) } : undefined;
    },
    async advance(key, tenant, fromSeq, next) {
      if (fromSeq === undefined) return insertedOnce(tracking, { _id: key, tenant, ...next, updatedAt: new Date() });
      const { matchedCount } = await tracking.updateOne({ _id: key, lastSeq: fromSeq }, { $set: { ...next, updatedAt: new Date() } });
      return matchedCount === 1;
    },
    storedDetections(key, seqs) {
      const slash = key.indexOf('/'); // a stream key is "tenant/name" (tenant ids have no "/")
      return frames.detectionsOf({ tenant: key.slice(0, slash), name: key.slice(slash + 1) }, seqs);
    },
  };
}
