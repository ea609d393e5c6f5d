import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputGuards, type MediaLimits } from './ffmpeg.js';
import { FfmpegRunFailed, runFfmpeg } from './ffmpeg-process.js';
import type { FrameDetections } from '../contracts/messages.js';
import { VdetError } from '../platform/errors.js';
import { classColorOf } from '../contracts/class-colors.js';

/**
 * Burns detections into a copy of a video or image with ffmpeg's drawbox and drawtext filters: no second inference,
 * the boxes come from the stored (or just computed) detections.
 *
 * One filter per box and frame (`drawbox=enable='eq(n,N)'`) is what one would write first, but ffmpeg's filter
 * graph scheduler looks at every filter for every frame it moves, so thousands of filters cost O(filters²) per frame:
 * 4,000 such filters took 5 min 25 s on the 400-frame tour video. Instead the graph holds one drawbox and one drawtext
 * per *slot* (the k-th best box of a frame), and a `sendcmd` script moves, recolours, relabels, shows and hides the
 * slots at each frame's time: 2.9 s for the same video. Labels are drawn inside their box (top left), so nothing
 * outside the boxes changes; a label that does not fit its box is shortened to the class name, or left out.
 */
export const DEFAULT_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export interface AnnotateOptions {
  /** Size of the source frames: the boxes are in their pixels. */
  width: number;
  height: number;
  /**
   * Frame rate of the source; 0 or undefined for a still image. A detection frame is shown from half a source
   * frame before its `ptsMs` until the next detection frame, so sampled runs (`fps`, `stride`) hold their boxes.
   */
  sourceFps?: number | undefined;
  limits: MediaLimits;
  /** A TrueType font for the labels. Undefined: DejaVu Sans where installed. null: boxes only. */
  fontFile?: string | null | undefined;
  /** At most this many boxes per frame are drawn, the best ones (default 100). */
  maxBoxes?: number | undefined;
  /** Parent folder of the private temporary folder the filter scripts are written to (default: the OS's). */
  workDir?: string | undefined;
  /** Frames written so far, as ffmpeg reports them (about twice a second). */
  onProgress?(frames: number): void;
}

export interface AnnotateResult {
  /** Frames written. */
  frames: number;
  /** Whether labels were drawn (false: no font found, boxes only). */
  labels: boolean;
  /** The most boxes drawn on one frame. */
  slots: number;
  wallMs: number;
}

export type AnnotatedKind = 'video' | 'image';

const VIDEO_EXTENSIONS: Record<string, string[]> = {
  '.mp4': ['-movflags', '+faststart'],
  '.m4v': ['-movflags', '+faststart'],
  '.mov': ['-movflags', '+faststart'],
  '.mkv': [],
};
const IMAGE_EXTENSIONS: Record<string, string[]> = {
  '.png': ['-c:v', 'png'],
  '.jpg': ['-c:v', 'mjpeg', '-q:v', '2'],
  '.jpeg': ['-c:v', 'mjpeg', '-q:v', '2'],
};

/** What an output name renders to, by its extension: H.264 video (.mp4, .m4v, .mov, .mkv), an image (.png, .jpg), or undefined. */
export function annotatedKind(output: string): AnnotatedKind | undefined {
  const ext = path.extname(output).toLowerCase();
  if (ext in VIDEO_EXTENSIONS) return 'video';
  if (ext in IMAGE_EXTENSIONS) return 'image';
  return undefined;
}

