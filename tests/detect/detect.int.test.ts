import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { agreement, compareToService } from '../helpers/agreement.js';
import { allDetections, submitJob, waitForJob, type FrameItem } from '../helpers/client.js';
import { MODEL_PATH, SHARED, TOUR_VIDEO, imagePath } from '../helpers/paths.js';
import { compareToReference, loadReference } from '../helpers/reference.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv, type TestEnv } from '../helpers/stack.js';
import { describeEvaluation, loadTourTracks, trackingTargetProblems } from '../helpers/tracks.js';
import { evaluateTracks } from '../../src/vision/tracking/index.js';
import type { TrackedDetection } from '../../src/detect/run-detect.js';

/**
 * `vdet detect` as a user runs it: the built cli as a child process, its stdout and stderr pipes (no terminal), no
 * services. One run on the tour video serves several tests; the service comparison starts the roles on the local
 * stack (scripts/stack.sh) and is skipped, saying so, when the stack is down.
 */
const CLI = path.resolve('dist/src/cli.js');
const IMAGES = path.join(SHARED, 'media/images');
const run = promisify(execFile);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Runs the cli with pipes for stdout and stderr; resolves with what it wrote and its exit status. */
function vdet(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, VDET_MODEL: MODEL_PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, wallMs: Date.now() - started }));
  });
}

interface JsonlFrame extends FrameItem {
  file: string;
  detections: TrackedDetection[];
}

function parseJsonl(text: string): JsonlFrame[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as JsonlFrame);
}

/**
 * The rows of the table `vdet detect` ends with: label → detections, frames. `tracked`: the table has its objects
 * column (label → objects in `objects`); otherwise it must not.
 */
function parseTable(text: string, tracked = true, objects?: Map<string, number>): Map<string, { detections: number; frames: number }> {
  const lines = text.split('\n');
  const objectsColumn = tracked ? '\\s+objects' : '';
  const header = lines.findIndex((l) => new RegExp(`^label${objectsColumn}\\s+detections\\s+frames\\s+max/frame\\s+first s\\s+last s$`).test(l));
  assert.ok(header >= 0, `no table${tracked ? ' with objects' : ' without objects'} in:\n${text}`);
  const rows = new Map<string, { detections: number; frames: number }>();
  const row = new RegExp(`^(.+?)${tracked ? '\\s+(\\d+)' : '()'}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+\\.\\d\\d)\\s+(\\d+\\.\\d\\d)$`);
  for (const line of lines.slice(header + 1)) {
    const match = row.exec(line);
    if (!match) break;
    rows.set(match[1]!, { detections: Number(match[3]), frames: Number(match[4]) });
    if (tracked) objects?.set(match[1]!, Number(match[2]));
  }
  return rows;
}

/** Per label, the distinct track ids in the JSON Lines. */
function objectsOf(frames: readonly JsonlFrame[]): Map<string, number> {
  const ids = new Map<string, Set<number>>();
  for (const d of frames.flatMap((f) => f.detections)) {
    if (d.trackId !== undefined) ids.set(d.label, (ids.get(d.label) ?? new Set()).add(d.trackId));
  }
  return new Map([...ids].map(([label, set]) => [label, set.size]));
}

const withoutTrackIds = (frames: readonly JsonlFrame[]) => frames.map((f) => ({ ...f, detections: f.detections.map(({ trackId: _, ...d }) => d) }));

function countsOf(frames: readonly FrameItem[]): Map<string, { detections: number; frames: number }> {
  const counts = new Map<string, { detections: number; frames: number }>();
  for (const frame of frames) {
    const labels = new Set<string>();
    for (const d of frame.detections) {
      const c = counts.get(d.label) ?? { detections: 0, frames: 0 };
      c.detections++;
      if (!labels.has(d.label)) c.frames++;
      labels.add(d.label);
      counts.set(d.label, c);
    }
  }
  return counts;
}

