import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DETECT_USAGE, DetectUsageError, parseDetectArgs } from '../../src/detect/args.js';
import { runDetectCommand } from '../../src/detect/command.js';
import { combineObjectCounts, detectTable } from '../../src/detect/objects-table.js';
import { summaryTable } from '../../src/results/summary-table.js';
import type { Summary } from '../../src/contracts/summary.js';

/** The usage error parseDetectArgs throws for `argv`, checked against `message`. */
function rejects(argv: string[], message: RegExp): void {
  assert.throws(() => parseDetectArgs(argv), (error: unknown) => {
    assert.ok(error instanceof DetectUsageError, `${argv.join(' ')}: ${String(error)}`);
    assert.match(error.message, message);
    return true;
  }, argv.join(' '));
}

describe('parseDetectArgs', () => {
  test('an input alone: every option left to its default', () => {
    assert.deepEqual(parseDetectArgs(['video.mp4']), {
      input: 'video.mp4', out: undefined, annotate: undefined, fps: undefined, minScore: undefined, classes: undefined, model: undefined, track: true,
    });
  });

  test('every option, as "--flag value" and as "--flag=value", before or after the input', () => {
    const expected = { input: 'clips', out: 'r.jsonl', annotate: 'out', fps: 2.5, minScore: 0.45, classes: ['person', 'car'], model: 'm.onnx', track: true };
    assert.deepEqual(parseDetectArgs(['clips', '--out', 'r.jsonl', '--annotate', 'out', '--fps', '2.5', '--min-score', '0.45', '--classes', 'person,car', '--model', 'm.onnx']), expected);
    assert.deepEqual(parseDetectArgs(['--out=r.jsonl', '--annotate=out', '--fps=2.5', '--min-score=.45', '--classes=person,car', '--model=m.onnx', 'clips']), expected);
  });

  test('--no-track turns tracking off; it takes no value and comes once', () => {
    assert.equal((parseDetectArgs(['v.mp4', '--no-track']) as { track: boolean }).track, false);
    assert.equal((parseDetectArgs(['--no-track', '--fps', '2', 'v.mp4']) as { track: boolean }).track, false);
    rejects(['v.mp4', '--no-track=1'], /--no-track takes no value/);
    rejects(['v.mp4', '--no-track', '--no-track'], /--no-track is given twice/);
    rejects(['v.mp4', '--out', '--no-track'], /--out needs a value/);
  });

  test('a value may contain "=" and "-" may mean stdout', () => {
    assert.equal((parseDetectArgs(['v.mp4', '--out=a=b.jsonl']) as { out: string }).out, 'a=b.jsonl');
    assert.equal((parseDetectArgs(['v.mp4', '--out', '-']) as { out: string }).out, '-');
  });

  test('-h and --help anywhere ask for help', () => {
    for (const argv of [['-h'], ['--help'], ['v.mp4', '--help'], ['--fps', '2', '-h']]) assert.equal(parseDetectArgs(argv), 'help', argv.join(' '));
  });

  test('--classes: trimmed, empty names dropped, duplicates once, and at least one', () => {
    assert.deepEqual((parseDetectArgs(['v.mp4', '--classes', ' dog, cat,,dog ']) as { classes: string[] }).classes, ['dog', 'cat']);
    rejects(['v.mp4', '--classes', ',,'], /--classes needs at least one label/);
  });

  test('the ranges are the api\'s: fps from 0.01 to 240, min-score from 0 to 1, bounds included', () => {
    assert.equal((parseDetectArgs(['v', '--fps', '0.01']) as { fps: number }).fps, 0.01);
    assert.equal((parseDetectArgs(['v', '--fps', '240']) as { fps: number }).fps, 240);
    assert.equal((parseDetectArgs(['v', '--fps', '1e1']) as { fps: number }).fps, 10);
    assert.equal((parseDetectArgs(['v', '--min-score', '0']) as { minScore: number }).minScore, 0);
    assert.equal((parseDetectArgs(['v', '--min-score', '1']) as { minScore: number }).minScore, 1);
    for (const fps of ['0', '0.001', '-1', '240.5', 'abc', '0x10', 'Infinity', 'NaN', '2fps', ' ']) {
      rejects(['v', '--fps', fps], /--fps must be a number from 0\.01 to 240/);
    }
    for (const score of ['-0.1', '1.01', 'high', '1/2']) rejects(['v', '--min-score', score], /--min-score must be a number from 0 to 1/);
  });

  test('unknown options, missing values and repeated options are usage errors', () => {
    rejects(['v.mp4', '--bogus'], /unknown option --bogus/);
    rejects(['v.mp4', '--bogus=1'], /unknown option --bogus/);
    rejects(['v.mp4', '-o', 'x'], /unknown option -o/);
    rejects(['v.mp4', '--out'], /--out needs a value/);
    rejects(['v.mp4', '--out='], /--out needs a value/);
    rejects(['v.mp4', '--out', '--fps', '2'], /--out needs a value/); // a forgotten value, not a file named --fps
    rejects(['v.mp4', '--fps', '2', '--fps=3'], /--fps is given twice/);
  });

  test('exactly one input; "--" ends the options', () => {
    rejects([], /needs a video, image or folder/);
    rejects(['--fps', '2'], /needs a video, image or folder/);
    rejects(['a.mp4', 'b.mp4'], /one video, image or folder, not 2 \(a\.mp4, b\.mp4\)/);
    assert.equal((parseDetectArgs(['--fps', '2', '--', '-odd name.mp4']) as { input: string }).input, '-odd name.mp4');
  });
});