/** Renders `input` with `frames`' boxes and labels to `output` (format by extension, see {@link annotatedKind}). */
export async function renderAnnotated(
  input: string,
  frames: Iterable<FrameDetections> | AsyncIterable<FrameDetections>,
  output: string,
  opts: AnnotateOptions,
): Promise<AnnotateResult> {
  const started = Date.now();
  const kind = annotatedKind(output);
  if (!kind) throw new VdetError('VDET_VALIDATION', `Cannot tell what to render from "${path.basename(output)}": name it .mp4, .mov, .mkv, .png or .jpg.`);
  const fontFile = opts.fontFile === undefined ? (existsSync(DEFAULT_FONT) ? DEFAULT_FONT : null) : opts.fontFile;
  const labels = fontFile !== null && existsSync(fontFile);
  const style = annotationStyle(opts.width, opts.height, labels);
  const dir = await mkdtemp(path.join(opts.workDir ?? os.tmpdir(), 'vdet-annotate-'));
  try {
    // ffmpeg runs in `dir` and names its scripts and the font relatively: no path ever needs filter-graph escaping.
    if (labels) await symlink(path.resolve(fontFile), path.join(dir, 'font.ttf'));
    const commands = createWriteStream(path.join(dir, 'commands.txt'));
    const script = new SlotScript(style, { maxBoxes: opts.maxBoxes ?? 100, halfFrameS: opts.sourceFps ? 0.5 / opts.sourceFps : 0.0005 });
    for await (const frame of frames) {
      const line = script.frame(frame);
      if (line && !commands.write(line)) await once(commands, 'drain');
    }
    const last = script.end();
    if (last) commands.write(last);
    commands.end();
    await once(commands, 'finish');
    const graph = filterGraph(script.slots, style, kind === 'video' && (opts.width % 2 === 1 || opts.height % 2 === 1));
    await writeFile(path.join(dir, 'graph.txt'), graph);
    const ext = path.extname(output).toLowerCase();
    const outputOptions = kind === 'video'
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-fps_mode', 'passthrough', ...VIDEO_EXTENSIONS[ext]!]
      : ['-frames:v', '1', '-update', '1', ...IMAGE_EXTENSIONS[ext]!];
    const args = [
      '-nostdin', '-v', 'error', '-nostats', '-progress', 'pipe:1', '-y',
      ...inputGuards(opts.limits), '-timelimit', String(opts.limits.timeoutS), '-i', path.resolve(input),
      '-filter_script:v', 'graph.txt', '-map', '0:v:0', '-an', '-sn', '-dn', ...outputOptions,
      path.resolve(output),
    ];
    const written = await runFfmpeg(args, { cwd: dir, timeoutS: opts.limits.timeoutS, onProgress: opts.onProgress }).catch((error: unknown) => {
      if (error instanceof FfmpegRunFailed) {
        const why = error.timedOut ? 'Rendering the annotated file took longer than allowed.' : 'ffmpeg could not render the annotated file.';
        throw new VdetError('VDET_RENDER_FAILED', why, { cause: error });
      }
      throw new VdetError('VDET_RENDER_FAILED', 'ffmpeg could not be started to render the annotated file.', { cause: error });
    });
    return { frames: written, labels, slots: script.slots, wallMs: Date.now() - started };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sizes that scale with the picture: line thickness, font size. */
export interface AnnotationStyle {
  width: number;
  height: number;
  thickness: number;
  fontSize: number;
  labels: boolean;
}

export function annotationStyle(width: number, height: number, labels: boolean): AnnotationStyle {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));
  return { width, height, thickness: clamp(Math.min(width, height) / 180, 2, 8), fontSize: clamp(height / 30, 10, 48), labels };
}

/** ffmpeg's colours (0xRRGGBB, and the text's) of a class: the palette every drawing of vdet uses. */
export function classColor(classId: number): readonly [string, string] {
  const { fill, text } = classColorOf(classId);
  return [`0x${fill.slice(1).toUpperCase()}`, text === '#fff' ? 'white' : 'black'];
}

/** A label as drawtext may receive it unquoted-safe: letters, digits and a few marks; anything else becomes `_`. */
export function labelText(label: string): string {
  return label.replace(/[^\p{L}\p{N} ._()+&/-]/gu, '_').slice(0, 64);
}

interface SlotState {
  shown: boolean;
  x: number;
  y: number;
  w: number;
  h: number;
  color: string;
  textShown: boolean;
  text: string;
  tx: number;
  ty: number;
  textColors: string;
}

/**
 * Writes the sendcmd script, one interval per frame whose drawing changes (only what changed is sent), and counts
 * the slots the graph needs. Pure apart from its own state, so it is tested without ffmpeg.
 */
export class SlotScript {
  private readonly state: SlotState[] = [];
  private shownSlots = 0;
  private lastPtsMs: number | undefined;
  private lastGapMs = 0;

  constructor(private readonly style: AnnotationStyle, private readonly opts: { maxBoxes: number; halfFrameS: number }) {}

  /** Slots the filter graph needs: the most boxes drawn on one frame. */
  get slots(): number {
    return this.state.length;
  }

  /** The interval for one frame (frames in time order), or '' when nothing changes. */
  frame(frame: FrameDetections): string {
    if (this.lastPtsMs !== undefined) this.lastGapMs = frame.ptsMs - this.lastPtsMs;
    this.lastPtsMs = frame.ptsMs;
    const boxes = [...frame.detections].sort((a, b) => b.score - a.score).slice(0, this.opts.maxBoxes);
    const commands: string[] = [];
    boxes.forEach((d, k) => this.drawSlot(k, d, commands));
    for (let k = boxes.length; k < this.shownSlots; k++) this.hideSlot(k, commands);
    this.shownSlots = boxes.length;
    return this.interval(frame.ptsMs / 1000, commands);
  }

  /** Hides every box one frame after the last (a ranged run draws nothing past its range). */
  end(): string {
    if (this.lastPtsMs === undefined || this.lastGapMs <= 0) return '';
    const commands: string[] = [];
    for (let k = 0; k < this.shownSlots; k++) this.hideSlot(k, commands);
    this.shownSlots = 0;
    return this.interval((this.lastPtsMs + this.lastGapMs) / 1000, commands);
  }

