import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteTracker, DEFAULT_TRACKER_OPTIONS, resolveTrackerOptions, TrackerOptionsError, type TrackableDetection } from '../../../src/vision/tracking/index.js';

const FRAME_MS = 40; // 25 frames/s

/** A `w` × `h` box with its top-left corner at (x, y). */
function at(x: number, y: number, label = 'person', score = 0.9, w = 40, h = 80): TrackableDetection {
  return { label, score, box: [x, y, x + w, y + h] };
}

/** Runs `frames` (one list of detections each, FRAME_MS apart from `startMs`) and returns each frame's ids. */
function run(tracker: ByteTracker, frames: readonly (readonly TrackableDetection[])[], startMs = 0): (number | undefined)[][] {
  return frames.map((detections, i) => tracker.update(startMs + i * FRAME_MS, detections));
}

describe('ByteTracker', () => {
  test('the first frame\'s objects get ids at once, 1, 2, …; they keep them while they move', () => {
    const tracker = new ByteTracker();
    const ids = run(tracker, Array.from({ length: 20 }, (_, i) => [at(10 + 4 * i, 10), at(300 - 3 * i, 100, 'car', 0.8)]));
    assert.deepEqual(ids[0], [1, 2]);
    assert.ok(ids.every((frame) => frame[0] === 1 && frame[1] === 2), JSON.stringify(ids));
  });

  test('two objects of one label crossing paths keep their ids (motion decides, not the nearest box)', () => {
    const tracker = new ByteTracker();
    // A walks right and B left at 6 px a frame along the same line; at frame 20 their boxes coincide.
    const frames = Array.from({ length: 40 }, (_, i) => [at(100 + 6 * i, 50), at(340 - 6 * i, 50)]);
    const ids = run(tracker, frames);
    const [a, b] = ids[0] as [number, number];
    assert.notEqual(a, b);
    for (const [i, frame] of ids.entries()) {
      if (i === 20) continue; // the same box twice: either way is right
      assert.deepEqual(frame, [a, b], `frame ${i}`);
    }
  });

  test('a new object needs confirmFrames frames in a row before it gets an id; a blip never takes one', () => {
    const tracker = new ByteTracker({ confirmFrames: 3 });
    const frames: TrackableDetection[][] = [[at(0, 0)], [at(0, 0), at(300, 0)], [at(0, 0), at(300, 0)], [at(0, 0), at(300, 0)], [at(0, 0), at(300, 0)]];
    frames[1]!.push(at(500, 200, 'dog')); // seen once: tentative, then gone
    const ids = run(tracker, frames);
    assert.deepEqual(ids.map((f) => f.slice(0, 2)), [[1], [1, undefined], [1, undefined], [1, 2], [1, 2]]);
    assert.equal(ids[1]![2], undefined);
    assert.equal(tracker.confirmedTracks, 2);
  });

  test('with the defaults (2 frames) an object appearing mid-video answers no id on its first frame, then its own', () => {
    const tracker = new ByteTracker();
    const ids = run(tracker, [[], [at(50, 50)], [at(52, 50)], [at(54, 50)]]);
    assert.deepEqual(ids, [[], [undefined], [1], [1]]);
  });

  test('an object hidden for less than lostTrackMs comes back with its id; longer, it gets a new one', () => {
    const hidden = (gapFrames: number) => {
      const tracker = new ByteTracker({ lostTrackMs: 1000 });
      // Moving 3 px a frame; hidden for gapFrames frames while it goes on moving.
      const frames = Array.from({ length: 20 + gapFrames + 5 }, (_, i) => (i >= 20 && i < 20 + gapFrames ? [] : [at(100 + 3 * i, 60)]));
      return run(tracker, frames).filter((f) => f.length > 0).map((f) => f[0]);
    };
    // 24 frames hidden: back 25 × 40 = 1000 ms after it was last seen, not more than lostTrackMs.
    assert.deepEqual(new Set(hidden(24)), new Set([1]));
    // 26 frames hidden: 1080 ms; the old track has ended, the object is new (no id on its first frame back).
    const longer = hidden(26);
    assert.deepEqual(longer.slice(0, 20), new Array(20).fill(1));
    assert.deepEqual(longer.slice(20), [undefined, 2, 2, 2, 2]);
  });

  test('the lost-track buffer is time, not frames: sampled at 5 frames/s, 4 frames hidden is 800 ms', () => {
    const sampled = (gapFrames: number) => {
      const tracker = new ByteTracker({ lostTrackMs: 1000 });
      const frames = Array.from({ length: 10 + gapFrames + 3 }, (_, i) => (i >= 10 && i < 10 + gapFrames ? [] : [at(100 + 10 * i, 60)]));
      return frames.map((d, i) => tracker.update(i * 200, d)).filter((f) => f.length > 0).map((f) => f[0]);
    };
    assert.deepEqual(new Set(sampled(4)), new Set([1])); // back after 1000 ms
    assert.deepEqual(sampled(5).slice(10), [undefined, 2, 2]); // after 1200 ms: a new object
  });

  test('low-score boxes carry a track through a blur, but never start one, and below trackThreshold nothing', () => {
    const tracker = new ByteTracker();
    const frames = Array.from({ length: 12 }, (_, i) => {
      const score = i < 4 ? 0.9 : i < 8 ? 0.3 : 0.05; // sharp, blurred, nearly gone
      return [at(100 + 2 * i, 40, 'person', score), at(400, 200, 'dog', 0.3)]; // a dog only ever scored 0.3
    });
    const ids = run(tracker, frames);
    assert.deepEqual(ids.map((f) => f[0]), [1, 1, 1, 1, 1, 1, 1, 1, undefined, undefined, undefined, undefined]);
    assert.ok(ids.every((f) => f[1] === undefined), 'the low-score dog never gets an id');
    assert.equal(tracker.confirmedTracks, 1); // the person's track, lost but waiting
  });

  test('a low-score box does not revive a lost track; a high-score one does', () => {
    const tracker = new ByteTracker();
    const ids = run(tracker, [[at(0, 0)], [at(0, 0)], [], [at(0, 0, 'person', 0.3)], [at(0, 0, 'person', 0.9)]]);
    assert.deepEqual(ids, [[1], [1], [], [undefined], [1]]);
  });

  test('per label: a dog never continues a car\'s track, even on the same box', () => {
    const tracker = new ByteTracker();
    const ids = run(tracker, [[at(0, 0, 'car')], [at(0, 0, 'car')], [at(0, 0, 'dog')], [at(0, 0, 'dog')], [at(0, 0, 'car')]]);
    assert.deepEqual(ids, [[1], [1], [undefined], [2], [1]]); // the car's track waited, lost, and is found again
  });

  test('detections that are not boxes are left without an id and break nothing', () => {
    const tracker = new ByteTracker();
    const bad: TrackableDetection[] = [{ label: 'cat', score: 0.9, box: [10, 10, 10, 50] }, { label: 'cat', score: 0.9, box: [NaN, 0, 5, 5] }];
    assert.deepEqual(tracker.update(0, [...bad, at(0, 0)]), [undefined, undefined, 1]);
  });

  test('frames must come in time order', () => {
    const tracker = new ByteTracker();
    tracker.update(40, []);
    assert.throws(() => tracker.update(40, []), /time order: 40 ms after 40 ms/);
    assert.throws(() => tracker.update(0, []), /time order/);
    assert.throws(() => tracker.update(Number.NaN, []), /finite/);
  });

  test('ids are unique within a tracker: every confirmed track a new integer from 1', () => {
    const tracker = new ByteTracker({ lostTrackMs: 0 });
    const seen: number[] = [];
    // Objects appear for 5 frames each at places far apart, one after another.
    for (let k = 0; k < 30; k++) {
      for (let i = 0; i < 5; i++) {
        const ids = tracker.update((k * 6 + i) * FRAME_MS, [at((k % 10) * 60, Math.floor(k / 10) * 100, k % 2 ? 'cat' : 'dog')]);
        if (ids[0] !== undefined && !seen.includes(ids[0])) seen.push(ids[0]);
      }
    }
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, k) => k + 1));
  });
});

