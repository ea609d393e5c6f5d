import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { TerminalLike } from './progress-bar.js';

/** A stream a command writes to; a real one (process.stdout) also reports errors and drains. */
export interface OutputStream extends TerminalLike {
  on?(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
  once?(event: 'drain' | 'close', listener: () => void): unknown;
  off?(event: 'drain' | 'close', listener: () => void): unknown;
}

/** The reader of stdout went away (`vdet … --out - | head`): the command stops quietly, as filters do. */
export class ReaderGone extends Error {}

/** Lines of results, with backpressure: to a file, or to stdout for "-". */
export interface LineSink {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `out` ("-" is stdout). `stdoutError` tells the first error stdout reported (the caller listens for it for the
 * whole process, since a write may fail after the command returned); a closed pipe becomes {@link ReaderGone}.
 */
export async function openLineSink(out: string, stdout: OutputStream, stdoutError: () => NodeJS.ErrnoException | undefined, flag = '--out'): Promise<LineSink> {
  if (out === '-') {
    const check = () => {
      const error = stdoutError();
      if (error) throw error.code === 'EPIPE' ? new ReaderGone() : new Error(`${flag} -: cannot write to stdout: ${error.code ?? error.message}`);
    };
    return {
      write: async (text) => {
        check();
        if (!stdout.write(text) && stdout.once && stdout.off) {
          // A pipe that closes while full never drains: it closes.
          await new Promise<void>((resolve) => {
            const done = () => {
              stdout.off!('drain', done);
              stdout.off!('close', done);
              resolve();
            };
            stdout.once!('drain', done);
            stdout.once!('close', done);
          });
          check();
        }
      },
      close: async () => undefined,
    };
  }
  const stream = createWriteStream(out);
  try {
    await once(stream, 'open');
  } catch (error) {
    throw new Error(`${flag}: cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return {
    write: async (text) => {
      if (!stream.write(text)) await once(stream, 'drain');
    },
    close: async () => {
      stream.end();
      await once(stream, 'finish');
    },
  };
}
