import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A video's frames as JPEG files (ffmpeg), `fps` a second, the first `seconds` only when given: what a camera would push. */
export function jpegFramesOf(video: string, fps: number, seconds?: number): Buffer[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vdet-jpeg-frames-'));
  try {
    execFileSync('ffmpeg', ['-v', 'error', '-i', video, ...(seconds ? ['-t', String(seconds)] : []), '-vf', `fps=${fps}`, '-q:v', '4', path.join(dir, '%05d.jpg')]);
    return readdirSync(dir).sort().map((f) => readFileSync(path.join(dir, f)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
