import { readFileSync } from 'node:fs';
import { numberArgument } from './args.js';

/**
 * What blocks a role's event loop: the longest runs of consecutive busy samples in a V8 CPU profile (a role started
 * with VDET_PROFILE_DIR writes one when it stops; see tests/helpers/roles.ts), each with the functions that spent
 * its time and its heaviest stacks. A run is time the loop did not get back to its idle state: nothing else on that
 * role (a stream frame, a heartbeat) moved meanwhile.
 *
 *   node --import tsx bench/event-loop-runs.ts <role.cpuprofile> [--runs N] [--skip-startup-ms MS]
 *
 * `--skip-startup-ms` (default 5000) leaves out the runs of module loading at start.
 */
interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: node --import tsx bench/event-loop-runs.ts <role.cpuprofile> [--runs N] [--skip-startup-ms MS]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const nameOf = (id: number) => {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  return `${functionName || '(anonymous)'}${url ? ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`;
};

interface Run { ms: number; atMs: number; first: number; last: number }
const runs: Run[] = [];
let current: Run | undefined;
let clock = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i] ?? 0) / 1000;
  clock += dt;
  if (idle.has(profile.samples[i]!)) {
    if (current) runs.push(current);
    current = undefined;
    continue;
  }
  current ??= { ms: 0, atMs: clock, first: i, last: i };
  current.ms += dt;
  current.last = i;
}
if (current) runs.push(current);

const skip = numberArgument('skip-startup-ms', 5000);
const longest = runs.filter((r) => r.atMs >= skip).sort((a, b) => b.ms - a.ms).slice(0, numberArgument('runs', 5));
for (const run of longest) {
  const self = new Map<string, number>();
  const stacks = new Map<string, number>();
  for (let i = run.first; i <= run.last; i++) {
    const id = profile.samples[i]!;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    self.set(nameOf(id), (self.get(nameOf(id)) ?? 0) + dt);
    const chain: string[] = [];
    for (let at: number | undefined = id; at !== undefined && chain.length < 8; at = parentOf.get(at)) chain.push(byId.get(at)!.callFrame.functionName || '(anonymous)');
    stacks.set(chain.join(' < '), (stacks.get(chain.join(' < ')) ?? 0) + dt);
  }
  const top = <K>(m: Map<K, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(`${run.ms.toFixed(0)} ms busy at ${(run.atMs / 1000).toFixed(1)} s: ${top(self, 5).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}`);
  for (const [stack, ms] of top(stacks, 2)) console.log(`    ${ms.toFixed(0)} ms in ${stack}`);
}
