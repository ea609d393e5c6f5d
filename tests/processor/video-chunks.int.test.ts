import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { planMedia } from '../../src/media/media-plan.js';
import { planVideoChunks, videoChunks } from '../../src/processor/video-chunks.js';
import { loadConfig } from '../../src/platform/config.js';
import { decodeFrames, probeMedia, type MediaLimits } from '../../src/media/ffmpeg.js';
import { decodeSegment } from '../../src/media/segment-ffmpeg.js';
import { letterbox } from '../../src/media/letterbox.js';
import { TOUR_VIDEO } from '../helpers/paths.js';

/**
 * Encoded video on the wire against the decoded path, with the real ffmpeg: the processor cuts the upload into runs
 * of whole GOPs, the detector's decoder turns each run back into frames, and the model frames are, byte for byte, the
 * frames the processor's own decode gives — every frame, a stride and a rate; media the plan cannot prove equal is
 * refused with its reason; a run that lies about itself fails to decode.
 */
const limits: MediaLimits = { maxWidth: 7680, maxHeight: 4320, maxStreams: 16, timeoutS: 120 };
const config = loadConfig({});
const box = letterbox(640, 360, 416);
const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');

async function decodedPath(file: string, options: { fps?: number; stride?: number }): Promise<string[]> {
  const probe = await probeMedia(file, limits);
  const plan = planMedia(probe, options, config.processor);
  const hashes: string[] = [];
  await decodeFrames({
    path: file, letterbox: box, fps: plan.sampleFps, startMs: plan.startMs, durationMs: plan.durationMs, isImage: false,
    maxFrames: 100_000, limits, onFrame: async (frame) => void hashes.push(sha(frame)),
  });
  return hashes;
}

async function videoPath(file: string, dir: string, options: { fps?: number; stride?: number }, minFrames = 40) {
  const probe = await probeMedia(file, limits);
  const plan = planMedia(probe, options, config.processor);
  const planned = await planVideoChunks(file, probe, plan, { limits, minFrames, maxBytes: 4 * 1024 * 1024, maxFrames: 100_000 });
  if (!planned.ok) return { refused: planned.reason, hashes: [], chunks: 0, bytes: 0 };
  const hashes: string[] = [];
  let chunks = 0;
  let bytes = 0;
  for await (const { segment, video } of videoChunks(file, dir, planned.segments, limits)) {
    chunks++;
    bytes += video.length;
    let decoded = 0;
    let next = 0;
    for await (const frame of decodeSegment({ segment: video, codec: planned.codec, frames: segment.packets, width: box.width, height: box.height, limits, threads: 1 })) {
      while (next < segment.frames.length && segment.frames[next]!.source === decoded) {
        assert.equal(segment.frames[next]!.frame, hashes.length, 'frames are numbered in order across chunks');
        hashes.push(sha(frame));
        next++;
      }
      decoded++;
    }
    assert.equal(next, segment.frames.length);
  }
  assert.equal(hashes.length, planned.frames);
  return { refused: undefined, hashes, chunks, bytes };
}

