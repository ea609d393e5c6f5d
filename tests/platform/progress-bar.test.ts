import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressBar, formatDuration, type TerminalLike } from '../../src/platform/terminal/progress-bar.js';

/** A terminal that records what is written, and a clock the test moves. */
function terminal(columns: number | 'unknown' = 120) {
  const writes: string[] = [];
  const stream: TerminalLike = { isTTY: true, ...(columns === 'unknown' ? {} : { columns }), write: (text) => writes.push(text) > 0 };
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  return { stream, writes, clock };
}

const ERASE = '\r\x1b[2K';

describe('ProgressBar', () => {
  test('only a terminal gets a bar: pipes, files and CI logs get none', () => {
    assert.equal(ProgressBar.forStream({ write: () => true }), undefined);
    assert.equal(ProgressBar.forStream({ isTTY: false, write: () => true }), undefined);
    assert.ok(ProgressBar.forStream({ isTTY: true, write: () => true }) instanceof ProgressBar);
  });

  test('the line: name, bar, frames done of total, frames/s, ETA', () => {
    const { stream, clock } = terminal();
    const bar = new ProgressBar(stream, clock.now);
    bar.start('tour.mp4', 400);
    clock.advance(2_000);
    // 100 of 400 in 2 s: 50 frames/s, 300 to go: 6 s; a quarter of the 24 cells.
    assert.equal(bar.line(100), `tour.mp4  ${'█'.repeat(6)}${'░'.repeat(18)}  100/400 frames  50.0 frames/s  ETA 6s`);
  });

  test('no rate before the first frame, no ETA once done, and a total that grows when more frames come', () => {
    const { stream, clock } = terminal();
    const bar = new ProgressBar(stream, clock.now);
    bar.start('a.mp4', 10, 'frames');
    assert.equal(bar.line(0), `a.mp4  ${'░'.repeat(24)}  0/10 frames`);
    clock.advance(1_000);
    assert.equal(bar.line(10), `a.mp4  ${'█'.repeat(24)}  10/10 frames  10.0 frames/s`);
    assert.equal(bar.line(12), `a.mp4  ${'█'.repeat(24)}  12/12 frames  12.0 frames/s`);
  });

  test('the line is cut to the terminal width (one column spare), and a pty that reports 0 columns counts as 80', () => {
    const narrow = terminal(30);
    const bar = new ProgressBar(narrow.stream, narrow.clock.now);
    bar.start('a-long-name-for-a-video.mp4', 400);
    narrow.clock.advance(1_000);
    assert.equal(bar.line(10), 'a-long-name-for-a-video.mp4  ');
    assert.equal(bar.line(10).length, 29);

    // `script` and some CI runners give a terminal without a size: the bar must still show (it used to be empty).
    for (const columns of [0, 'unknown'] as const) {
      const sizeless = terminal(columns);
      const b = new ProgressBar(sizeless.stream, sizeless.clock.now);
      b.start(`${'x'.repeat(70)}.mp4`, 400);
      sizeless.clock.advance(1_000);
      assert.equal(b.line(10).length, 79, `columns ${columns}`);
    }
  });

  test('redraws at most every 100 ms; start draws at once; finish erases once', () => {
    const { stream, writes, clock } = terminal();
    const bar = new ProgressBar(stream, clock.now);
    bar.start('v.mp4', 100);
    assert.equal(writes.length, 1);
    assert.ok(writes[0]!.startsWith(ERASE) && writes[0]!.includes('0/100 frames'));
    for (let frame = 1; frame <= 9; frame++) {
      clock.advance(10);
      bar.update(frame);
    }
    assert.equal(writes.length, 1, '90 ms after start: nothing redrawn');
    clock.advance(10);
    bar.update(10);
    assert.equal(writes.length, 2);
    assert.ok(writes[1]!.includes('10/100 frames'));
    clock.advance(99);
    bar.update(20);
    assert.equal(writes.length, 2);
    bar.update(21, true);
    assert.equal(writes.length, 3, 'a forced update always draws');
    bar.finish();
    bar.finish();
    assert.deepEqual(writes.slice(3), [ERASE]);
  });

  test('finish before anything was drawn writes nothing; a new start draws again', () => {
    const { stream, writes, clock } = terminal();
    const bar = new ProgressBar(stream, clock.now);
    bar.finish();
    assert.equal(writes.length, 0);
    bar.start('a.jpg', 1);
    bar.finish();
    bar.start('annotating a.png', 1);
    assert.equal(writes.length, 3);
    assert.ok(writes[2]!.includes('annotating a.png'));
  });
});

test('formatDuration: seconds, then minutes and seconds, then hours and minutes', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(-3), '0s');
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(59.6), '1m00s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3_599), '59m59s');
  assert.equal(formatDuration(3_600), '1h00m');
  assert.equal(formatDuration(7_380), '2h03m');
});
