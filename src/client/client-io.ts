import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isVdetError } from '../platform/errors.js';
import { ReaderGone, type OutputStream } from '../platform/terminal/line-sink.js';
import type { TerminalLike } from '../platform/terminal/progress-bar.js';

/** What a client command reads and writes: results on stdout (or a file), progress and errors on stderr. */
export interface ClientIo {
  stdout: OutputStream;
  stderr: TerminalLike;
  env: Record<string, string | undefined>;
  /** The first error stdout reported (a closed pipe), if any. */
  stdoutError(): NodeJS.ErrnoException | undefined;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal?: AbortSignal;
}

/** A mistake in the command line: exit status 2. */
export class UsageError extends Error {}

/** node's own argument parser, strict (an unknown flag is a {@link UsageError}). */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true as const, strict: true as const });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The process's own io: stdout errors remembered for the whole process, Ctrl-C as an abort signal. */
export function processIo(): ClientIo {
  let stdoutError: NodeJS.ErrnoException | undefined;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    stdoutError ??= error;
  });
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, stdoutError: () => stdoutError, signal: abort.signal };
}

/**
 * Runs a client command and turns what it throws into an exit status and one `vdet: …` line on stderr: 2 for a
 * usage error, 1 for anything else (unreachable api, bad key, failed job), 0 when stdout's reader went away.
 */
export async function runClient(command: (argv: readonly string[], io: ClientIo) => Promise<number>, argv: readonly string[], io: ClientIo): Promise<number> {
  try {
    return await command(argv, io);
  } catch (error) {
    if (io.signal?.aborted) return 130;
    if (error instanceof ReaderGone || io.stdoutError()?.code === 'EPIPE') return 0;
    const text = isVdetError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    io.stderr.write(`vdet: ${text.replace(/\s*\n\s*/g, error instanceof UsageError ? '\n' : ' ').trim()}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
