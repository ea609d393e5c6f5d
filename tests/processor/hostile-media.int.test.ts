import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { decodeFrames, probeMedia, type MediaLimits } from '../../src/media/ffmpeg.js';
import { decodeSegment } from '../../src/media/segment-ffmpeg.js';
import { planVideoChunks, videoChunks } from '../../src/processor/video-chunks.js';
import { checkDecodedFrames, planMedia } from '../../src/media/media-plan.js';
import { loadConfig } from '../../src/platform/config.js';
import { VdetError } from '../../src/platform/errors.js';
import { letterbox } from '../../src/media/letterbox.js';

/**
 * Hostile and broken uploads against the processor's ffmpeg door, as the processor calls it: each is rejected with a
 * clear error or gives a result, never a crash or a hang, and ffmpeg opens no file outside the job's directory
 * (checked with strace around the real ffprobe and ffmpeg).
 */
const limits: MediaLimits = { maxWidth: 7680, maxHeight: 4320, maxStreams: 16, timeoutS: 20 };
const processorLimits = loadConfig({}).processor;

let root: string;
let traceDir: string;
let originalPath: string | undefined;

/**
 * Runs the processor's probe + decode on one file, as processJob does; resolves with frames or a VdetError. `video`:
 * as the default wire does where the upload allows it — packets listed, cut into runs of GOPs, each run decoded as
 * the detector decodes it.
 */
async function runProcessor(file: string, wire: 'raw' | 'video' = 'raw'): Promise<number | VdetError> {
  try {
    const probe = await probeMedia(file, limits);
    const plan = planMedia(probe, {}, processorLimits);
    if (wire === 'video') {
      const planned = await planVideoChunks(file, probe, plan, { limits, minFrames: 16, maxBytes: 4 << 20, maxFrames: 2000 });
      if (planned.ok) {
        const box = letterbox(probe.width, probe.height, 416);
        for await (const { segment, video } of videoChunks(file, path.dirname(file), planned.segments, limits)) {
          for await (const frame of decodeSegment({ segment: video, codec: planned.codec, frames: segment.packets, width: box.width, height: box.height, limits, threads: 1 })) void frame;
        }
        checkDecodedFrames(plan, planned.frames);
        return planned.frames;
      }
    }
    const frames = await decodeFrames({
      path: file, letterbox: letterbox(probe.width, probe.height, 416), fps: plan.sampleFps, startMs: plan.startMs,
      durationMs: plan.durationMs, isImage: probe.isImage, maxFrames: 2000, limits, onFrame: async () => undefined,
    });
    checkDecodedFrames(plan, frames);
    return frames;
  } catch (error) {
    if (error instanceof VdetError) return error;
    throw error;
  }
}

/** Every path ffprobe/ffmpeg opened (from the strace logs), less the system's own files. */
function openedOutside(jobDir: string): string[] {
  const opened = new Set<string>();
  for (const log of readdirSync(traceDir)) {
    for (const line of readFileSync(path.join(traceDir, log), 'utf8').split('\n')) {
      const match = /open(?:at)?\((?:AT_FDCWD, )?"([^"]+)"/.exec(line);
      if (match && !/ENOENT/.test(line)) opened.add(match[1]!);
    }
    rmSync(path.join(traceDir, log));
  }
  return [...opened].filter((p) => !p.startsWith(jobDir) && !/^\/(usr|lib|lib64|etc|proc|sys|dev)\//.test(p));
}

function jobDirWith(name: string, content: string | Buffer): { dir: string; file: string } {
  for (const log of readdirSync(traceDir)) rmSync(path.join(traceDir, log)); // trace only this case
  const dir = mkdtempSync(path.join(root, 'job-'));
  const file = path.join(dir, 'upload');
  writeFileSync(file, content);
  return { dir, file };
}

function ffmpeg(args: string[]): void {
  execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-y', ...args], { stdio: 'ignore' });
}

