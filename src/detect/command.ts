import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { annotatedKind, DEFAULT_FONT, renderAnnotated } from '../media/annotate.js';
import { loadConfig, type Config } from '../platform/config.js';
import { crossCheckOptions } from '../contracts/job-options.js';
import type { FrameDetections } from '../contracts/messages.js';
import { combineSummaries } from '../contracts/summary.js';
import { isVdetError, VdetError } from '../platform/errors.js';
import { describeModelFile, type DescribedModel } from '../vision/model-file.js';
import { mediaLimits, probeMedia } from '../media/ffmpeg.js';
import { openEngine, type OpenEngine } from './engine.js';
import { ProgressBar, type TerminalLike } from '../platform/terminal/progress-bar.js';
import { openLineSink, ReaderGone, type OutputStream } from '../platform/terminal/line-sink.js';
import { resolveTrackerOptions } from '../vision/tracking/index.js';
import { combineObjectCounts, detectTable } from './objects-table.js';
import { detectFile, planFile, type DetectOptions, type FileResult, type PlannedFile } from './run-detect.js';

export const DETECT_USAGE = `usage: vdet detect <video|image|folder> [options]

Runs the main job in this process, without Kafka, MongoDB or Redis: the same decoding, model and rules as the
services. Objects are tracked from frame to frame (ByteTrack). Ends with a table per label of the objects tracked
and the detections (on stdout; on stderr with --out -).

  --out FILE        write every frame's detections as JSON Lines, one object per frame:
                    {"file","frame","ptsMs","detections":[{"label","classId","score","box":[x1,y1,x2,y2],"trackId"}]}
                    ("-" writes them to stdout). Without --out only the table is printed. trackId (1, 2, …
                    within a file) is on the detections of confirmed tracks: an object seen in 2 frames in a
                    row scoring 0.5 or more, 0.6 on the first (on the video's first frame at once); it keeps
                    its id through lower scores (down to 0.1, whatever --min-score) and misses of up to 1 s.
  --annotate FILE   also render the input with its boxes and labels burned in: a video to .mp4/.mov/.mkv
                    (H.264, every source frame), an image to .png/.jpg. For a folder, FILE is a folder and
                    each input gets <name>.annotated.mp4 or .png in it.
  --fps N           sample N frames per second (default: every frame)
  --min-score S     keep detections scoring at least S, 0-1 (default: VDET_MIN_SCORE, 0.3)
  --classes A,B     keep only these labels
  --model FILE      the ONNX model to run (default: VDET_MODEL): a YOLOX, Ultralytics YOLOv8/YOLO11 or
                    end-to-end (YOLOv10, YOLO26, nms=True) export, found from its shapes and metadata
                    (VDET_MODEL_FORMAT and VDET_MODEL_PAD set them by hand)
  --no-track        do not track: no trackId, no objects column

A folder means every file in it (not its subfolders; hidden files are left out), in name order; files that are not
a video or image are skipped with a warning. The model, devices and limits come from the environment
(VDET_MODEL, VDET_DEVICES, VDET_MAX_*; docs/configuration.md).`;

export interface DetectArgs {
  input: string;
  out?: string | undefined;
  annotate?: string | undefined;
  fps?: number | undefined;
  minScore?: number | undefined;
  classes?: string[] | undefined;
  /** A model file instead of VDET_MODEL. */
  model?: string | undefined;
  /** Track objects (false with --no-track). */
  track: boolean;
}

/** A mistake in how the command was called: exit status 2. */
export class DetectUsageError extends Error {}

const VALUE_FLAGS = ['--out', '--annotate', '--fps', '--min-score', '--classes', '--model'] as const;
const SWITCHES = ['--no-track'] as const;

/**
 * Parses `vdet detect` arguments (`--flag value` or `--flag=value`); 'help' for -h/--help. Anything else starting
 * with `-` is an unknown option (a file named so is given as `./-name`, or after `--`).
 */
