import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agreement } from '../helpers/agreement.js';
import { allDetections, submitJob, waitForJob, type FrameItem, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv, type TestEnv } from '../helpers/stack.js';

/**
 * The containers users hand over besides MP4 and Matroska — MPEG-TS (cameras, DVRs, broadcast), AVI with MPEG-4
 * Part 2, MPEG-PS, FLV and animated GIF — through the service on the local stack: accepted, decoded, and giving the
 * MP4's detections (the same bitstream remuxed: exactly; re-encoded: within recall and precision bounds).
 */
const KEY = `vdet_containers_${Date.now()}_0123456789abcdef`;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', TOUR_VIDEO, ...args], { stdio: 'ignore' });
}

describe('containers: MPEG-TS, AVI, MPEG-PS, FLV, animated GIF', { timeout: 600_000 }, () => {
  let stack: TestEnv;
  let service: RunningRole;
  let api: Target;
  let dir = '';
  let mp4: FrameItem[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vdet-containers-'));
    ffmpeg(['-c', 'copy', '-f', 'mpegts', path.join(dir, 'tour.ts')]);
    ffmpeg(['-c:v', 'mpeg4', '-q:v', '2', '-an', path.join(dir, 'tour.avi')]);
    ffmpeg(['-c:v', 'mpeg2video', '-q:v', '2', '-an', '-f', 'vob', path.join(dir, 'tour.mpg')]);
    ffmpeg(['-c:v', 'flv1', '-q:v', '2', '-an', path.join(dir, 'tour.flv')]);
    // GIF frame delays are in hundredths of a second: 25 frames/s (4 each) keeps every frame of the first 4 s.
    ffmpeg(['-t', '4', '-vf', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse', path.join(dir, 'tour.gif')]);
    stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY });
    service = startRole('all', stack.env);
    await waitStarted([service]);
    api = { base: await apiUrl(service), key: KEY };
    mp4 = await detect(TOUR_VIDEO);
    assert.equal(mp4.length, 400);
  });

  after(async () => {
    await service?.stop();
    await stack?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function detect(file: string): Promise<FrameItem[]> {
    const id = await submitJob(api, file, undefined, path.basename(file));
    const job = await waitForJob(api, id);
    assert.equal(job.status, 'done', `${path.basename(file)}: ${JSON.stringify(job.error)}`);
    return allDetections(api, id);
  }

  test('MPEG-TS, the MP4\'s own H.264 remuxed: the very same detections, frame by frame', async () => {
    const ts = await detect(path.join(dir, 'tour.ts'));
    assert.deepEqual(ts.map((f) => [f.frame, f.ptsMs, f.detections]), mp4.map((f) => [f.frame, f.ptsMs, f.detections]));
  });

  // Measured: 0.94–0.955 for each (a second lossy encode moves boxes near the score threshold).
  for (const [name, bound] of [['tour.avi', 0.9], ['tour.mpg', 0.9], ['tour.flv', 0.9]] as const) {
    test(`${name}, re-encoded: every frame, recall and precision ≥ ${bound} against the MP4`, async (t) => {
      const frames = await detect(path.join(dir, name));
      assert.deepEqual(frames.map((f) => [f.frame, f.ptsMs]), mp4.map((f) => [f.frame, f.ptsMs]));
      const { recall, precision } = agreement(mp4, frames);
      t.diagnostic(`${name}: recall ${recall.toFixed(3)}, precision ${precision.toFixed(3)}`);
      assert.ok(recall >= bound && precision >= bound, `recall ${recall}, precision ${precision}`);
    });
  }

  test('an animated GIF (256 colours) of the first 4 s: its 100 frames, most of the MP4\'s boxes', async (t) => {
    const gif = await detect(path.join(dir, 'tour.gif'));
    assert.deepEqual(gif.map((f) => [f.frame, f.ptsMs]), mp4.slice(0, 100).map((f) => [f.frame, f.ptsMs]));
    const { recall, precision } = agreement(mp4.slice(0, 100), gif);
    t.diagnostic(`tour.gif: recall ${recall.toFixed(3)}, precision ${precision.toFixed(3)}`);
    assert.ok(recall >= 0.9 && precision >= 0.9, `recall ${recall}, precision ${precision}`); // measured 0.991 / 0.977
  });
});
