import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FrameDetections } from '../../src/contracts/messages.js';
import { MAX_CHUNKS_PER_STEP, trackingStep, type TrackingJob } from '../../src/merger/tracking-step.js';
import type { ChunkToTrack, TrackingStore } from '../../src/store/track-store.js';
import { combineSegments, objectsPerLabel, restoreZones, trackChunkFrames, zoneSettingsOf, type TrackSegment } from '../../src/results/tracks.js';
import { ZoneCounter } from '../../src/vision/zones.js';
import { ByteTracker, resolveTrackerOptions } from '../../src/vision/tracking/index.js';
import { loadReference, type VideoReference } from '../helpers/reference.js';

/**
 * The merger's tracking step against an in-memory store with the semantics of the MongoDB one (track-store.ts): frames
 * tracked once (a second write must say the same), a record moved only from where it is. The tour video's reference
 * detections, minScore 0.5: boxes from 0.3 to 0.5 are tracker-only. Chunks of 16 frames.
 */
const MIN_SCORE = 0.5;
const CHUNK = 16;
const tour = loadReference<VideoReference>('tour-640x360');
const job: TrackingJob = { jobId: 'job-1', tenant: 't', options: resolveTrackerOptions() };

const allFrames = tour.frames.map((f) => ({
  frame: f.frame, ptsMs: f.frame * 40,
  detections: f.detections.filter((d) => d.score >= MIN_SCORE),
  trackOnly: f.detections.filter((d) => d.score < MIN_SCORE),
}));
const chunks: ChunkToTrack[] = [];
for (let i = 0; i < allFrames.length; i += CHUNK) {
  const part = allFrames.slice(i, i + CHUNK);
  chunks.push({
    frames: part.map(({ frame, ptsMs, detections }) => ({ frame, ptsMs, detections })),
    trackOnly: part.filter((f) => f.trackOnly.length > 0).map(({ frame, trackOnly }) => ({ frame, trackOnly })),
  });
}

/** What one tracker that saw every frame in order says: each stored detection's id. */
function straightIds(): (number | undefined)[][] {
  const tracker = new ByteTracker();
  return allFrames.map((f) => tracker.update(f.ptsMs, [...f.detections, ...f.trackOnly]).slice(0, f.detections.length));
}

class MemoryTrackingStore implements TrackingStore {
  recordDoc: { nextChunk: number; state: string | null; zones?: string } | undefined;
  frames = new Map<number, { data: string; tracked: boolean }>();
  chunkDocs = new Map<number, { trackOnly?: string; tracks?: string }>();
  writes = 0;
  /** Throws once on the n-th advance (a crash between the chunk's writes and the record's). */
  crashOnAdvance: number | undefined;
  /** Throws once when chunk k is read (the store went away in the middle of a step). */
  failReadOf: number | undefined;
  private advances = 0;

  merge(k: number): void {
    const c = chunks[k]!;
    if (!this.frames.has(k)) this.frames.set(k, { data: JSON.stringify(c.frames), tracked: false });
    if (!this.chunkDocs.has(k)) this.chunkDocs.set(k, c.trackOnly.length > 0 ? { trackOnly: JSON.stringify(c.trackOnly) } : {});
  }

  async record() {
    return this.recordDoc && { ...this.recordDoc };
  }

  async create() {
    this.recordDoc ??= { nextChunk: 0, state: null };
  }

  async chunk(_jobId: string, k: number) {
    if (k === this.failReadOf) {
      this.failReadOf = undefined;
      throw new Error('the store went away');
    }
    const doc = this.chunkDocs.get(k);
    if (!doc) return undefined;
    return { frames: JSON.parse(this.frames.get(k)!.data) as FrameDetections[], trackOnly: doc.trackOnly ? JSON.parse(doc.trackOnly) : [] };
  }

  async saveChunk(_jobId: string, k: number, frames: readonly FrameDetections[], segments: readonly TrackSegment[]) {
    const data = JSON.stringify(frames);
    const doc = this.frames.get(k)!;
    if (doc.tracked && doc.data !== data) return false;
    this.writes++;
    Object.assign(doc, { data, tracked: true });
    this.chunkDocs.get(k)!.tracks = JSON.stringify(segments);
    return true;
  }

  async advance(_jobId: string, from: number, state: string, zones?: string) {
    if (++this.advances === this.crashOnAdvance) throw new Error('crash before the record moved');
    if (this.recordDoc?.nextChunk !== from) return false;
    this.recordDoc = { nextChunk: from + 1, state, ...(zones !== undefined ? { zones } : {}) };
    return true;
  }

