import type { Collection, Db, Filter } from 'mongodb';
import type { Detection } from '../contracts/messages.js';
import { VdetError } from '../platform/errors.js';
import { cursorInteger, invalidCursor, pageCursor } from '../platform/page-cursor.js';
import { ignoringDuplicate, insertedOnce } from './documents.js';
import { streamKey, type StreamRef } from '../contracts/stream-ref.js';
import type { LegacyStreamFrameRecord, StoredStreamFrame, StreamChunkRecord, StreamHeadRecord } from './stream-frame-records.js';

export const STREAM_FRAME_BUCKET = 256;
const HEAD_EVERY = 64;
/** How long the merger trusts what it remembers of a stream's head (a removal elsewhere shows within this). */
const HEAD_CACHE_MS = 2_000;

type Head = Pick<StreamHeadRecord, 'firstN' | 'next' | 'nextFrame' | 'lastSeq' | 'epoch'>;
const NO_HEAD: Head = { firstN: 0, next: 0, nextFrame: 0, lastSeq: -1, epoch: 0 };

export interface StreamFramePageQuery {
  /** Capture time from (inclusive) and to (exclusive), ms since the epoch. */
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface StreamFramePage {
  items: StoredStreamFrame[];
  next: string | null;
}

/**
 * A stream's stored frames: written by the merger in its partition's order, a chunk a document (at most one store
 * round trip a chunk, and one more every {@link HEAD_EVERY} chunks), read by the api a page at a time. A page costs
 * what it returns: a time range starts with a binary search over the chunks' numbers (capture times rise along them),
 * never a scan of the stream. Frames at or below the highest sequence number stored are repeats (a redelivery) and
 * are not stored again: a stream's sequence numbers rise (the Kafka offset, or `vdet-seq` as a camera counts).
 */
export class StreamFrameStore {
  readonly chunks: Collection<StreamChunkRecord>;
  readonly heads: Collection<StreamHeadRecord>;
  readonly legacy: Collection<LegacyStreamFrameRecord>;
  private readonly remembered = new Map<string, { head: Head; at: number }>();

  constructor(db: Db) {
    this.chunks = db.collection<StreamChunkRecord>('stream_chunks');
    this.heads = db.collection<StreamHeadRecord>('stream_heads');
    this.legacy = db.collection<LegacyStreamFrameRecord>('stream_frames');
  }

  async ensureIndexes(): Promise<void> {
    await this.chunks.createIndex({ tenant: 1, stream: 1, fb: 1 }, { name: 'tenant_stream_fb' });
    await this.legacy.createIndex({ stream: 1, ts: 1 }, { name: 'stream_ts' });
    await this.legacy.createIndex({ tenant: 1, stream: 1, seq: 1 }, { name: 'tenant_stream_seq', unique: true });
  }

