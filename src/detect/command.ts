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
import { DETECT_USAGE, DetectUsageError, parseDetectArgs, type DetectArgs } from './args.js';

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
