import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync } from 'node:fs';

/**
 * A cluster of test hosts on this one machine (the cluster suite, npm run test:cluster): Linux network namespaces
 * joined by veth pairs to a bridge in a "switch" namespace, on 10.77.0.0/24. The test process itself must run in a
 * network namespace of its own (scripts/test.sh cluster starts it under `unshare --net`); it joins the switch as the
 * client, 10.77.0.1. Every address exists only on devices inside these namespaces: nothing is routed or NATed toward
 * another interface, and no packet leaves the machine.
 *
 * Each host also gets a mount namespace of its own, held by a keeper process: a private tmpfs on /tmp, so no two
 * hosts share /tmp or a working directory (/tmp/work, each command's cwd). The checkout and ../shared stay visible
 * at their paths (bound back when they lie under /tmp): they are the code and the model, the same on every host.
 */
const SUBNET = '10.77.0';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });

export interface TestHost {
  readonly name: string;
  readonly address: string;
  /** Starts a command on the host (its network, its /tmp), cwd /tmp/work; the child is the command itself. */
  spawn(command: string, args: readonly string[], env?: Record<string, string>): ChildProcess;
  /** Runs a command on the host to its end; throws with its output when it fails. */
  run(command: string, args: readonly string[], env?: Record<string, string>, timeoutMs?: number): string;
}

interface HostRecord extends TestHost {
  readonly ns: string;
  readonly port: string;
  readonly keeper: ChildProcess;
}

export class TestNetwork {
  private readonly hosts = new Map<string, HostRecord>();
  private nextHost = 2;
  private nextPort = 1;

  private constructor(
    private readonly prefix: string,
    private readonly keep: readonly string[],
  ) {}

  /** Makes the switch and joins this process to it as 10.77.0.1. `keep`: folders each host must see (the checkout, ../shared). */
  static create(keep: readonly string[]): TestNetwork {
    const interfaces = readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2).map((line) => line.split(':')[0]!.trim()).filter(Boolean);
    if (interfaces.some((name) => name !== 'lo')) {
      throw new Error(`the cluster suite adds an address to this process's network namespace, which already has ${interfaces.join(', ')}: run it in a namespace of its own (npm run test:cluster: unshare --net)`);
    }
    removeStaleNamespaces();
    const network = new TestNetwork(`vdetc${process.pid}`, [...new Set(keep.map((dir) => realpathSync(dir)))]);
    const sw = network.switchNs;
    ip('netns', 'add', sw);
    ip('-n', sw, 'link', 'set', 'lo', 'up');
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    ip('-n', sw, 'link', 'add', 'client', 'type', 'veth', 'peer', 'name', 'vdet0', 'netns', String(process.pid));
    ip('-n', sw, 'link', 'set', 'client', 'master', 'br0', 'up');
    ip('link', 'set', 'lo', 'up');
    ip('addr', 'add', `${SUBNET}.1/24`, 'dev', 'vdet0');
    ip('link', 'set', 'vdet0', 'up');
    process.once('exit', () => network.destroy());
    return network;
  }

  private get switchNs(): string {
    return `${this.prefix}-switch`;
  }

  /** A new host on the switch, with the next free address. */
  async addHost(name: string): Promise<TestHost> {
    if (this.hosts.has(name)) throw new Error(`host ${name} exists`);
    const ns = `${this.prefix}-${name}`;
    const address = `${SUBNET}.${this.nextHost++}`;
    const port = `p${this.nextPort++}`;
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const keeper = startKeeper(ns, this.keep.filter((dir) => dir === '/tmp' || dir.startsWith('/tmp/')));
    await keeperReady(keeper, name);
    const enter = (command: string, args: readonly string[]) =>
      ['--target', String(keeper.pid), '--mount', '--net', '--wd', '--', command, ...args];
    const host: HostRecord = {
      name, address, ns, port, keeper,
      spawn: (command, args, env = {}) => spawn('nsenter', enter(command, args), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
      run: (command, args, env = {}, timeoutMs = 300_000) => {
        try {
          return execFileSync('nsenter', enter(command, args), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (error) {
          const e = error as { stdout?: string; stderr?: string; message: string };
          throw new Error(`${name}: ${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
        }
      },
    };
    this.hosts.set(name, host);
    return host;
  }

  /** Plugs a host's cable in or out (its switch port up or down): its processes live on, cut off. */
  setConnected(name: string, connected: boolean): void {
    ip('-n', this.switchNs, 'link', 'set', this.host(name).port, connected ? 'up' : 'down');
  }

  /** The host dies: every process in its namespace killed at once (SIGKILL), then the namespace torn down. */
  destroyHost(name: string): void {
    const host = this.host(name);
    killNamespace(host.ns);
    try { ip('-n', this.switchNs, 'link', 'del', host.port); } catch { /* went with the namespace */ }
    this.hosts.delete(name);
  }

  destroy(): void {
    for (const name of [...this.hosts.keys()]) this.destroyHost(name);
    killNamespace(this.switchNs);
  }

  private host(name: string): HostRecord {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }
}

/**
 * The host's keeper: in the host's network namespace, a mount namespace of its own with a fresh tmpfs on /tmp (the
 * folders to keep are opened first, then bound back through /proc/self/fd), then it sleeps; commands join it with nsenter.
 */
function startKeeper(ns: string, keep: readonly string[]): ChildProcess {
  const script = [
    'set -e',
    ...keep.map((dir, i) => `exec ${i + 3}<"${dir}"`),
    'mount -t tmpfs -o mode=1777,size=4g vdet-host-tmp /tmp',
    ...keep.map((dir, i) => `mkdir -p "${dir}" && mount --no-canonicalize --bind /proc/self/fd/${i + 3} "${dir}" && exec ${i + 3}<&-`),
    'mkdir -p /tmp/work && cd /tmp/work',
    'echo ready',
    'exec sleep infinity',
  ].join('\n');
  return spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function keeperReady(keeper: ChildProcess, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (data: Buffer) => {
      output += data.toString();
      if (output.includes('ready')) resolve();
    };
    keeper.stdout!.on('data', onData);
    keeper.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    keeper.once('exit', (code) => reject(new Error(`host ${name}: its keeper exited (${code}): ${output}`)));
  });
}

function namespacePids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killNamespace(ns: string): void {
  for (let round = 0; round < 50; round++) {
    const pids = namespacePids(ns);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    execFileSync('sleep', ['0.1']);
  }
  try { ip('netns', 'del', ns); } catch { /* already gone */ }
}

/** Namespaces a crashed earlier run left behind (their owner's pid is gone). */
function removeStaleNamespaces(): void {
  let names: string[] = [];
  try { names = readdirSync('/run/netns'); } catch { return; }
  for (const name of names) {
    const owner = /^vdetc(\d+)-/.exec(name)?.[1];
    if (!owner) continue;
    let alive = true;
    try { alive = readFileSync(`/proc/${owner}/cmdline`, 'utf8').includes('node'); } catch { alive = false; }
    if (!alive) killNamespace(name);
  }
}