  private interval(seconds: number, commands: string[]): string {
    if (commands.length === 0) return '';
    const at = Math.max(0, seconds - this.opts.halfFrameS);
    return `${at.toFixed(6)} [enter] ${commands.join(', ')};\n`;
  }

  private drawSlot(k: number, d: FrameDetections['detections'][number], out: string[]): void {
    const { width, height, thickness, fontSize, labels } = this.style;
    let s = this.state[k];
    if (!s) {
      s = { shown: false, x: -1, y: -1, w: -1, h: -1, color: '', textShown: false, text: '', tx: -1, ty: -1, textColors: '' };
      this.state[k] = s;
    }
    const x = clamp(Math.round(d.box[0]), 0, width - 1);
    const y = clamp(Math.round(d.box[1]), 0, height - 1);
    const w = Math.max(1, Math.min(width, Math.round(d.box[2])) - x);
    const h = Math.max(1, Math.min(height, Math.round(d.box[3])) - y);
    const [color, ink] = classColor(d.classId);
    const box = `drawbox@b${k}`;
    if (s.x !== x) out.push(`${box} x ${x}`);
    if (s.y !== y) out.push(`${box} y ${y}`);
    if (s.w !== w) out.push(`${box} w ${w}`);
    if (s.h !== h) out.push(`${box} h ${h}`);
    if (s.color !== color) out.push(`${box} c ${color}`);
    if (!s.shown) out.push(`${box} enable 1`);
    Object.assign(s, { x, y, w, h, color, shown: true });
    if (!labels) return;
    const text = fitLabel(d, w - 2 * thickness, h - 2 * thickness, fontSize);
    const label = `drawtext@t${k}`;
    if (text === undefined) {
      if (s.textShown) out.push(`${label} enable 0`);
      s.textShown = false;
      return;
    }
    const tx = x + thickness;
    const ty = y + thickness;
    const textColors = `${ink}/${color}`;
    const changes: string[] = [];
    if (s.text !== text) changes.push(`text=${text}`);
    if (s.tx !== tx) changes.push(`x=${tx}`);
    if (s.ty !== ty) changes.push(`y=${ty}`);
    if (s.textColors !== textColors) changes.push(`fontcolor=${ink}`, `boxcolor=${color}@0.75`);
    // reinit keeps the options it is not given (font, size); only what changed is sent.
    if (changes.length > 0) out.push(`${label} reinit '${changes.join(':')}'`);
    if (!s.textShown) out.push(`${label} enable 1`);
    Object.assign(s, { text, tx, ty, textColors, textShown: true });
  }

  private hideSlot(k: number, out: string[]): void {
    const s = this.state[k];
    if (!s) return;
    if (s.shown) out.push(`drawbox@b${k} enable 0`);
    if (s.textShown) out.push(`drawtext@t${k} enable 0`);
    s.shown = false;
    s.textShown = false;
  }
}

/**
 * "label #id 0.87" (a tracked object; "label 0.87" when not) when it fits inside the box, else "label #id", else
 * "label", else undefined (no text).
 */
export function fitLabel(d: { label: string; score: number; trackId?: number | undefined }, innerW: number, innerH: number, fontSize: number): string | undefined {
  if (fontSize * 1.25 > innerH) return undefined;
  const name = labelText(d.label);
  const tagged = d.trackId !== undefined ? `${name} #${d.trackId}` : name;
  // DejaVu Sans advances are at most about 0.64 em for lower case and digits; wide capitals are rare in labels.
  const fits = (text: string) => Math.ceil(text.length * fontSize * 0.66) + 2 <= innerW;
  return [`${tagged} ${d.score.toFixed(2)}`, tagged, name].find(fits);
}

/** The filter graph: times from 0, sendcmd, then the slots' boxes (best on top), then their labels over every box. */
export function filterGraph(slots: number, style: AnnotationStyle, padEven: boolean): string {
  // Times from the first video frame, as the processor counts them (ptsMs = startMs + n / fps): a file whose
  // audio starts earlier or whose video starts late (edit lists) would otherwise shift every box by that much.
  const filters: string[] = ['setpts=PTS-STARTPTS'];
  if (slots > 0) filters.push('sendcmd=f=commands.txt');
  for (let k = slots - 1; k >= 0; k--) filters.push(`drawbox@b${k}=enable=0:x=0:y=0:w=1:h=1:t=${style.thickness}:c=red`);
  if (style.labels) {
    for (let k = slots - 1; k >= 0; k--) {
      filters.push(`drawtext@t${k}=enable=0:fontfile=font.ttf:text=:fontsize=${style.fontSize}:fontcolor=white:box=1:boxcolor=black@0.75:expansion=none`);
    }
  }
  // libx264 with yuv420p needs even sizes: one column or row of padding, outside every box.
  if (padEven) filters.push('pad=w=ceil(iw/2)*2:h=ceil(ih/2)*2');
  return `${filters.join(',\n')}\n`;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
