import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZoneCounter, insidePolygon, type TrackedBox, type ZoneSettings } from '../../src/vision/zones.js';

/** A box of 20×40 whose bottom centre (the object's position) is at (x, y). */
const at = (trackId: number | undefined, x: number, y: number, label = 'person'): TrackedBox => ({ label, box: [x - 10, y - 40, x + 10, y], trackId });
const settings: ZoneSettings = {
  zones: [{ name: 'door', polygon: [[100, 100], [200, 100], [200, 200], [100, 200]] }],
  lines: [{ name: 'gate', from: [0, 300], to: [400, 300] }],
  forgetMs: 2000,
};

test('insidePolygon: the even-odd rule, concave shapes too', () => {
  const l = [[0, 0], [100, 0], [100, 30], [30, 30], [30, 100], [0, 100]] as const;
  assert.equal(insidePolygon([10, 10], l), true);
  assert.equal(insidePolygon([60, 60], l), false);
  assert.equal(insidePolygon([10, 90], l), true);
  assert.equal(insidePolygon([-1, 10], l), false);
});

test('a line counts each crossing once, by direction and label; beside the segment or back from touching it counts nothing', () => {
  const counter = new ZoneCounter(settings);
  const walk = (id: number, label: string, points: [number, number][]) => points.forEach(([x, y], i) => counter.update(i * 100, [at(id, x, y, label)]));
  walk(1, 'person', [[50, 250], [50, 290], [50, 310], [50, 350]]); // down: out
  walk(2, 'person', [[60, 350], [60, 320], [60, 280]]); // up: in
  walk(3, 'car', [[500, 250], [500, 350]]); // beside the segment
  walk(4, 'person', [[70, 290], [70, 300], [70, 290], [70, 300], [70, 310]]); // onto the line, back, onto it, over: one out
  walk(5, 'dog', [[80, 250], [80, 350], [80, 250]]); // over and back: out, then in
  const { lines } = counter.report();
  assert.deepEqual(lines, [{ name: 'gate', labels: { dog: { in: 1, out: 1 }, person: { in: 1, out: 2 } } }]);
});

test('a zone counts the objects that entered it and how long they stayed; boxes without a track id are not counted', () => {
  const counter = new ZoneCounter(settings);
  for (let t = 0; t <= 3000; t += 500) {
    counter.update(t, [
      at(1, 150, t <= 1500 ? 150 : 250), // inside from 0 to 1500 ms
      at(2, 50 + t / 20, 150), // walks in at x > 100 (t > 1000), still inside at 3000
      at(undefined, 150, 150), // never counted
      at(3, 150, 150, 'dog'), // inside all along
    ]);
  }
  const [door] = counter.report().zones;
  assert.deepEqual(door, {
    name: 'door',
    labels: { dog: { entered: 1, dwellMs: 3000, maxDwellMs: 3000 }, person: { entered: 2, dwellMs: 1500 + 1500, maxDwellMs: 1500 } },
  });
});

test('objects gone longer than forgetMs leave the state but stay counted; a counter goes on from its JSON', () => {
  const frames = Array.from({ length: 60 }, (_, i) => ({ t: i * 200, boxes: [at(i < 20 ? 1 : 2, 150, 120 + (i % 20) * 10)] }));
  const straight = new ZoneCounter(settings);
  for (const f of frames) straight.update(f.t, f.boxes);
  let counter = new ZoneCounter(settings);
  for (const [i, f] of frames.entries()) {
    if (i % 7 === 0) counter = ZoneCounter.fromJSON(settings, JSON.parse(JSON.stringify(counter.toJSON())));
    counter.update(f.t, f.boxes);
  }
  assert.deepEqual(counter.report(), straight.report());
  assert.equal(Object.keys(counter.toJSON().objects).length, 1, 'track 1 forgotten');
  assert.equal(counter.report().zones[0]!.labels['person']!.entered, 2);
  assert.throws(() => ZoneCounter.fromJSON(settings, { v: 2 } as never), TypeError);
});

test('each frame says what changed: entered, left (with the visit\'s time inside), crossed; an object forgotten inside leaves', () => {
  const counter = new ZoneCounter(settings);
  const events = [
    counter.update(0, [at(1, 50, 150)]), // outside the door
    counter.update(100, [at(1, 150, 150)]), // in
    counter.update(600, [at(1, 160, 150)]), // still in: nothing
    counter.update(700, [at(1, 250, 150)]), // out after 500 ms inside
    counter.update(800, [at(1, 250, 290), at(2, 150, 150, 'dog')]), // the dog appears inside
    counter.update(900, [at(1, 250, 310)]), // person crosses the gate downwards: out
  ];
  assert.deepEqual(events, [
    [],
    [{ type: 'entered', zone: 'door', label: 'person', trackId: 1 }],
    [],
    [{ type: 'left', zone: 'door', label: 'person', trackId: 1, dwellMs: 500 }],
    [{ type: 'entered', zone: 'door', label: 'dog', trackId: 2 }],
    [{ type: 'crossed', line: 'gate', direction: 'out', label: 'person', trackId: 1 }],
  ]);
  // The dog is not seen again: once forgotten (forgetMs 2000), it left, with no time inside (seen in one frame).
  assert.deepEqual(counter.update(3000, [at(1, 250, 310)]), [{ type: 'left', zone: 'door', label: 'dog', trackId: 2, dwellMs: 0 }]);
});
