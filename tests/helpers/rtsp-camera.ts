import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

const SOURCE = path.resolve('tests/tools/rtsp-relay');
const BINARY = path.resolve('.stack/bin/rtsp-relay');

/** The test RTSP server (tests/tools/rtsp-relay, Go), built once into .stack/bin (Go and its module proxy, as for FerretDB). */
export function rtspRelayBinary(): string {
  const built = existsSync(BINARY) ? statSync(BINARY).mtimeMs : 0;
  if (built < statSync(path.join(SOURCE, 'main.go')).mtimeMs || built < statSync(path.join(SOURCE, 'go.sum')).mtimeMs) {
    execFileSync('go', ['build', '-o', BINARY, '.'], { cwd: SOURCE, stdio: 'inherit', timeout: 300_000, env: { ...process.env, GOFLAGS: '-buildvcs=false' } });
  }
  return BINARY;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/**
 * An IP camera on loopback: the relay serves RTSP on `port`, and an ffmpeg plays a video into it (looped, at its own
 * pace) as path `/cam`. `stop()` drops the camera (the relay disconnects its readers); `start()` brings it back.
 */
export class LoopbackCamera {
  private relay: ChildProcess | undefined;
  private publisher: ChildProcess | undefined;
  private relayLog = '';

  constructor(readonly port: number, private readonly video: string) {}

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/cam`;
  }

  async startRelay(): Promise<void> {
    this.relay = spawn(rtspRelayBinary(), ['-listen', `127.0.0.1:${this.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.relay.stderr!.on('data', (d: Buffer) => { this.relayLog += d.toString(); });
    const deadline = Date.now() + 10_000;
    while (!this.relayLog.includes('listening')) {
      if (this.relay.exitCode !== null || Date.now() > deadline) throw new Error(`rtsp-relay did not start: ${this.relayLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts publishing, and resolves once the relay has the stream. */
  async start(): Promise<void> {
    const announced = (this.relayLog.match(/announced/g) ?? []).length;
    this.publisher = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-re', '-stream_loop', '-1', '-i', this.video, '-an', '-c', 'copy',
      '-f', 'rtsp', '-rtsp_transport', 'tcp', `${this.url}`], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while ((this.relayLog.match(/announced/g) ?? []).length === announced) {
      if (Date.now() > deadline) throw new Error(`the camera did not start publishing: ${this.relayLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.publisher) await stopChild(this.publisher);
    this.publisher = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.relay) await stopChild(this.relay);
  }
}
