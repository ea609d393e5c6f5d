import type { Detection } from '../contracts/messages.js';

/* The documents of a stream's stored frames (see stream-frame-store.ts for how they are written and read). */

/** One stored stream frame, as `GET /v1/streams/{id}/detections` lists it. */
export interface StoredStreamFrame {
  seq: number;
  ts: number;
  width: number;
  height: number;
  detections: Detection[];
}

/**
 * One stored chunk of a stream's frames (collection `stream_chunks`, `_id` = `{streamKey}#{n}`). `n` numbers a
 * stream's stored chunks 0, 1, 2, … in the order the merger stored them (its partition's order), and `fo` its
 * frames, so that reads are equalities the local stack's store answers by index (see src/store/frame-store.ts for
 * why): an `_id` for one chunk, `fb` (last frame ordinal / {@link STREAM_FRAME_BUCKET}) for a page's worth.
 */
export interface StreamChunkRecord {
  _id: string;
  tenant: string;
  stream: string;
  n: number;
  /** Ordinal of the chunk's first frame among the stream's stored frames. */
  fo: number;
  fb: number;
  /** First and last sequence number and capture time in the chunk. */
  first: number;
  last: number;
  firstTs: number;
  lastTs: number;
  /** The frames (StoredStreamFrame[], sequence order) as JSON: one value for the store. */
  data: string;
}

/**
 * Where a stream's stored chunks stand (collection `stream_heads`, `_id` = its stream key). The merger writes it
 * when a chunk starts a new {@link HEAD_EVERY} (so it may lag by that many: readers look past it), retention moves
 * `firstN`, a removal of the stream moves `firstN` up to `next`: numbers are never reused, so a merger that still
 * remembers the stream never writes over what comes after.
 */
export interface StreamHeadRecord {
  _id: string;
  tenant: string;
  stream: string;
  /** The oldest chunk kept. */
  firstN: number;
  next: number;
  nextFrame: number;
  lastSeq: number;
  /** Moved by each removal of the stream: a merger that remembers another epoch reads the head again. */
  epoch: number;
  updatedAt: Date;
}

/**
 * A stream frame as versions before stream chunks stored it (collection `stream_frames`, `_id` =
 * `{streamKey}:{seq}`, one document per frame). Still read, before a stream's chunks, until retention or a removal
 * of the stream clears it; nothing writes it any more.
 */
export interface LegacyStreamFrameRecord extends StoredStreamFrame {
  _id: string;
  tenant: string;
  stream: string;
}
