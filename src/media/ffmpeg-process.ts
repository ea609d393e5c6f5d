import { spawn } from 'node:child_process';

/** ffmpeg ran and failed: its exit, and the tail of its stderr (for the log, never for a client). */
export class FfmpegRunFailed extends Error {
  constructor(readonly timedOut: boolean, readonly exit: string, readonly stderr: string) {
    super(stderr.trim() || `ffmpeg exited with ${exit}`);
  }
}

/**
 * Runs ffmpeg with an argument list (no shell) in `cwd` under a wall clock that kills it, reading `-progress pipe:1`
 * lines from its stdout for `onProgress`; resolves with the frames written. The caller builds the arguments with
 * {@link inputGuards}. Rejects with {@link FfmpegRunFailed}, or the spawn error when ffmpeg could not be started.
 */
export function runFfmpeg(args: string[], options: { cwd: string; timeoutS: number; onProgress?: ((frames: number) => void) | undefined }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let frames = 0;
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutS * 1000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^frame=(\d+)/.exec(line);
        if (match) {
          frames = Number(match[1]);
          options.onProgress?.(frames);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(frames);
      else reject(new FfmpegRunFailed(signal === 'SIGKILL', String(code ?? signal), stderr));
    });
  });
}