function frameCount(file: string): Promise<number> {
  return run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,codec_name', '-of', 'json', file])
    .then(({ stdout }) => {
      const stream = (JSON.parse(stdout) as { streams: { nb_read_frames: string; codec_name: string }[] }).streams[0]!;
      assert.equal(stream.codec_name, 'h264');
      return Number(stream.nb_read_frames);
    });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 1_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** Terminal control bytes a progress bar would write: carriage return, escape. */
const BAR_BYTES = /[\r\x1b]/;

describe('vdet detect', { timeout: 600_000 }, () => {
  let dir = '';
  let tour: CliRun;
  let tourFrames: JsonlFrame[];

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: npm run build first`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'vdet-detect-test-'));
    tour = await vdet(['detect', TOUR_VIDEO, '--out', path.join(dir, 'tour.jsonl'), '--annotate', path.join(dir, 'tour.mp4')]);
    assert.equal(tour.code, 0, tour.stderr);
    tourFrames = parseJsonl(await readFile(path.join(dir, 'tour.jsonl'), 'utf8'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the tour video: every frame in order, the table\'s counts are the JSON Lines\' totals, no bar without a terminal', (t) => {
    const rate = /(\d+) frames, (\d+) detections in [\d.]+ s = ([\d.]+) frames\/s/.exec(tour.stdout);
    assert.ok(rate, tour.stdout);
    t.diagnostic(`vdet detect tour-640x360.mp4 (--annotate too): ${rate[3]} frames/s detecting, ${tour.wallMs} ms in all`);
    assert.equal(Number(rate[1]), 400);
    assert.deepEqual(tourFrames.map((f) => f.frame), Array.from({ length: 400 }, (_, i) => i));
    assert.deepEqual(tourFrames.map((f) => f.ptsMs), Array.from({ length: 400 }, (_, i) => i * 40));
    assert.ok(tourFrames.every((f) => f.file === TOUR_VIDEO));
    const total = tourFrames.reduce((n, f) => n + f.detections.length, 0);
    assert.equal(Number(rate[2]), total);

    const objects = new Map<string, number>();
    const table = parseTable(tour.stdout, true, objects);
    const counts = countsOf(tourFrames);
    assert.deepEqual([...table.keys()].sort(), [...counts.keys()].sort());
    for (const [label, c] of counts) assert.deepEqual(table.get(label), c, label);
    const tracked = objectsOf(tourFrames);
    for (const label of counts.keys()) assert.equal(objects.get(label), tracked.get(label) ?? 0, `objects of ${label}`);
    assert.ok(['dog', 'bicycle', 'horse', 'person', 'bird'].every((label) => table.has(label)), [...table.keys()].join(', '));
    assert.doesNotMatch(tour.stderr, BAR_BYTES);
    assert.doesNotMatch(tour.stdout, BAR_BYTES);
    assert.equal(tour.stderr, '');
  });

  test('tracks: each reference object on screen ≥ 4 s keeps one trackId on ≥ 95 % of its boxes, no two share one', (t) => {
    const ids = tourFrames.flatMap((f) => f.detections).map((d) => d.trackId).filter((id) => id !== undefined);
    assert.ok(ids.length > 0 && ids.every((id) => Number.isInteger(id) && id >= 1), 'integer trackIds from 1');
    const e = evaluateTracks(loadTourTracks(), tourFrames, { fps: 25 });
    for (const line of describeEvaluation(e)) t.diagnostic(line);
    assert.equal(e.longObjects.length, 4);
    assert.deepEqual(trackingTargetProblems(e), []);
  });

  test('--annotate renders an H.264 mp4 with every frame of the source', async () => {
    assert.match(tour.stdout, /annotated .*tour\.mp4: 400 frames/);
    const [source, annotated] = await Promise.all([frameCount(TOUR_VIDEO), frameCount(path.join(dir, 'tour.mp4'))]);
    assert.equal(source, 400);
    assert.equal(annotated, source);
  });

  /** The tour video through `vdet all` on the local stack, frames travelling as `wire` says. */
  async function throughService(wire: 'video' | 'raw' | 'jpeg', t: { diagnostic(message: string): void }, env: Record<string, string> = {}) {
    const ports = await Promise.all([9092, 27017, 6379].map(reachable));
    assert.ok(ports.every(Boolean), 'the local stack is down (bash scripts/stack.sh up; npm test starts it)');
    const key = `vdet_detect_test_${Date.now()}_0123456789abcdef`;
    const stack: TestEnv = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: key, VDET_WIRE_FORMAT: wire, ...env });
    let service: RunningRole | undefined;
    try {
      // The four roles in one process (`vdet all`): the same cores the command wires, linked by Kafka.
      service = startRole('all', stack.env);
      await waitStarted([service]);
      const api = { base: await apiUrl(service), key };
      const started = Date.now();
      const id = await submitJob(api, TOUR_VIDEO);
      const job = await waitForJob(api, id);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
      t.diagnostic(`the service (${wire} frames on the wire): 400 frames in ${Date.now() - started} ms from upload to done`);
      return { job, frames: await allDetections(api, id), log: service.output() };
    } finally {
      const code = await service?.stop();
      if (service && code !== 0) console.error(`vdet all exited ${code}:\n${service.output().slice(-3000)}`);
      await stack.cleanup();
    }
  }

  for (const wire of ['video', 'raw'] as const) {
    test(`${wire === 'video' ? 'whole GOPs (the default)' : 'raw frames'} on the wire: the service's detections are the command's — same frames, same labels, boxes at IoU ≥ 0.99`, async (t) => {
      await sameAsCommand(wire, t);
    });
  }

  test('one run of GOPs with more frames than a chunk carries (the whole tour, VDET_VIDEO_CHUNK_FRAMES=1000): two chunks of it, the command\'s detections', async (t) => {
    const { log } = await sameAsCommand('video', t, { VDET_VIDEO_CHUNK_FRAMES: '1000' });
    // 256 + 144 frames, each chunk decoding the whole video.
    assert.match(log, /"frames":400,"chunks":2,"wire":"video"[^\n]*job split into chunks/);
  });

  async function sameAsCommand(wire: 'video' | 'raw', t: { diagnostic(message: string): void }, env: Record<string, string> = {}) {
    const { job, frames, log } = await throughService(wire, t, env);
    const { problems, worstIou, worstScore } = compareToService(tourFrames, frames, 0.99);
    t.diagnostic(`lowest IoU of a box with the service's: ${worstIou.toFixed(4)}; largest score difference ${worstScore.toFixed(4)}`);
    assert.deepEqual(problems, []);
    const counts = countsOf(frames);
    assert.deepEqual(Object.fromEntries(Object.entries(job.counts).sort()), Object.fromEntries([...counts].map(([l, c]) => [l, c.detections]).sort()));
    return { job, log };
  }

  test('JPEG frames on the wire (VDET_WIRE_FORMAT=jpeg): every frame, and recall and precision ≥ 0.93 against the command\'s raw path', async (t) => {
    const { frames } = await throughService('jpeg', t);
    assert.deepEqual(frames.map((f) => [f.frame, f.ptsMs]), tourFrames.map((f) => [f.frame, f.ptsMs]));
    const { recall, precision, referenceBoxes, candidateBoxes } = agreement(tourFrames, frames);
    t.diagnostic(`JPEG wire against the raw path: recall ${recall.toFixed(4)} of ${referenceBoxes} boxes, precision ${precision.toFixed(4)} of ${candidateBoxes}`);
    // Measured 0.968 / 0.946: JPEG's noise moves boxes near the score threshold (docs/topics.md); a decoding error
    // (channels swapped, a wrong size) falls far below.
    assert.ok(recall >= 0.93 && precision >= 0.93, `recall ${recall}, precision ${precision}`);
  });

  test('a folder of images matches the reference detections', async () => {
    const out = path.join(dir, 'images.jsonl');
    const result = await vdet(['detect', IMAGES, '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, BAR_BYTES);
    const frames = parseJsonl(await readFile(out, 'utf8'));
    const names = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];
    // In name order, one frame each, at 0 ms.
    assert.deepEqual(frames.map((f) => f.file), names.map(imagePath));
    for (const [i, name] of names.entries()) {
      assert.equal(frames[i]!.frame, 0);
      assert.equal(frames[i]!.ptsMs, 0);
      assert.deepEqual(compareToReference(frames[i]!.detections, loadReference(name).detections), [], name);
    }
    assert.match(result.stdout, /7 files: 7 frames/);
    const table = parseTable(result.stdout);
    for (const [label, c] of countsOf(frames)) assert.deepEqual(table.get(label), c, label);
  });

  test('--fps, --min-score and --classes shape the output; --out - writes it to stdout and the table to stderr; --no-track changes only the tracks', async () => {
    const args = ['detect', TOUR_VIDEO, '--fps', '5', '--min-score=0.5', '--classes', 'dog,horse', '--out', '-'];
    const [result, untracked] = await Promise.all([vdet(args), vdet([...args, '--no-track'])]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(untracked.code, 0, untracked.stderr);
    const frames = parseJsonl(result.stdout);
    // Without tracking: the same detections, no trackId, the table without its objects column.
    const untrackedFrames = parseJsonl(untracked.stdout);
    assert.ok(frames.some((f) => f.detections.some((d) => d.trackId !== undefined)));
    assert.ok(untrackedFrames.every((f) => f.detections.every((d) => !('trackId' in d))));
    assert.deepEqual(untrackedFrames, withoutTrackIds(frames));
    for (const [label, c] of countsOf(untrackedFrames)) assert.deepEqual(parseTable(untracked.stderr, false).get(label), c, label);
    assert.equal(frames.length, 80);
    assert.deepEqual(frames.map((f) => f.ptsMs), Array.from({ length: 80 }, (_, i) => i * 200));
    const detections = frames.flatMap((f) => f.detections);
    assert.ok(detections.length > 0);
    assert.ok(detections.every((d) => (d.label === 'dog' || d.label === 'horse') && d.score >= 0.5), 'only dogs and horses scoring 0.5 or more');
    const table = parseTable(result.stderr);
    for (const [label, c] of countsOf(frames)) assert.deepEqual(table.get(label), c, label);
    assert.doesNotMatch(result.stderr, BAR_BYTES);
    // 5 of the source's 25 frames/s: the frames at 0, 200, 400 ms… are every 5th frame of the full run, filtered.
    const expected = tourFrames.filter((f) => f.frame % 5 === 0).map((f, i) => ({
      frame: i, ptsMs: f.ptsMs, detections: f.detections.filter((d) => d.score >= 0.5 && (d.label === 'dog' || d.label === 'horse')),
    }));
    assert.deepEqual(compareToService(frames, expected, 0.99).problems, []);
  });

  test('errors: one line on stderr starting "vdet:", exit 1 for a bad input, 2 for a bad option, nothing on stdout', async () => {
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'this is not a video\n'.repeat(50));
    const [missing, notVideo, badOption, badValue, badAnnotate] = await Promise.all([
      vdet(['detect', path.join(dir, 'no-such-video.mp4')]),
      vdet(['detect', text]),
      vdet(['detect', TOUR_VIDEO, '--speed', '2']),
      vdet(['detect', TOUR_VIDEO, '--min-score', '2']),
      vdet(['detect', imagePath('dog'), '--annotate', path.join(dir, 'dog.gif')]),
    ]);
    const cases: [string, CliRun, number, RegExp][] = [
      ['missing file', missing, 1, /^vdet: .*no-such-video\.mp4: no such file or folder$/],
      ['text file', notVideo, 1, /^vdet: VDET_[A-Z_]+: .*notes\.txt: The file is not a video or image/],
      ['unknown option', badOption, 2, /^vdet: unknown option --speed/],
      ['value out of range', badValue, 2, /^vdet: --min-score must be a number from 0 to 1 \(got "2"\)$/],
      ['annotate name', badAnnotate, 2, /^vdet: --annotate: an image renders to \.png, \.jpg or \.mp4/],
    ];
    for (const [what, result, code, line] of cases) {
      assert.equal(result.code, code, `${what}: ${result.stderr}`);
      assert.equal(result.stdout, '', what);
      assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, `${what}: ${result.stderr}`);
      assert.match(result.stderr.trimEnd(), line, what);
    }
  });

  test('on a terminal: a progress bar on stderr, erased before the summary', async (t) => {
    if (!(await run('script', ['--version']).then(() => true, () => false))) {
      t.skip('no `script` (util-linux) to give the command a terminal');
      return;
    }
    const command = [process.execPath, CLI, 'detect', imagePath('dog')].map((a) => `'${a}'`).join(' ');
    const { stdout } = await run('script', ['-qec', command, '/dev/null'], { env: { ...process.env, VDET_MODEL: MODEL_PATH } });
    assert.match(stdout, /\r\x1b\[2Kdog\.jpg {2}░+ {2}0\/1 frames/);
    assert.ok(stdout.indexOf('\r\x1b[2K') < stdout.indexOf('label '), 'the bar comes before the table');
    assert.match(stdout, /\r\x1b\[2K[^\r]*dog\.jpg: 1 frame, \d+ detections/, 'the bar is erased before the summary');
  });
});