describe('runDetectCommand', () => {
  function fakeIo() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      io: { stdout: { write: (t: string) => out.push(t) > 0 }, stderr: { write: (t: string) => err.push(t) > 0 } },
      stdout: () => out.join(''),
      stderr: () => err.join(''),
    };
  }

  test('a usage error: exit status 2 and one line on stderr, nothing on stdout', async () => {
    const { io, stdout, stderr } = fakeIo();
    assert.equal(await runDetectCommand(['v.mp4', '--fps', 'fast'], io), 2);
    assert.equal(stdout(), '');
    assert.match(stderr(), /^vdet: --fps must be a number from 0\.01 to 240 \(got "fast"\)\n$/);
  });

  test('--help prints the usage on stdout and exits 0', async () => {
    const { io, stdout, stderr } = fakeIo();
    assert.equal(await runDetectCommand(['--help'], io), 0);
    assert.equal(stdout(), `${DETECT_USAGE}\n`);
    assert.equal(stderr(), '');
    for (const option of ['--out', '--annotate', '--fps', '--min-score', '--classes', '--model', '--no-track']) assert.match(DETECT_USAGE, new RegExp(`  ${option} `));
  });
});

describe('summaryTable', () => {
  test('no detections says so', () => {
    assert.equal(summaryTable({}), 'no detections');
  });

  test('one row per label in the summary\'s order, numbers right-aligned, times in seconds', () => {
    const summary: Summary = {
      person: { detections: 1234, frames: 400, maxPerFrame: 7, firstMs: 0, lastMs: 15_960 },
      'traffic light': { detections: 3, frames: 2, maxPerFrame: 2, firstMs: 40, lastMs: 1_500 },
    };
    assert.equal(summaryTable(summary), [
      'label          detections  frames  max/frame  first s  last s',
      'person               1234     400          7     0.00   15.96',
      'traffic light           3       2          2     0.04    1.50',
    ].join('\n'));
  });
});

describe('detectTable', () => {
  const summary: Summary = {
    horse: { detections: 393, frames: 198, maxPerFrame: 4, firstMs: 4000, lastMs: 11_960 },
    sheep: { detections: 13, frames: 13, maxPerFrame: 1, firstMs: 4640, lastMs: 6720 },
  };

  test('tracked: an objects column after the label, 0 for a label no track was confirmed for', () => {
    assert.equal(detectTable(summary, { horse: 5 }), [
      'label  objects  detections  frames  max/frame  first s  last s',
      'horse        5         393     198          4     4.00   11.96',
      'sheep        0          13      13          1     4.64    6.72',
    ].join('\n'));
    assert.equal(detectTable({}, {}), 'no detections');
  });

  test('untracked (--no-track): the summary table as it was', () => {
    assert.equal(detectTable(summary, undefined), summaryTable(summary));
  });

  test('each file tracks its own objects: counts of files add up', () => {
    assert.deepEqual(combineObjectCounts([{ dog: 2, car: 1 }, {}, { dog: 1, bird: 3 }]), { dog: 3, car: 1, bird: 3 });
  });
});
