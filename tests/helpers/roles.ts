import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const CLI = path.resolve('dist/src/cli.js');

export interface RunningRole {
  role: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a command with its stdout and stderr piped: here by default, on a test host in the cluster suite. */
export type Launcher = (command: string, args: readonly string[], env: Record<string, string>) => ChildProcess;
const launchHere: Launcher = (command, args, env) => spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * Starts one vdet role as its own process (the built cli), as a user would run it. `preload`: modules node loads
 * first (--import), the fault suite's hooks.
 */
export function startRole(role: string, env: Record<string, string>, launch: Launcher = launchHere, preload: readonly string[] = []): RunningRole {
  // VDET_PROFILE_DIR=dir: each role writes a V8 CPU profile there when it stops (for the benches).
  const profile = process.env['VDET_PROFILE_DIR'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['VDET_PROFILE_DIR']}`, `--cpu-prof-name=${role}.${Date.now()}.cpuprofile`] : [];
  const child = launch(process.execPath, [...profile, ...preload.flatMap((m) => ['--import', path.resolve(m)]), CLI, role], env);
  let log = '';
  const keep = (data: Buffer) => {
    log += data.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    role,
    child,
    output: () => log,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Fails when a role has exited (a crash at start-up would otherwise look like a job that never moves). */
export function assertRunning(roles: readonly RunningRole[]): void {
  for (const r of roles) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) {
      throw new Error(`${r.role} exited (${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-4000)}`);
    }
  }
}

/** Waits until every role has logged "vdet started". */
export async function waitStarted(roles: readonly RunningRole[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!roles.every((r) => r.output().includes('"msg":"vdet started"'))) {
    assertRunning(roles);
    if (Date.now() > deadline) throw new Error(`roles not started: ${roles.map((r) => `${r.role}:\n${r.output().slice(-2000)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the api's "api listening" log line and returns its base URL. */
export async function apiUrl(api: RunningRole, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /"url":"(http:\/\/[^"]+)"/.exec(api.output());
    if (match) return match[1]!;
    if (api.child.exitCode !== null) throw new Error(`api exited: ${api.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`api did not start: ${api.output()}`);
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built cli once (`vdet <args>`) with pipes for stdout and stderr; resolves with what it wrote and its exit status. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