describe('video chunks: whole GOPs on the wire, the same frames as the decoded path', { timeout: 300_000 }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vdet-video-chunks-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const work = (name: string) => {
    const d = path.join(dir, name);
    execFileSync('mkdir', ['-p', d]);
    return d;
  };
  const encode = (name: string, args: string[]) => {
    const out = path.join(dir, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', TOUR_VIDEO, '-t', '6', ...args, out], { stdio: 'ignore' });
    return out;
  };

  for (const options of [{}, { stride: 3 }, { fps: 7 }]) {
    test(`the tour video, ${JSON.stringify(options)}: every model frame is the decoded path's, byte for byte`, async (t) => {
      const expected = await decodedPath(TOUR_VIDEO, options);
      const got = await videoPath(TOUR_VIDEO, work(`tour-${JSON.stringify(options)}`), options);
      assert.equal(got.refused, undefined);
      t.diagnostic(`${got.hashes.length} frames in ${got.chunks} chunks, ${got.bytes} bytes of video (raw: ${got.hashes.length * box.width * box.height * 3})`);
      assert.ok(got.chunks > 1, 'more than one chunk');
      assert.deepEqual(got.hashes, expected);
    });
  }

  test('a sparse rate over a short video: the whole video is one chunk, still the decoded path\'s frames', async () => {
    const got = await videoPath(TOUR_VIDEO, work('one-chunk'), { fps: 5 }, 96);
    assert.equal(got.chunks, 1);
    assert.deepEqual(got.hashes, await decodedPath(TOUR_VIDEO, { fps: 5 }));
  });

  test('MPEG-TS with B-frames and short GOPs, remuxed from the tour: equal too', async () => {
    const file = encode('short-gop.ts', ['-c:v', 'libx264', '-g', '12', '-bf', '3', '-an', '-f', 'mpegts']);
    const got = await videoPath(file, work('ts'), {}, 10);
    assert.equal(got.refused, undefined);
    assert.ok(got.chunks >= 10);
    assert.deepEqual(got.hashes, await decodedPath(file, {}));
  });

  test('media the plan cannot prove equal takes the decoded path, with its reason', async () => {
    const vfr = encode('vfr.mp4', ['-vf', "setpts='if(lt(N,50),N,N*2)/25/TB'", '-c:v', 'libx264', '-fps_mode', 'vfr', '-an']);
    assert.match((await videoPath(vfr, work('vfr'), {})).refused ?? '', /frame rate is not constant/);
    const openGop = encode('open-gop.mkv', ['-c:v', 'libx264', '-x264-params', 'open-gop=1:keyint=25:min-keyint=25:bframes=3:b-pyramid=0', '-an']);
    // x264's open-GOP stream: refused where a frame shows before its key frame; accepted only where it still decodes
    // to the very same frames (whichever it is, the model never sees a different frame).
    const open = await videoPath(openGop, work('open'), {}, 10);
    if (open.refused !== undefined) assert.match(open.refused, /open/);
    else assert.deepEqual(open.hashes, await decodedPath(openGop, {}));
    const mpeg4 = encode('mpeg4.avi', ['-c:v', 'mpeg4', '-an']);
    assert.match((await videoPath(mpeg4, work('mpeg4'), {})).refused ?? '', /codec is mpeg4/);
    const probe = await probeMedia(TOUR_VIDEO, limits);
    const ranged = planMedia(probe, { startMs: 1000 }, config.processor);
    const planned = await planVideoChunks(TOUR_VIDEO, probe, ranged, { limits, minFrames: 40, maxBytes: 4 << 20, maxFrames: 100_000 });
    assert.equal(planned.ok, false);
    assert.match(planned.ok ? '' : planned.reason, /time range/);
  });

  test('a run that lies is refused by its decoder: garbage, or fewer frames than it claims', async () => {
    const consume = async (segment: Buffer, frames: number) => {
      for await (const frame of decodeSegment({ segment, codec: 'h264', frames, width: box.width, height: box.height, limits, threads: 1 })) void frame;
    };
    await assert.rejects(consume(Buffer.from('not a video at all, just bytes'), 10), { code: 'VDET_MEDIA_DECODE_FAILED' });
    const probe = await probeMedia(TOUR_VIDEO, limits);
    const planned = await planVideoChunks(TOUR_VIDEO, probe, planMedia(probe, {}, config.processor), { limits, minFrames: 40, maxBytes: 4 << 20, maxFrames: 100_000 });
    assert.ok(planned.ok);
    const d = work('lies');
    for await (const { segment, video } of videoChunks(TOUR_VIDEO, d, planned.segments.slice(0, 2), limits)) {
      await assert.rejects(consume(video, segment.packets + 5), /decoded to \d+ of the/);
      await assert.rejects(consume(video, segment.packets - 5), /more than the/);
      await assert.rejects(consume(video.subarray(0, video.length >> 1), segment.packets), { code: 'VDET_MEDIA_DECODE_FAILED' });
      break;
    }
    assert.ok(readFileSync(TOUR_VIDEO).length > 0);
  });
});
