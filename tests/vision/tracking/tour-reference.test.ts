import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteTracker, evaluateTracks } from '../../../src/vision/tracking/index.js';
import { loadReference, type VideoReference } from '../../helpers/reference.js';
import { describeEvaluation, loadTourTracks, trackReferenceFrames, trackingTargetProblems } from '../../helpers/tracks.js';

/**
 * The tracker over the tour video's reference detections (every box scoring ≥ 0.3, 25 frames/s), judged against
 * its reference tracks: the target and state carried across cuts (what it costs per frame: npm run bench:tracking).
 */
const tour = loadReference<VideoReference>('tour-640x360');
const referenceTracks = loadTourTracks();

const track = (tracker: ByteTracker, frames: VideoReference['frames']) => trackReferenceFrames(tracker, frames, tour.fps);

describe('ByteTracker on the tour video\'s reference detections', () => {
  test('each object on screen ≥ 4 s keeps one id on ≥ 95 % of its boxes, no two share one', (t) => {
    assert.equal(tour.frames.length, 400);
    const e = evaluateTracks(referenceTracks, track(new ByteTracker(), tour.frames), { fps: tour.fps });
    for (const line of describeEvaluation(e)) t.diagnostic(line);
    assert.equal(e.longObjects.length, 4, 'bicycle, dog, person and bird are on screen for 4 s');
    assert.deepEqual(trackingTargetProblems(e), []);
    assert.equal(e.idSwitches, 0);
    assert.ok(e.idf1 >= 0.9, `IDF1 ${e.idf1}`);
  });

  test('stopped and restored from JSON at any frame, the tracker gives the same ids as one that never stopped', () => {
    const straight = track(new ByteTracker(), tour.frames);
    for (const cut of [1, 99, 100, 101, 137, 200, 250, 333]) {
      const first = new ByteTracker();
      const before = track(first, tour.frames.slice(0, cut));
      const restored = ByteTracker.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
      assert.deepEqual([...before, ...track(restored, tour.frames.slice(cut))], straight, `cut at frame ${cut}`);
    }
  });
});
