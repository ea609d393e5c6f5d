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