describe('hostile uploads', () => {
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'vdet-hostile-'));
    traceDir = path.join(root, 'trace');
    const bin = path.join(root, 'bin');
    mkdirSync(traceDir);
    mkdirSync(bin);
    // ffprobe and ffmpeg, wrapped in strace: the processor's code runs them by name from PATH.
    for (const tool of ['ffprobe', 'ffmpeg']) {
      const wrapper = path.join(bin, tool);
      writeFileSync(wrapper, `#!/bin/sh\nexec strace -f -qq -e trace=open,openat -o "${traceDir}/${tool}.$$" /usr/bin/${tool} "$@"\n`);
      chmodSync(wrapper, 0o755);
    }
    originalPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${originalPath}`;
  });

  after(() => {
    process.env['PATH'] = originalPath;
    rmSync(root, { recursive: true, force: true });
  });

  test('an HLS playlist renamed .mp4, pointing at a local file, is rejected without opening it', async () => {
    const secret = path.join(root, 'secret.ts');
    ffmpeg(['-f', 'lavfi', '-i', 'color=red:s=64x64:d=1', '-f', 'mpegts', secret]);
    const { dir, file } = jobDirWith('upload', `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://${secret}\n#EXTINF:1.0,\n${secret}\n#EXT-X-ENDLIST\n`);
    const result = await runProcessor(file);
    assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_UNREADABLE', String(result));
    assert.deepEqual(openedOutside(dir), []);
  });

  test('an ffconcat script renamed .mov is rejected without opening what it lists', async () => {
    const other = path.join(root, 'other.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'color=blue:s=64x64:d=1', '-pix_fmt', 'yuv420p', other]);
    const { dir, file } = jobDirWith('upload', `ffconcat version 1.0\nfile '${other}'\nfile '/etc/passwd'\n`);
    const result = await runProcessor(file);
    assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_UNREADABLE', String(result));
    assert.deepEqual(openedOutside(dir), []);
  });

  test('MPEG-TS, AVI, MPEG-PS, FLV and GIF naming other files and URLs in their metadata: decoded from their own bytes only', async () => {
    const secret = path.join(root, 'secret.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'color=green:s=64x64:d=1', '-pix_fmt', 'yuv420p', secret]);
    const references = `file://${secret} ${secret} concat:${secret}|/etc/passwd http://127.0.0.1:9/x.m3u8`;
    const cases: [string, string[]][] = [
      ['mpegts', ['-c:v', 'libx264', '-preset', 'ultrafast', '-metadata', `service_name=${references}`, '-f', 'mpegts']],
      ['avi', ['-c:v', 'mpeg4', '-metadata', `title=${references}`, '-f', 'avi']],
      ['mpeg', ['-c:v', 'mpeg2video', '-f', 'vob']],
      ['flv', ['-c:v', 'flv1', '-metadata', `title=${references}`, '-f', 'flv']],
      ['gif', ['-f', 'gif']],
    ];
    for (const [format, args] of cases) {
      const { dir, file } = jobDirWith('upload', '');
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc=s=64x64:r=10:d=1', ...args, file]);
      const result = await runProcessor(file);
      assert.equal(result, 10, `${format}: ${String(result)}`);
      assert.deepEqual(openedOutside(dir), [], format);
    }
  });

  test('an HLS playlist wrapped in MPEG-TS packets is refused without opening what it lists', async () => {
    const secret = path.join(root, 'listed.ts');
    ffmpeg(['-f', 'lavfi', '-i', 'color=red:s=64x64:d=1', '-f', 'mpegts', secret]);
    const playlist = Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${secret}\n#EXTINF:1.0,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n`);
    // Three 188-byte packets (sync byte 0x47, PID 0x100, payload only) carrying the playlist's text: it passes the
    // upload's sniff as MPEG-TS, and must still open nothing.
    const packets = [0, 1, 2].map((k) => {
      const packet = Buffer.alloc(188, 0xff);
      packet.set([0x47, 0x41, 0x00, 0x10 | k]);
      playlist.subarray(Math.min(k * 184, playlist.length), (k + 1) * 184).copy(packet, 4);
      return packet;
    });
    const { dir, file } = jobDirWith('upload', Buffer.concat(packets));
    const result = await runProcessor(file);
    assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_UNREADABLE', String(result));
    assert.deepEqual(openedOutside(dir), []);
  });

  test('an image declaring 100000x100000, and a zip-bomb-like PNG, are rejected before any decoding', async () => {
    for (const width of [100_000, 20_000]) {
      const { file } = jobDirWith('upload', png(width, width));
      const result = await runProcessor(file);
      assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_LIMIT', `${width}: ${String(result)}`);
      assert.match(result.message, new RegExp(`${width}x${width}`));
    }
  });

  test('a file with hundreds of streams is rejected', async () => {
    const { file } = jobDirWith('upload', '');
    const maps = Array.from({ length: 200 }, () => ['-map', '0:v']).flat();
    ffmpeg(['-f', 'lavfi', '-i', 'color=black:s=16x16:d=0.04', ...maps, '-c:v', 'mjpeg', '-f', 'matroska', file]);
    const result = await runProcessor(file);
    assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_UNREADABLE', String(result));
  });

  test('a 10-hour black video hits the duration cap before any decoding', async () => {
    const { file } = jobDirWith('upload', '');
    ffmpeg(['-f', 'lavfi', '-i', 'color=black:s=16x16:r=1:d=36000', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mp4', file]);
    const started = Date.now();
    const result = await runProcessor(file);
    assert.ok(result instanceof VdetError && result.code === 'VDET_MEDIA_LIMIT', String(result));
    assert.match(result.message, /36000 s/);
    assert.ok(Date.now() - started < 5_000);
  });

  test('300 truncated or byte-flipped MP4s: each a result or a clean failure, never a crash or a hang', async () => {
    const source = path.join(root, 'small.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=s=160x90:r=25:d=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', source]);
    const original = readFileSync(source);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      let bytes: Buffer;
      if (i % 2 === 0) {
        bytes = original.subarray(0, Math.floor(random() * original.length));
      } else {
        bytes = Buffer.from(original);
        for (let flips = 1 + Math.floor(random() * 20); flips > 0; flips--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      }
      const { dir, file } = jobDirWith('upload', bytes);
      // Every third file also through the video wire (the default): listed, cut and decoded as the detector does.
      const result = await runProcessor(file, i % 3 === 1 ? 'video' : 'raw');
      const outcome = typeof result === 'number' ? 'frames' : result.code;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (typeof result !== 'number') assert.ok(result.message.length > 10);
      if (i % 50 === 0) assert.deepEqual(openedOutside(dir), []);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(Object.values(outcomes).reduce((a, b) => a + b, 0), 300);
    assert.ok(outcomes['frames']! > 0 && Object.keys(outcomes).length > 1, JSON.stringify(outcomes));
  });
});

/** A PNG whose header declares the given size, with a small, highly compressed (zero) first row band. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(Math.min(width * 3 + 1, 1 << 20) * 64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
