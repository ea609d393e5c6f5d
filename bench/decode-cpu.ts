import { readFileSync } from 'node:fs';
import { decodeFrames, type MediaLimits } from '../src/media/ffmpeg.js';
import type { Letterbox } from '../src/media/letterbox.js';

/**
 * ffmpeg's CPU per frame for the bench video, the processor's own decode (src/media/ffmpeg.ts: guards, bilinear
 * scale to the letterbox), read as this process's reaped children's CPU time (/proc/self/stat cutime + cstime).
 * Each variant the processor can run: raw BGR or JPEG frames out, one decoder thread or ffmpeg's default.
 */
export interface DecodeCpuResult {
  output: 'bgr24' | 'jpeg';
  threads: number | 'auto';
  frames: number;
  cpuMsPerFrame: number;
  wallFps: number;
  /** Mean bytes of one frame as it would travel. */
  bytesPerFrame: number;
}

const TICKS_PER_SECOND = 100;

function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[13]! + f[14]!) / TICKS_PER_SECOND;
}

export async function measureDecodeCpu(video: string, box: Letterbox, output: 'bgr24' | 'jpeg', threads: number | 'auto'): Promise<DecodeCpuResult> {
  const limits: MediaLimits = { maxWidth: 7680, maxHeight: 4320, maxStreams: 16, timeoutS: 3600 };
  let bytes = 0;
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const frames = await decodeFrames({
    path: video, letterbox: box, fps: undefined, startMs: 0, durationMs: undefined, isImage: false, maxFrames: 1_000_000, limits,
    output, ...(threads === 'auto' ? {} : { threads }),
    onFrame: async (frame) => {
      bytes += frame.length;
    },
  });
  const wallMs = performance.now() - started;
  const cpuMs = (childrenCpuSeconds() - cpuBefore) * 1000;
  return { output, threads, frames, cpuMsPerFrame: cpuMs / frames, wallFps: frames / (wallMs / 1000), bytesPerFrame: bytes / frames };
}