  async dropTrackOnly(_jobId: string, k: number) {
    delete this.chunkDocs.get(k)!.trackOnly;
  }

  /** Each stored detection's id, frame by frame. */
  ids(): (number | undefined)[][] {
    return [...this.frames.keys()].sort((a, b) => a - b)
      .flatMap((k) => (JSON.parse(this.frames.get(k)!.data) as FrameDetections[]).map((f) => f.detections.map((d) => d.trackId)));
  }
}

/** Merges chunk k as the merger does: write it, then a step that goes on only when the record is at k, then the `track` messages it asks for. */
async function mergeChunk(store: MemoryTrackingStore, k: number, of: TrackingJob = job): Promise<number> {
  store.merge(k);
  let step = await trackingStep(store, of, { onlyAt: k });
  let steps = 1;
  while (step.more) {
    assert.equal(step.tracked, MAX_CHUNKS_PER_STEP, 'a step stops only at its bound');
    step = await trackingStep(store, of, { onlyAt: step.nextChunk });
    steps++;
  }
  return steps;
}

describe('tracking step (merger): in chunk order, from the state in the store', () => {
  const expected = straightIds();

  test('chunks merged in order: the ids of one tracker that never stopped, and every chunk\'s tracker-only boxes dropped', async () => {
    const store = new MemoryTrackingStore();
    for (let k = 0; k < chunks.length; k++) await mergeChunk(store, k);
    assert.equal(store.recordDoc?.nextChunk, chunks.length);
    assert.deepEqual(store.ids(), expected);
    assert.ok(expected.flat().filter((id) => id !== undefined).length > 300, 'most stored boxes are on a confirmed track');
    assert.ok([...store.chunkDocs.values()].every((d) => d.trackOnly === undefined));
  });

  test('chunks merged out of order: early ones wait, the missing one tracks them all, a bounded step at a time', async () => {
    const order = [5, 3, 1, 2, 4, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 0];
    assert.deepEqual([...order].sort((a, b) => a - b), chunks.map((_, k) => k));
    const store = new MemoryTrackingStore();
    const stepsPerMerge: number[] = [];
    for (const k of order) {
      stepsPerMerge.push(await mergeChunk(store, k));
      if (k !== 0) assert.equal(store.recordDoc?.nextChunk, 0, `chunk ${k} waits for chunk 0`);
    }
    assert.equal(stepsPerMerge.at(-1), Math.ceil(chunks.length / MAX_CHUNKS_PER_STEP), 'the last merge ran in bounded steps');
    assert.equal(store.recordDoc?.nextChunk, chunks.length);
    assert.deepEqual(store.ids(), expected);
  });

  test('redelivery: merging a chunk again, or re-running a step from the saved state, changes no id', async () => {
    const store = new MemoryTrackingStore();
    for (let k = 0; k < 10; k++) await mergeChunk(store, k);
    const before = store.ids();
    const saved = structuredClone(store.recordDoc);
    for (const k of [3, 9, 0]) await mergeChunk(store, k); // redelivered: the record is past them
    assert.deepEqual(store.ids(), before);
    assert.deepEqual(store.recordDoc, saved);

    // A crash after chunk 10's writes, before its record moved: the redelivery re-runs it from the saved state.
    store.crashOnAdvance = 11;
    await assert.rejects(mergeChunk(store, 10), /crash before the record moved/);
    assert.equal(store.recordDoc?.nextChunk, 10);
    const writes = store.writes;
    await mergeChunk(store, 10);
    assert.equal(store.writes, writes + 1, 'the re-run wrote chunk 10 again, the same');
    for (let k = 11; k < chunks.length; k++) await mergeChunk(store, k);
    assert.deepEqual(store.ids(), expected);
  });

  test('a step that failed after it moved the record: its retry goes on with the chunks merged meanwhile', async () => {
    const store = new MemoryTrackingStore();
    for (const k of [2, 1]) await mergeChunk(store, k); // out of order: they wait for chunk 0
    store.failReadOf = 1; // chunk 0 is tracked and the record moved; then the store fails as the step looks at chunk 1
    await assert.rejects(mergeChunk(store, 0), /the store went away/);
    assert.equal(store.recordDoc?.nextChunk, 1);
    await mergeChunk(store, 0); // the retry: chunk 0 is tracked already, and no other merge will track 1 and 2
    assert.equal(store.recordDoc?.nextChunk, 3);
    for (let k = 3; k < chunks.length; k++) await mergeChunk(store, k);
    assert.deepEqual(store.ids(), expected);
  });

  test('a step that is not the current one stops: tracked frames are never written over with other ids', async () => {
    const store = new MemoryTrackingStore();
    for (let k = 0; k < 8; k++) await mergeChunk(store, k);
    const ahead = store.ids();
    // A step from another state (one computed without a chunk's dropped tracker-only boxes, say): here, a fresh one at chunk 5.
    const stale: TrackingStore = { ...bind(store), record: async () => ({ nextChunk: 5, state: null }) };
    const writes = store.writes;
    const step = await trackingStep(stale, job);
    assert.deepEqual([step.tracked, step.more], [0, false]);
    assert.equal(store.writes, writes, 'its chunk was refused');
    assert.deepEqual(store.ids(), ahead);
    assert.equal(store.recordDoc?.nextChunk, 8);
  });

  test('zones and lines: counted chunk by chunk with the tracker, out of order and across a crash the same as straight through', async () => {
    const zones = zoneSettingsOf({ zones: [{ name: 'left', polygon: [[0, 0], [320, 0], [320, 360], [0, 360]] }], lines: [{ name: 'middle', from: [320, 0], to: [320, 360] }] })!;
    const zoned: TrackingJob = { ...job, zones };
    const straight = new ZoneCounter(zones);
    const tracker = new ByteTracker();
    for (const f of allFrames) {
      const ids = tracker.update(f.ptsMs, [...f.detections, ...f.trackOnly]);
      straight.update(f.ptsMs, f.detections.map((d, i) => ({ ...d, trackId: ids[i] })));
    }
    const store = new MemoryTrackingStore();
    store.crashOnAdvance = 7; // chunk 6's step dies before the record moves: its redelivery counts it again, from the saved state
    for (const k of [2, 1, 0]) await mergeChunk(store, k, zoned);
    for (let k = 3; k < chunks.length; k++) await mergeChunk(store, k, zoned).catch(() => mergeChunk(store, k, zoned));
    const report = restoreZones(store.recordDoc!.zones, zones).report();
    assert.deepEqual(report, straight.report());
    const [left] = report.zones;
    const [middle] = report.lines;
    assert.ok(left!.labels['person']!.entered > 0 && left!.labels['person']!.dwellMs > 0, JSON.stringify(left));
    assert.ok(Object.values(middle!.labels).some((c) => c.in + c.out > 0), JSON.stringify(middle));
  });

  test('segments: a chunk\'s tracks combined over the job, objects per label', () => {
    const tracker = new ByteTracker();
    const segments = chunks.flatMap((c) => trackChunkFrames(tracker, c.frames, c.trackOnly).segments);
    const tracks = combineSegments(segments.reverse());
    const ids = new Map<number, { label: string; frames: number[]; scores: number[] }>();
    expected.forEach((frameIds, frame) => frameIds.forEach((id, i) => {
      if (id === undefined) return;
      const d = allFrames[frame]!.detections[i]!;
      const t = ids.get(id) ?? { label: d.label, frames: [], scores: [] };
      ids.set(id, t);
      t.frames.push(frame);
      t.scores.push(d.score);
    }));
    assert.deepEqual(tracks.map((t) => t.trackId), [...ids.keys()].sort((a, b) => a - b));
    for (const t of tracks) {
      const e = ids.get(t.trackId)!;
      assert.deepEqual([t.label, t.firstFrame, t.lastFrame, t.frames, t.bestScore], [e.label, e.frames[0], e.frames.at(-1), e.frames.length, Math.max(...e.scores)]);
      assert.deepEqual(t.firstBox, allFrames[t.firstFrame]!.detections.find((_, i) => expected[t.firstFrame]![i] === t.trackId)!.box);
      assert.equal(t.firstMs, t.firstFrame * 40);
    }
    const objects = objectsPerLabel(tracks);
    assert.equal(Object.values(objects).reduce((a, b) => a + b, 0), tracks.length);
    for (const label of ['dog', 'bicycle', 'horse', 'person', 'bird']) assert.ok((objects[label] ?? 0) >= 1, label);
  });
});

function bind(store: MemoryTrackingStore): TrackingStore {
  return {
    record: store.record.bind(store), create: store.create.bind(store), chunk: store.chunk.bind(store), saveChunk: store.saveChunk.bind(store),
    advance: store.advance.bind(store), dropTrackOnly: store.dropTrackOnly.bind(store),
  };
}
