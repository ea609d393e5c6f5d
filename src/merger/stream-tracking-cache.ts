import type { StreamTrackingState, StreamTrackingStore } from '../store/stream-track-store.js';

/**
 * Each stream's last saved tracker record, kept by the merger that saved it, so that a stream's next chunk is
 * tracked without reading the record back (one MongoDB round trip less per chunk in the partition's turn).
 *
 * The cache only holds what this process wrote, and it is right only while this process owns the stream's
 * partition: {@link clear} runs whenever the merger's consumer (re)joins its group, since partitions may have moved.
 * A save that finds the record moved or gone (another merger, a deleted stream) drops the entry, and so does
 * {@link forget}, called by the tracking step when the cached record does not fit the chunk (a stream deleted and
 * registered again starts its sequence numbers anew). At most `capacity` streams are kept (least recently saved go
 * first).
 */
export class CachedStreamTrackingStore implements StreamTrackingStore {
  private readonly records = new Map<string, StreamTrackingState>();

  constructor(private readonly store: StreamTrackingStore, private readonly capacity = 1024) {}

  async record(key: string): Promise<StreamTrackingState | undefined> {
    const cached = this.records.get(key);
    if (cached) return { ...cached };
    return this.store.record(key);
  }

  async advance(key: string, tenant: string, fromSeq: number | undefined, next: StreamTrackingState): Promise<boolean> {
    this.records.delete(key); // until it is saved: a failed save leaves the store's record the one to read
    const moved = await this.store.advance(key, tenant, fromSeq, next);
    if (moved) {
      this.records.set(key, { ...next });
      if (this.records.size > this.capacity) this.records.delete(this.records.keys().next().value!);
    }
    return moved;
  }

  storedDetections(key: string, seqs: readonly number[]) {
    return this.store.storedDetections(key, seqs);
  }

  /** The record of this stream is read from the store next time. */
  forget(key: string): void {
    this.records.delete(key);
  }

  /** Every record is read from the store next time (the consumer's partitions may have moved). */
  clear(): void {
    this.records.clear();
  }

  get size(): number {
    return this.records.size;
  }
}
