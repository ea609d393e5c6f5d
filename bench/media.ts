import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LETTERBOX_PAD_VALUE, letterbox, type Letterbox } from '../src/media/letterbox.js';
import { SHARED } from '../tests/helpers/paths.js';

/** The bench video: make-tour.sh over four images, 15 s each (60 s, 25 fps, 1500 frames). */
export const TOUR = { width: 1280, height: 720, fps: 25, secondsPerImage: 15, images: ['dog', 'horses', 'person', 'eagle'] };

/** Makes the tour video once and caches it beside the stack's other downloads (`VDET_CACHE`, like stack.sh). */
export async function ensureTourVideo(): Promise<string> {
  const cache = process.env['VDET_CACHE'] ?? path.join(os.homedir(), '.cache/vdet');
  const seconds = TOUR.secondsPerImage * TOUR.images.length;
  const file = path.join(cache, 'bench', `tour-${TOUR.width}x${TOUR.height}-${seconds}s.mp4`);
  if (existsSync(file)) return file;
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.mp4`; // renamed when complete: a crash never leaves a half video cached
  const images = TOUR.images.map((name) => path.join(SHARED, 'media/images', `${name}.jpg`));
  console.log(`making ${file} (once; about a minute on 2 cores) ...`);
  try {
    await promisify(execFile)('bash', [path.join(SHARED, 'media/make-tour.sh'), partial,
      String(TOUR.width), String(TOUR.height), String(TOUR.secondsPerImage), ...images]);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return file;
}

export interface DecodedVideo {
  box: Letterbox;
  /** Frames decoded and letterboxed. */
  frames: number;
  /** Wall time of the whole decode, for the decoder's own throughput. */
  ms: number;
  /** Every `keepEvery`-th letterboxed frame (BGR, `size × size × 3` bytes). */
  kept: Buffer[];
}

/**
 * Decodes and letterboxes every frame with the processor's own ffmpeg filter chain (src/media/ffmpeg.ts:
 * bilinear swscale to BGR, pad grey 114 right and bottom), keeping every `keepEvery`-th frame.
 */
export async function decodeLetterboxed(file: string, size: number, keepEvery: number): Promise<DecodedVideo> {
  const box = letterbox(TOUR.width, TOUR.height, size);
  const pad = LETTERBOX_PAD_VALUE.toString(16).repeat(3);
  const filters = `scale=w=${box.width}:h=${box.height}:flags=bilinear+accurate_rnd+full_chroma_int,format=bgr24,`
    + `pad=w=${size}:h=${size}:x=0:y=0:color=0x${pad}`;
  const frameBytes = size * size * 3;
  const started = performance.now();
  const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0', '-an', '-vf', filters, '-f', 'rawvideo', '-'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const kept: Buffer[] = [];
  let frames = 0;
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  for await (const data of child.stdout as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < data.length;) {
      const n = Math.min(frameBytes - filled, data.length - offset);
      data.copy(frame, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled < frameBytes) continue;
      if (frames++ % keepEvery === 0) {
        kept.push(frame);
        frame = Buffer.allocUnsafe(frameBytes);
      }
      filled = 0;
    }
  }
  const code = await exited;
  if (code !== 0 || filled !== 0) throw new Error(`ffmpeg decode of ${file} failed (exit ${code}, ${filled} stray bytes)`);
  return { box, frames, ms: performance.now() - started, kept };
}