describe('ByteTracker state', () => {
  /** A busy scene: objects entering, crossing, hiding, blurring. */
  function scene(frames: number): TrackableDetection[][] {
    return Array.from({ length: frames }, (_, i) => {
      const d: TrackableDetection[] = [at(10 + 5 * i, 40), at(400 - 4 * i, 40)];
      if (i > 5 && (i < 20 || i > 30)) d.push(at(200, 150 + i, 'dog', i % 4 === 0 ? 0.35 : 0.8));
      if (i % 9 !== 0) d.push(at(50 + i, 250, 'car', 0.65, 90, 50));
      if (i > 40) d.push(at(500, 10 + 2 * i, 'person', 0.95));
      return d;
    });
  }

  test('toJSON → JSON text → fromJSON, mid-video: the restored tracker answers exactly the ids of one that never stopped', () => {
    const frames = scene(60);
    const unstopped = new ByteTracker();
    const straight = run(unstopped, frames);
    assert.ok(new Set(straight.flat().filter((id) => id !== undefined)).size >= 5, 'a scene with several tracks');
    for (const cut of [1, 7, 21, 25, 33, 41, 59]) {
      const first = new ByteTracker();
      const before = run(first, frames.slice(0, cut));
      const stored = JSON.stringify(first.toJSON());
      const restored = ByteTracker.fromJSON(JSON.parse(stored));
      const after = run(restored, frames.slice(cut), cut * FRAME_MS);
      assert.deepEqual([...before, ...after], straight, `cut at frame ${cut}`);
      assert.deepEqual(restored.toJSON(), unstopped.toJSON(), `the final state, cut at ${cut}`);
    }
  });

  test('the state is plain JSON and carries the options', () => {
    const tracker = new ByteTracker({ confirmFrames: 3, lostTrackMs: 500 });
    run(tracker, scene(10));
    const state = tracker.toJSON();
    assert.deepEqual(JSON.parse(JSON.stringify(state)), state);
    assert.equal(state.options.confirmFrames, 3);
    assert.equal(ByteTracker.fromJSON(state).options.lostTrackMs, 500);
  });

  test('fromJSON refuses what is not a tracker\'s state, saying where', () => {
    const tracker = new ByteTracker();
    run(tracker, scene(5));
    const good = tracker.toJSON();
    const broken = (change: (s: Record<string, unknown> & typeof good) => void) => {
      const s = structuredClone(good) as Record<string, unknown> & typeof good;
      change(s);
      return s;
    };
    assert.throws(() => ByteTracker.fromJSON(null), /tracker state/);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => (s.v = 2 as 1))), /tracker state: \/v/);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => s.tracks[0]!.mean.pop())), /tracker state: \/tracks\/0\/mean/);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => (s.tracks[1]!.id = s.tracks[0]!.id))), /id 1 twice/);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => (s.nextId = 1))), /not below nextId/);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => (s.options.confirmFrames = 0))), TrackerOptionsError);
    assert.throws(() => ByteTracker.fromJSON(broken((s) => (s.extra = true))), /tracker state/);
  });
});

