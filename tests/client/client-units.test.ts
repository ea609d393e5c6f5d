import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/client/client-io.js';
import { latencySummary, parsePushArgs, resultLine } from '../../src/client/push.js';
import { readServerSentEvents } from '../../src/client/server-sent-events.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

async function collect(...parts: string[]) {
  const events = [];
  for await (const event of readServerSentEvents(chunks(...parts))) events.push(event);
  return events;
}

describe('readServerSentEvents', () => {
  test('events split anywhere across chunks, comments skipped, multi-line data joined, CRLF and LF alike', async () => {
    const events = await collect(': keep-alive\n\nevent: prog', 'ress\ndata: {"framesDone":1}\r', '\n\r\ndata: a\ndata: b\n\nevent: done\ndata: {}\n\n', 'data: partial');
    assert.deepEqual(events, [
      { event: 'progress', data: '{"framesDone":1}' },
      { event: 'message', data: 'a\nb' },
      { event: 'done', data: '{}' },
    ]);
  });
});

describe('vdet push arguments', () => {
  test('defaults and every flag', () => {
    assert.deepEqual(parsePushArgs(['v.mp4', '--stream', 'cam-1']), {
      file: 'v.mp4', stream: 'cam-1', fps: undefined, loop: false, frames: undefined, quality: 3, token: undefined, waitMs: 10_000, brokers: undefined,
    });
    const all = parsePushArgs(['v.mp4', '--stream', 'a:b', '--fps', '2.5', '--loop', '--frames', '9', '--quality', '5', '--token', 't', '--wait-ms', '0', '--brokers', 'h:1']);
    assert.deepEqual(all, { file: 'v.mp4', stream: 'a:b', fps: 2.5, loop: true, frames: 9, quality: 5, token: 't', waitMs: 0, brokers: 'h:1' });
    assert.equal(parsePushArgs(['--help']), 'help');
  });

  test('mistakes are usage errors that say what is wrong', () => {
    const wrong: [string[], RegExp][] = [
      [['v.mp4'], /--stream ID is needed/],
      [['--stream', 'x'], /one video file/],
      [['v.mp4', 'w.mp4', '--stream', 'x'], /one video file/],
      [['v.mp4', '--stream', 'a b'], /--stream ID is needed/],
      [['v.mp4', '--stream', 'x', '--fps', '0'], /--fps must be a number from 0.01 to 240/],
      [['v.mp4', '--stream', 'x', '--frames', '1.5'], /--frames must be a whole number/],
      [['v.mp4', '--stream', 'x', '--quality', '40'], /--quality must be a whole number from 2 to 31/],
      [['v.mp4', '--stream', 'x', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [argv, message] of wrong) assert.throws(() => parsePushArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
  });

  test('latency figures and the line a person reads', () => {
    assert.equal(latencySummary([]), 'no results');
    assert.equal(latencySummary(Array.from({ length: 100 }, (_, i) => i + 1)), 'latency p50 50, p95 95, p99 99, max 100 ms');
    const line = resultLine({ stream: 's', tenant: 't', seq: 7, ts: 0, width: 1, height: 1, latencyMs: 12.6, detections: [{ label: 'dog', classId: 16, score: 0.914, box: [0, 0, 1, 1] }] });
    assert.equal(line, 'seq 7  13 ms  1 object: dog 0.91');
  });
});
