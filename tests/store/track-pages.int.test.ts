import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deleteJobRecords } from '../../src/store/job-data.js';
import { connectStore, ensureIndexes, type Store } from '../../src/store/mongo.js';
import { readTrack, readTracks, storeTracks, TRACK_BUCKET } from '../../src/store/track-store.js';
import type { TrackSummary } from '../../src/results/tracks.js';
import { createTestEnv } from '../helpers/stack.js';

const env = createTestEnv();
const LABELS = ['person', 'car', 'dog'];
const track = (trackId: number): TrackSummary => ({
  trackId, label: LABELS[trackId % 3]!, firstFrame: trackId, lastFrame: trackId + 40, firstMs: trackId * 40, lastMs: (trackId + 40) * 40,
  frames: 41, bestScore: 0.5 + (trackId % 40) / 100, firstBox: [trackId, 0, trackId + 9, 9], lastBox: [trackId + 1, 0, trackId + 10, 9],
});
// Ids with gaps (a tracker skips ids of tracks never confirmed), over several buckets.
const TRACKS = Array.from({ length: 250 }, (_, i) => track(1 + i + Math.floor(i / 7)));
const LAST = TRACKS.at(-1)!.trackId;

async function all(store: Store, job: Parameters<typeof readTracks>[1], limit: number, keep?: (t: TrackSummary) => boolean) {
  const seen: TrackSummary[] = [];
  for (let afterId = 0; ;) {
    const found = await readTracks(store, job, afterId, limit, keep);
    seen.push(...found.slice(0, limit));
    if (found.length <= limit) return seen;
    afterId = found[limit - 1]!.trackId;
  }
}

describe('a done job\'s tracks, a bucket of ids a document (real MongoDB-protocol server)', () => {
  let store: Store;
  before(async () => {
    store = await connectStore(env.config.mongo);
    await ensureIndexes(store);
  });
  after(async () => {
    await store.close();
    await env.cleanup();
  });

  test('pages, label filters and single tracks read the same from track pages as from a document a track', async () => {
    const paged = { _id: 'jp', tenant: 'acme', tracks: { count: TRACKS.length, lastTrackId: LAST, paged: true } };
    await storeTracks(store, paged, TRACKS);
    await storeTracks(store, paged, TRACKS); // idempotent
    assert.equal(await store.trackPages.countDocuments({ jobId: 'jp' }), Math.floor(LAST / TRACK_BUCKET) + 1);
    // A job done before track pages: one document a track in job_tracks, and no `paged` on its record.
    const legacy = { _id: 'jl', tenant: 'acme', tracks: { count: TRACKS.length, lastTrackId: LAST } };
    await store.tracks.insertMany(TRACKS.map((t) => ({ _id: `jl:${t.trackId}`, tenant: 'acme', jobId: 'jl', b: Math.floor(t.trackId / TRACK_BUCKET), ...t })));
    for (const job of [paged, legacy]) {
      for (const limit of [1, 30, 100, 1000]) assert.deepEqual(await all(store, job, limit), TRACKS, `${job._id}, limit ${limit}`);
      assert.deepEqual(await all(store, job, 20, (t) => t.label === 'dog'), TRACKS.filter((t) => t.label === 'dog'), `${job._id}: dogs`);
      assert.deepEqual(await readTrack(store, job, TRACKS[123]!.trackId), TRACKS[123]);
      assert.equal(await readTrack(store, job, 8), undefined, `${job._id}: an id the tracker skipped`);
      assert.equal(await readTrack(store, job, LAST + 1), undefined);
    }
    assert.deepEqual(await all(store, { ...paged, tenant: 'globex' }, 100), [], 'another tenant reads nothing');
  });

  test('deleting the job removes its track pages', async () => {
    await deleteJobRecords(store, { _id: 'jp', tenant: 'acme', uploadId: 'none', status: 'done' });
    assert.equal(await store.trackPages.countDocuments({ jobId: 'jp' }), 0);
  });
});
