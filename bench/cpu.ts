import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of processes, read from /proc (Linux): on a small machine every role, ffmpeg and the stack share the
 * same cores, so CPU seconds say who the model competes with.
 */
const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture vdet runs on

interface CpuTime { self: number; children: number }

function cpuTime(pid: number): CpuTime | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, so field n is at index n - 3; utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { self: (f[11]! + f[12]!) / TICKS_PER_SECOND, children: (f[13]! + f[14]!) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The local stack's processes, from scripts/stack.sh's pid files (absent ones are left out). */
export function stackPids(): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const name of ['kafka', 'ferretdb', 'redis']) {
    try {
      pids[name] = Number(readFileSync(`.stack/${name}/${name}.pid`, 'utf8').trim());
    } catch {
      // not started by this checkout's stack.sh
    }
  }
  return pids;
}

export type CpuSample = Record<string, CpuTime | undefined>;

/**
 * Every process of this name (`postgres`: the server and its backends, one per connection) as one: the sum of their
 * CPU. A backend that ends between two samples takes its time with it; FerretDB keeps its connections open.
 */
function cpuOfAllNamed(comm: string): CpuTime | undefined {
  let self = 0;
  let found = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
    } catch {
      continue;
    }
    const t = cpuTime(Number(entry));
    if (t) [self, found] = [self + t.self, true];
  }
  return found ? { self, children: 0 } : undefined;
}

export function sampleCpu(pids: Record<string, number | undefined>): CpuSample {
  const sample: CpuSample = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? undefined : cpuTime(pid)]));
  const postgres = cpuOfAllNamed('postgres');
  if (postgres) sample['postgres (all its processes)'] = postgres;
  return sample;
}

/**
 * CPU seconds each process used between two samples; a process's reaped children (the processor's ffmpeg and
 * ffprobe) are reported as `<name> children`.
 */
export function cpuSecondsBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (!start || !end) continue;
    out[name] = end.self - start.self;
    if (end.children - start.children > 0) out[`${name} children`] = end.children - start.children;
  }
  return out;
}