describe('tracker options', () => {
  test('the defaults are ByteTrack\'s, with 1 s of lost-track buffer', () => {
    assert.deepEqual(resolveTrackerOptions(), {
      highThreshold: 0.5, trackThreshold: 0.1, newTrackThreshold: 0.6, matchIou: 0.2, lowMatchIou: 0.5, confirmFrames: 2, lostTrackMs: 1000,
    });
    assert.deepEqual(resolveTrackerOptions({ lostTrackMs: undefined as unknown as number }), DEFAULT_TRACKER_OPTIONS);
    assert.ok(Object.isFrozen(resolveTrackerOptions({ confirmFrames: 1 })));
  });

  test('every problem is reported at once', () => {
    assert.throws(() => new ByteTracker({ highThreshold: 0, matchIou: 1.5, confirmFrames: 2.5, lostTrackMs: -1 }), (error: unknown) => {
      assert.ok(error instanceof TrackerOptionsError);
      assert.equal(error.problems.length, 4, error.message);
      assert.match(error.message, /highThreshold must be a number above 0 up to 1 \(got 0\)/);
      assert.match(error.message, /confirmFrames must be a whole number from 1 to 100 \(got 2\.5\)/);
      return true;
    });
  });

  test('the thresholds keep their order: track ≤ high ≤ new track', () => {
    assert.throws(() => resolveTrackerOptions({ trackThreshold: 0.6 }), /trackThreshold \(0\.6\) must not exceed highThreshold \(0\.5\)/);
    assert.throws(() => resolveTrackerOptions({ newTrackThreshold: 0.4 }), /newTrackThreshold \(0\.4\) must not be below highThreshold/);
    assert.equal(resolveTrackerOptions({ trackThreshold: 0.5, newTrackThreshold: 0.5 }).trackThreshold, 0.5);
  });
});