  /** Stores a chunk's frames that are new (sequence number above the stream's highest stored); returns those. */
  async append(ref: StreamRef, frames: readonly StoredStreamFrame[]): Promise<StoredStreamFrame[]> {
    const key = streamKey(ref);
    const cached = this.remembered.get(key);
    const head = cached && Date.now() - cached.at < HEAD_CACHE_MS ? cached.head : await this.headOf(ref, true, cached?.head);
    const fresh = frames.filter((f) => f.seq > head.lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return [];
    const n = head.next;
    const lastFrame = head.nextFrame + fresh.length - 1;
    const doc: StreamChunkRecord = {
      _id: `${key}#${n}`, tenant: ref.tenant, stream: ref.name, n, fo: head.nextFrame, fb: Math.floor(lastFrame / STREAM_FRAME_BUCKET),
      first: fresh[0]!.seq, last: fresh.at(-1)!.seq, firstTs: fresh[0]!.ts, lastTs: Math.max(...fresh.map((f) => f.ts)),
      data: JSON.stringify(fresh.map(({ seq, ts, width, height, detections }) => ({ seq, ts, width, height, detections }))),
    };
    this.remembered.delete(key);
    if (!(await insertedOnce(this.chunks, doc))) {
      // Another merger stored chunk n (a rebalance moved the partition): what stands is read again on redelivery.
      throw new VdetError('VDET_DEPENDENCY_UNAVAILABLE', `Stream ${key}: chunk ${n} was stored by another merger.`);
    }
    const next: Head = { ...head, next: n + 1, nextFrame: lastFrame + 1, lastSeq: doc.last };
    if (n % HEAD_EVERY === 0) {
      // A head write that loses to a removal's (its epoch is newer) is a duplicate insert: the removal's stands.
      await ignoringDuplicate(() => this.heads.updateOne(
        { _id: key, epoch: { $lte: head.epoch } },
        { $set: { tenant: ref.tenant, stream: ref.name, next: next.next, nextFrame: next.nextFrame, lastSeq: next.lastSeq, epoch: head.epoch, updatedAt: new Date() }, $setOnInsert: { firstN: 0 } },
        { upsert: true },
      ));
    }
    this.remembered.set(key, { head: next, at: Date.now() });
    return fresh;
  }

  /** Forgets what this process remembers of every stream's head (its partitions moved): each is read again. */
  forgetAll(): void {
    this.remembered.clear();
  }

  /**
   * Where the stream's chunks stand; `exact` looks past the head record at the chunks stored since it was written
   * (from what this process `remembers`, when the stream was not removed since).
   */
  private async headOf(ref: StreamRef, exact: boolean, remembers?: Head): Promise<Head> {
    const key = streamKey(ref);
    const record = await this.heads.findOne({ _id: key });
    const stored: Head = record
      ? { firstN: record.firstN, next: record.next, nextFrame: record.nextFrame, lastSeq: record.lastSeq, epoch: record.epoch ?? 0 }
      : { ...NO_HEAD };
    const head = remembers && remembers.epoch === stored.epoch && remembers.next > stored.next ? { ...remembers, firstN: stored.firstN } : stored;
    if (!exact) return head;
    for (;;) {
      const after = await this.chunk(key, head.next);
      if (!after) return head;
      const frames = (JSON.parse(after.data) as StoredStreamFrame[]).length;
      Object.assign(head, { next: after.n + 1, nextFrame: after.fo + frames, lastSeq: Math.max(head.lastSeq, after.last) });
    }
  }

  private chunk(key: string, n: number): Promise<StreamChunkRecord | null> {
    return this.chunks.findOne({ _id: `${key}#${n}` });
  }

  /** A page of the stream's frames in stored (sequence) order, within [from, to) when given. */
  async page(ref: StreamRef, query: StreamFramePageQuery): Promise<StreamFramePage> {
    const after = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    if (after === undefined || after.legacy) {
      const older = await this.legacyPage(ref, query, after?.seq);
      if (older.next !== null) return older;
      const rest = await this.chunkPage(ref, { ...query, limit: query.limit - older.items.length }, undefined);
      return { items: [...older.items, ...rest.items], next: rest.next };
    }
    return this.chunkPage(ref, query, after);
  }

  private async chunkPage(ref: StreamRef, query: StreamFramePageQuery, after: { n: number; seq: number } | undefined): Promise<StreamFramePage> {
    const key = streamKey(ref);
    const head = await this.headOf(ref, false);
    let n = Math.max(after?.n ?? head.firstN, head.firstN);
    if (query.from !== undefined) n = Math.max(n, await this.firstEndingFrom(key, head, query.from));
    let start = await this.chunk(key, n);
    // A chunk retention removed before it could move firstN: the next ones.
    for (let tries = 0; !start && n < head.next && tries < HEAD_EVERY; tries++) start = await this.chunk(key, ++n);
    const items: StoredStreamFrame[] = [];
    if (!start) return { items, next: null };
    const wanted = (doc: StreamChunkRecord, f: StoredStreamFrame) => (after === undefined || doc.n > after.n || f.seq > after.seq)
      && (query.from === undefined || f.ts >= query.from) && (query.to === undefined || f.ts < query.to);
    let last: { n: number; seq: number } | undefined;
    for (let b = start.fb; ; b++) {
      const docs = (await this.chunks.find({ tenant: ref.tenant, stream: ref.name, fb: b }).toArray()).sort((x, y) => x.n - y.n);
      if (docs.length === 0 && b * STREAM_FRAME_BUCKET >= head.nextFrame) return { items, next: null };
      for (const doc of docs) {
        if (doc.n < n) continue;
        if (query.to !== undefined && doc.firstTs >= query.to) return { items, next: null };
        for (const frame of JSON.parse(doc.data) as StoredStreamFrame[]) {
          if (!wanted(doc, frame)) continue;
          if (items.length === query.limit) return { items, next: cursorOf(last) };
          items.push(frame);
          last = { n: doc.n, seq: frame.seq };
        }
      }
    }
  }

  /**
   * A page of the frames stored one document each before stream chunks existed (as that version read them: the
   * store sorts the stream's frames in its memory), when the stream has any.
   */
  private async legacyPage(ref: StreamRef, query: StreamFramePageQuery, afterSeq: number | undefined): Promise<StreamFramePage> {
    const filter: Filter<LegacyStreamFrameRecord> = { tenant: ref.tenant, stream: ref.name };
    if (!(await this.legacy.findOne(filter, { projection: { _id: 1 } }))) return { items: [], next: null };
    const { from, to, limit } = query;
    if (from !== undefined || to !== undefined) filter.ts = { ...(from !== undefined ? { $gte: from } : {}), ...(to !== undefined ? { $lt: to } : {}) };
    if (afterSeq !== undefined) filter.seq = { $gt: afterSeq };
    const rows = await this.legacy.find(filter, { projection: { _id: 0, seq: 1, ts: 1, width: 1, height: 1, detections: 1 } })
      .sort({ seq: 1 }).limit(limit + 1).toArray();
    const items = rows.slice(0, limit).map(({ seq, ts, width, height, detections }) => ({ seq, ts, width, height, detections }));
    return { items, next: rows.length > limit ? Buffer.from(`s:${items.at(-1)!.seq}`).toString('base64url') : null };
  }

  /** The first chunk that ends at or after `from` (capture times rise along the chunks' numbers): a binary search. */
  private async firstEndingFrom(key: string, head: Head, from: number): Promise<number> {
    let lo = head.firstN;
    let hi = head.next; // the head may lag: chunks past it are read by the page's walk
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const doc = await this.chunks.findOne({ _id: `${key}#${mid}` }, { projection: { lastTs: 1 } });
      if (!doc || doc.lastTs < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The stored detections of frames by sequence number (a tracked stream's repeats: the newest chunks). */
  async detectionsOf(ref: StreamRef, seqs: readonly number[]): Promise<Map<number, Detection[]>> {
    const found = new Map<number, Detection[]>();
    if (seqs.length === 0) return found;
    const key = streamKey(ref);
    const lowest = Math.min(...seqs);
    const wanted = new Set(seqs);
    const head = await this.headOf(ref, true);
    for (let n = head.next - 1; n >= head.firstN && n >= head.next - 4 * HEAD_EVERY; n--) {
      const doc = await this.chunk(key, n);
      if (!doc) break;
      if (doc.last >= lowest) for (const f of JSON.parse(doc.data) as StoredStreamFrame[]) if (wanted.has(f.seq)) found.set(f.seq, f.detections);
      if (doc.first <= lowest) break;
    }
    return found;
  }

  /**
   * Forgets the stream's stored frames. The head stays, its `firstN` moved up to `next`, so the numbers go on where
   * they were (a merger that still remembers the stream writes its next chunk where readers look).
   */
  async remove(ref: StreamRef): Promise<void> {
    const key = streamKey(ref);
    const head = await this.headOf(ref, true);
    if (head.next > 0) {
      const reset = { ...head, firstN: head.next, lastSeq: -1, epoch: head.epoch + 1, tenant: ref.tenant, stream: ref.name, updatedAt: new Date() };
      await this.heads.updateOne({ _id: key }, { $set: reset }, { upsert: true });
    }
    await this.chunks.deleteMany({ tenant: ref.tenant, stream: ref.name });
    await this.legacy.deleteMany({ tenant: ref.tenant, stream: ref.name });
    this.remembered.delete(key);
  }

  /** Deletes up to `limit` of the stream's oldest chunks whose frames were all captured before `beforeMs`. */
  async deleteBefore(ref: StreamRef, beforeMs: number, limit: number): Promise<number> {
    const key = streamKey(ref);
    const head = await this.headOf(ref, false);
    let n = head.firstN;
    let deleted = 0;
    for (; deleted < limit; n++) {
      const doc = await this.chunks.findOne({ _id: `${key}#${n}` }, { projection: { lastTs: 1 } });
      if (!doc) {
        if (n >= head.next) break;
        continue; // removed by an earlier pass that stopped before moving firstN
      }
      if (doc.lastTs >= beforeMs) break;
      await this.chunks.deleteOne({ _id: doc._id });
      deleted++;
    }
    if (n > head.firstN) await this.heads.updateOne({ _id: key, firstN: { $lt: n } }, { $set: { firstN: n } });
    return deleted;
  }

  /** Every stream that has stored chunks' head (what retention walks), at most `limit`. */
  async streamsStored(limit: number): Promise<StreamRef[]> {
    const heads = await this.heads.find({}, { projection: { tenant: 1, stream: 1 } }).limit(limit).toArray();
    return heads.map((h) => ({ tenant: h.tenant, name: h.stream }));
  }
}

/** A page's cursor: `c:n:seq` (after that frame of chunk n), `c:start` (from the first chunk: the frames before were
 * legacy ones), or `s:seq` (after that frame of the legacy ones). */
const chunkedCursor = pageCursor('c', 2);
const chunkedStartCursor = pageCursor('c', 1);
const legacyCursor = pageCursor('s', 1);

function cursorOf(at: { n: number; seq: number } | undefined): string {
  return at ? chunkedCursor.encode(at.n, at.seq) : chunkedStartCursor.encode('start');
}

function parseCursor(cursor: string): { n: number; seq: number; legacy: boolean } {
  const chunked = chunkedCursor.tryDecode(cursor);
  if (chunked) return { n: cursorInteger(chunked[0]!), seq: cursorInteger(chunked[1]!), legacy: false };
  if (chunkedStartCursor.tryDecode(cursor)?.[0] === 'start') return { n: -1, seq: -1, legacy: false };
  const legacy = legacyCursor.tryDecode(cursor);
  if (legacy) return { n: -1, seq: cursorInteger(legacy[0]!), legacy: true };
  throw invalidCursor();
}
