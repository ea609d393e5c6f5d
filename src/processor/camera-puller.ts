import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { AddressPolicy } from '../platform/address-policy.js';
import { cameraAddress } from '../contracts/camera-address.js';
import type { CameraStatus } from '../store/camera-leases.js';
import { DEFAULT_CAMERA_FPS, cameraUrlProblem, redactedCameraUrl, type CameraSource } from '../contracts/camera.js';
import type { Resolver } from '../platform/guarded-http.js';
import { metrics } from '../platform/metrics.js';
import type { CameraPull, CameraPullRequest } from '../media/camera-ffmpeg.js';
import type { MediaLimits } from '../media/ffmpeg.js';
import type { HlsSourceOptions } from './hls-source.js';

/** One frame pulled from a camera: its JPEG, when it arrived, and a sequence number that only grows. */
export interface PulledFrame {
  jpeg: Buffer;
  ts: number;
  seq: number;
}

export interface CameraPullerDeps {
  source: CameraSource;
  policy: AddressPolicy;
  resolve: Resolver;
  limits: MediaLimits;
  log: Logger;
  pull(request: CameraPullRequest): CameraPull;
  /** An HLS stream's segments, fetched through the address rules (src/processor/hls-source.ts). */
  hls(url: string, options: HlsSourceOptions): AsyncIterable<Buffer>;
  /** Hands frames to the stream path, oldest first; the next batch waits for it. */
  deliver(frames: PulledFrame[]): Promise<void>;
  /** Frames dropped because the stream path fell behind the camera. */
  dropped(n: number): void;
  /** Told when the state changes (connected, reconnecting, failed), so it can be reported before the next renewal. */
  changed?(): void;
  sleep?(ms: number): Promise<void>;
  now?(): number;
}

/** Attempts in a row without a frame after which a source shows `failed` (it is still tried, every 30 s). */
const FAILED_AFTER = 10;
const MAX_BACKOFF_MS = 30_000;
/** A frame for this long means the camera is there: the backoff starts again from 1 s. */
const STALL_MS = 15_000;
/** Pulled frames waiting for the stream path; beyond it the oldest go (a live camera: the newest frames matter). */
const QUEUE_MAX = 30;

/**
 * Pulls one camera for as long as this processor holds its lease: checks the address its name resolves to now (and
 * connects to exactly that address, so DNS cannot switch it), runs ffmpeg, hands the frames on in batches, and when
 * the camera drops or refuses, tries again with backoff. Its `status` is what the lease's renewals report.
 */
export class CameraPuller {
  private current: CameraPull | undefined;
  private stopped = false;
  private queue: PulledFrame[] = [];
  /** Ends the deliver loop's wait for frames. */
  private wake: (() => void) | undefined;
  /** Ends the connect loop's backoff (on stop). */
  private cancelSleep: (() => void) | undefined;
  private lastSeq = 0;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly running: Promise<void>;
  status: CameraStatus;

  constructor(private readonly deps: CameraPullerDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancelSleep = () => { clearTimeout(timer); resolve(); };
    }));
    this.now = deps.now ?? Date.now;
    this.status = { state: 'connecting', lastError: null, since: this.now(), reconnects: 0, framesPulled: 0 };
    this.running = Promise.all([this.connectLoop(), this.deliverLoop()]).then(() => undefined);
  }

  get source(): CameraSource {
    return this.deps.source;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    this.cancelSleep?.();
    this.wake?.();
    await this.running;
  }

  private setState(state: CameraStatus['state'], lastError: string | null): void {
    const changed = state !== this.status.state;
    if (changed) this.status = { ...this.status, state, since: this.now() };
    this.status = { ...this.status, lastError };
    if (changed) this.deps.changed?.();
  }

  /**
   * What to hand ffmpeg: for RTSP and SRT the URL with its host replaced by an address the rules allow; for HLS the
   * URL, whose every request (playlists, segments, redirects) vdet checks as it makes it; or why there is none.
   */
  private async target(): Promise<{ url: string } | { hls: string } | { refused: string }> {
    const { url } = this.deps.source;
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
      const problem = cameraUrlProblem(url, this.deps.policy);
      return problem ? { refused: `The camera URL ${problem}.` } : { hls: url };
    }
    const checked = await cameraAddress(url, this.deps.policy, this.deps.resolve);
    if ('refused' in checked) return checked;
    parsed.hostname = ipaddr.parse(checked.address).kind() === 'ipv6' ? `[${checked.address}]` : checked.address;
    return { url: parsed.toString() };
  }


  private async connectLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let error: string | undefined;
      let frames = 0;
      let refused = false;
      try {
        const target = await this.target();
        if ('refused' in target) {
          refused = true;
          error = target.refused;
        } else if (!this.stopped) {
          const aborted = new AbortController();
          const input = 'hls' in target
            ? { segments: this.deps.hls(target.hls, { policy: this.deps.policy, resolve: this.deps.resolve, signal: aborted.signal }) }
            : { url: target.url };
          const pull = this.deps.pull({ input, fps: this.deps.source.fps ?? DEFAULT_CAMERA_FPS, limits: this.deps.limits, stallMs: STALL_MS, onFrame: (jpeg) => this.received(jpeg) });
          this.current = { stop: () => { aborted.abort(); pull.stop(); }, ended: pull.ended };
          ({ frames, error } = await pull.ended);
          aborted.abort();
          this.current = undefined;
        }
      } catch (cause) {
        error = cause instanceof Error ? cause.message : String(cause);
      }
      if (this.stopped) return;
      failures = frames > 0 ? 1 : failures + 1;
      this.status = { ...this.status, reconnects: this.status.reconnects + 1 };
      metrics.cameraReconnects.inc();
      this.setState(refused || failures >= FAILED_AFTER ? 'failed' : 'reconnecting', error ?? 'the camera ended the stream');
      this.deps.log.warn({ camera: redactedCameraUrl(this.deps.source.url), error, framesBefore: frames, attempt: failures }, 'camera connection ended; trying again');
      await this.sleep(refused ? MAX_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (failures - 1)));
    }
  }

  private received(jpeg: Buffer): void {
    const ts = this.now();
    this.lastSeq = Math.max(ts, this.lastSeq + 1);
    this.queue.push({ jpeg, ts, seq: this.lastSeq });
    this.status = { ...this.status, framesPulled: this.status.framesPulled + 1 };
    metrics.cameraFramesPulled.inc();
    if (this.status.state !== 'connected') this.setState('connected', null);
    if (this.queue.length > QUEUE_MAX) {
      const excess = this.queue.length - QUEUE_MAX;
      this.queue.splice(0, excess);
      this.deps.dropped(excess);
      metrics.cameraFramesDropped.inc(excess);
    }
    this.wake?.();
  }

  /** Frames go on in batches: whatever arrived while the last batch was handled goes together. */
  private async deliverLoop(): Promise<void> {
    while (!this.stopped) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const batch = this.queue;
      this.queue = [];
      try {
        await this.deps.deliver(batch);
      } catch (error) {
        // An outage of Kafka or the stores: these frames are lost (a live camera does not wait), the next go on.
        this.deps.log.warn({ err: error, frames: batch.length, camera: redactedCameraUrl(this.deps.source.url) }, 'camera frames could not be handed on; dropped');
        this.deps.dropped(batch.length);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
}