export function parseDetectArgs(argv: readonly string[]): DetectArgs | 'help' {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const positional: string[] = [];
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if ((SWITCHES as readonly string[]).includes(name)) {
      if (eq >= 0) throw new DetectUsageError(`${name} takes no value`);
      if (switches.has(name)) throw new DetectUsageError(`${name} is given twice`);
      switches.add(name);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) throw new DetectUsageError(`unknown option ${name} (vdet detect --help lists them)`);
    // `--out --fps 2` is a forgotten value, not a file named "--fps".
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1]?.startsWith('--') ? undefined : argv[++i];
    if (value === undefined || value === '') throw new DetectUsageError(`${name} needs a value`);
    if (values.has(name)) throw new DetectUsageError(`${name} is given twice`);
    values.set(name, value);
  }
  if (positional.length === 0) throw new DetectUsageError('detect needs a video, image or folder (vdet detect --help)');
  if (positional.length > 1) throw new DetectUsageError(`detect takes one video, image or folder, not ${positional.length} (${positional.join(', ')})`);
  const number = (name: string, min: number, max: number): number | undefined => {
    const raw = values.get(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim()) || !Number.isFinite(n) || n < min || n > max) {
      throw new DetectUsageError(`${name} must be a number from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
  const classes = values.get('--classes')?.split(',').map((c) => c.trim()).filter(Boolean);
  if (classes !== undefined && classes.length === 0) throw new DetectUsageError('--classes needs at least one label, e.g. --classes person,car');
  return {
    input: positional[0]!,
    out: values.get('--out'),
    annotate: values.get('--annotate'),
    // The same ranges as the api's job options (JobOptionsSchema).
    fps: number('--fps', 0.01, 240),
    minScore: number('--min-score', 0, 1),
    classes: classes ? [...new Set(classes)] : undefined,
    model: values.get('--model'),
    track: !switches.has('--no-track'),
  };
}

export interface CommandIo {
  stdout: OutputStream;
  stderr: TerminalLike;
}

/** What the run learns from outside while it works. */
interface RunState {
  /** The first error of stdout: a closed pipe is noticed instead of crashing the process. */
  stdoutError?: NodeJS.ErrnoException;
  /** The signal that asked the run to stop (Ctrl-C). */
  signal?: NodeJS.Signals;
  engine?: OpenEngine;
}

/** The shell's convention: 128 + the signal's number. */
const signalStatus = (signal: NodeJS.Signals) => (signal === 'SIGINT' ? 130 : 143);

/** Runs `vdet detect`; prints errors as one `vdet: …` line on stderr and resolves with the exit status. */
export async function runDetectCommand(argv: readonly string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const state: RunState = {};
  // Kept to the end of the process: a write may fail after the command returned.
  io.stdout.on?.('error', (error) => {
    state.stdoutError ??= error;
  });
  try {
    const args = parseDetectArgs(argv);
    if (args === 'help') {
      io.stdout.write(`${DETECT_USAGE}\n`);
      return 0;
    }
    await detect(args, io, state);
    return state.signal ? signalStatus(state.signal) : 0;
  } catch (error) {
    if (state.signal) return signalStatus(state.signal);
    if (error instanceof ReaderGone || state.stdoutError?.code === 'EPIPE') return 0;
    io.stderr.write(`vdet: ${oneLine(error)}\n`);
    return error instanceof DetectUsageError ? 2 : 1;
  }
}

async function detect(args: DetectArgs, io: CommandIo, state: RunState): Promise<void> {
  const config = loadConfig();
  const model = await describeModelFile(config.model, args.model ? path.resolve(args.model) : config.model.path);
  const labels = model.spec.labels;
  const conflict = args.classes ? crossCheckOptions({ classes: args.classes }, labels) : undefined;
  if (conflict) throw new DetectUsageError(`--classes: ${conflict.problem}`);
  const options: DetectOptions = {
    fps: args.fps, minScore: args.minScore ?? config.detector.minScore, classes: args.classes, tracking: args.track ? resolveTrackerOptions() : undefined,
  };
  const input = await inspectInput(args.input);
  const links = await mkdtemp(path.join(os.tmpdir(), 'vdet-detect-'));
  const bar = ProgressBar.forStream(io.stderr);
  // Ctrl-C (or a kill) stops the run at its next frame, so that the bar is erased, the private folder removed and
  // running model batches end (a worker killed in the middle of one aborts the process). A second one exits now.
  const interrupted = (signal: NodeJS.Signals) => {
    if (state.signal) {
      bar?.finish();
      rmSync(links, { recursive: true, force: true });
      process.exit(signalStatus(signal));
    }
    state.signal = signal;
    void state.engine?.close(); // frames waiting for the model fail: detection stops
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  try {
    await detectInputs({ args, input, links, options, config, model, bar, state }, io);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await rm(links, { recursive: true, force: true });
  }
}

/**
 * ffmpeg opens each input through a link named `input-N` in a private folder: like the processor's uploads, it must
 * recognise the content by itself (a `.jpg` name would pick the image-sequence demuxer, which vdet does not allow).
 */
async function detectInputs(run: DetectRun, io: CommandIo): Promise<void> {
  const { args, input, links, options, config, bar } = run;
  const warn = (line: string) => io.stderr.write(`${line}\n`);

  // Everything that can be checked before the model loads is: the inputs' media, the output paths.
  const limits = mediaLimits(config.processor);
  const probing = { probe: (file: string) => probeMedia(file, limits), processor: config.processor };
  const planned: PlannedFile[] = [];
  for (const [i, file] of input.files.entries()) {
    try {
      const link = path.join(links, `input-${i}`);
      await symlink(path.resolve(file), link);
      planned.push(await planFile(file, options, probing, link));
    } catch (error) {
      if (!input.folder) {
        // The file named, the code kept: "VDET_MEDIA_UNREADABLE: clip.txt: The file is not a video …".
        throw isVdetError(error) ? new VdetError(error.code, `${file}: ${error.message}`, { cause: error.cause }) : new Error(`${file}: ${oneLine(error)}`);
      }
      warn(`vdet: skipping ${file}: ${oneLine(error)}`);
    }
  }
  if (planned.length === 0) throw new Error(`${args.input}: no video or image in this folder`);
  const annotateTo = await annotationTargets(args, input.folder, planned);
  for (const target of [args.out, ...annotateTo.values()]) {
    if (target && target !== '-' && input.files.some((f) => path.resolve(f) === path.resolve(target))) {
      throw new DetectUsageError(`${target} is an input; writing to it would destroy it`);
    }
  }
  const report = args.out === '-' ? io.stderr : io.stdout;
  const sink = args.out ? await openLineSink(args.out, io.stdout, () => run.state.stdoutError) : undefined;
  if (annotateTo.size > 0 && !existsSync(DEFAULT_FONT)) warn(`vdet: no font at ${DEFAULT_FONT} (Debian: fonts-dejavu-core): boxes are drawn without labels`);

  const started = Date.now();
  const engine = await openEngine(config, run.model, warn);
  run.state.engine = engine;
  const loadMs = Date.now() - started;
  const results: FileResult[] = [];
  const lines: string[] = [];
  try {
    for (const file of planned) {
      if (run.state.signal) return;
      const target = annotateTo.get(file.file);
      const kept: FrameDetections[] = [];
      bar?.start(path.basename(file.file), file.plan.expectedFrames);
      const result = await detectFile(file, options, engine, async (frame) => {
        if (sink) await sink.write(`${JSON.stringify({ file: file.file, frame: frame.frame, ptsMs: frame.ptsMs, detections: frame.detections })}\n`);
        if (target) kept.push(frame);
        bar?.update(frame.frame + 1);
      }).finally(() => bar?.finish());
      results.push(result);
      lines.push(fileLine(result));
      if (target) {
        bar?.start(`annotating ${path.basename(target)}`, file.probe.isImage ? 1 : file.plan.media.frames);
        const rendered = await renderAnnotated(file.mediaPath, kept, target, {
          width: file.probe.width, height: file.probe.height, sourceFps: file.probe.fps, limits,
          onProgress: (frames) => bar?.update(frames),
        }).finally(() => bar?.finish());
        lines.push(`annotated ${target}: ${rendered.frames} frame${rendered.frames === 1 ? '' : 's'} in ${(rendered.wallMs / 1000).toFixed(1)} s`
          + `${rendered.labels ? '' : ' (boxes only: no font for labels)'}`);
      }
    }
  } finally {
    await engine.close();
    await sink?.close();
  }
  const frames = results.reduce((n, r) => n + r.frames, 0);
  const detectMs = results.reduce((n, r) => n + r.wallMs, 0);
  if (results.length > 1) {
    lines.push(`${results.length} files: ${frames} frames in ${(detectMs / 1000).toFixed(1)} s = ${(frames / Math.max(detectMs / 1000, 1e-3)).toFixed(1)} frames/s`);
  }
  lines.push(`model ${path.basename(run.model.path)} (${run.model.spec.format}, ${run.model.spec.inputWidth}x${run.model.spec.inputHeight}) on ${engine.runners.map((r) => r.name).join(', ')} (loaded in ${(loadMs / 1000).toFixed(1)} s)`);
  if (args.out && args.out !== '-') lines.push(`detections written to ${args.out}`);
  const objects = options.tracking ? combineObjectCounts(results.map((r) => r.objects ?? {})) : undefined;
  report.write(`${lines.join('\n')}\n\n${detectTable(combineSummaries(results.map((r) => r.summary)), objects)}\n`);
}

interface Inputs {
  folder: boolean;
  files: string[];
}

interface DetectRun {
  args: DetectArgs;
  input: Inputs;
  /** Private folder of the inputs' links. */
  links: string;
  options: DetectOptions;
  config: Config;
  /** The model to run (VDET_MODEL or --model), described. */
  model: DescribedModel;
  /** On a terminal only. */
  bar: ProgressBar | undefined;
  state: RunState;
}

async function inspectInput(input: string): Promise<Inputs> {
  const info = await stat(input).catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? `${input}: no such file or folder` : `${input}: ${error.message}`);
  });
  if (info.isFile()) return { folder: false, files: [input] };
  if (!info.isDirectory()) throw new Error(`${input}: not a file or folder`);
  const names = (await readdir(input)).filter((name) => !name.startsWith('.')).sort();
  const files: string[] = [];
  for (const name of names) {
    const file = path.join(input, name);
    if ((await stat(file).catch(() => undefined))?.isFile()) files.push(file);
  }
  if (files.length === 0) throw new Error(`${input}: the folder has no files`);
  return { folder: true, files };
}

/** Where each input's annotated copy goes; checks the names and that their folders exist. */
async function annotationTargets(args: DetectArgs, folder: boolean, planned: readonly PlannedFile[]): Promise<Map<string, string>> {
  const targets = new Map<string, string>();
  if (!args.annotate) return targets;
  if (folder) {
    if (annotatedKind(args.annotate)) throw new DetectUsageError(`--annotate: for a folder, give a folder to write the annotated files to (not ${args.annotate})`);
    await mkdir(args.annotate, { recursive: true });
    const used = new Set<string>();
    for (const { file, probe } of planned) {
      const ext = probe.isImage ? '.png' : '.mp4';
      const stem = path.basename(file, path.extname(file));
      const name = used.has(stem) ? path.basename(file) : stem;
      used.add(stem);
      targets.set(file, path.join(args.annotate, `${name}.annotated${ext}`));
    }
    return targets;
  }
  const [{ file, probe }] = planned as [PlannedFile];
  const kind = annotatedKind(args.annotate);
  if (!kind || (kind === 'image' && !probe.isImage)) {
    throw new DetectUsageError(`--annotate: ${probe.isImage ? 'an image renders to .png, .jpg or .mp4' : 'a video renders to .mp4, .mov or .mkv'} (not ${args.annotate})`);
  }
  const dir = path.dirname(path.resolve(args.annotate));
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new Error(`--annotate: the folder ${path.dirname(args.annotate)} does not exist`);
  targets.set(file, args.annotate);
  return targets;
}

function fileLine(r: FileResult): string {
  const seconds = r.wallMs / 1000;
  const rate = r.probe.isImage ? '' : ` = ${(r.frames / Math.max(seconds, 1e-3)).toFixed(1)} frames/s`;
  return `${r.file}: ${r.frames} frame${r.frames === 1 ? '' : 's'}, ${r.detections} detection${r.detections === 1 ? '' : 's'} in ${seconds.toFixed(1)} s${rate}`;
}

/** An error as one line; a failed render also gets ffmpeg's last words (the api never shows those). */
/** The error as one line, led by its stable code when it has one (as the service's and the client's errors are). */
function oneLine(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  if (isVdetError(error) && error.code === 'VDET_RENDER_FAILED' && error.cause instanceof Error) {
    text += ` (ffmpeg: ${error.cause.message.trim().split('\n').at(-1)})`;
  }
  return `${isVdetError(error) ? `${error.code}: ` : ''}${text}`.replace(/\s*\n\s*/g, ' ').trim();
}
