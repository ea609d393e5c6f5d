import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { annotationStyle, filterGraph, renderAnnotated } from '../../src/media/annotate.js';
import type { Detection } from '../../src/contracts/messages.js';
import { VdetError } from '../../src/platform/errors.js';

/** What the api relies on when it renders an upload: boxes at the processor's frame times, ffmpeg kept to the upload. */
const dog: Detection = { label: 'dog', classId: 16, score: 0.85, box: [100, 50, 300, 350] };

test('times start at the first video frame, as the processor numbers frames (audio first or late video: no shift)', () => {
  // Regression: a file whose audio started 0.5 s before its video had every box drawn 12 frames late.
  for (const graph of [filterGraph(2, annotationStyle(640, 360, true), false), filterGraph(0, annotationStyle(640, 360, false), true)]) {
    assert.equal(graph.split(',\n')[0], 'setpts=PTS-STARTPTS');
  }
});

test('an upload that is a playlist or a concat script is refused by the input guards, never followed', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vdet-annotate-test-'));
  try {
    await writeFile(path.join(dir, 'secret.mp4'), 'not to be read');
    const limits = { maxWidth: 7680, maxHeight: 4320, maxStreams: 16, timeoutS: 20 };
    for (const text of [
      `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${dir}/secret.mp4\n#EXT-X-ENDLIST\n`,
      `ffconcat version 1.0\nfile ${dir}/secret.mp4\n`,
    ]) {
      const input = path.join(dir, 'upload'); // no extension, as the api and the processor name it
      await writeFile(input, text);
      await assert.rejects(
        renderAnnotated(input, [{ frame: 0, ptsMs: 0, detections: [dog] }], path.join(dir, 'out.mp4'), { width: 640, height: 360, limits, workDir: dir }),
        (error: unknown) => error instanceof VdetError && error.code === 'VDET_RENDER_FAILED'
          && /not on whitelist/.test((error.cause as Error).message),
      );
    }
    assert.deepEqual((await readdir(dir)).sort(), ['secret.mp4', 'upload'], 'no output, and the scripts\' folder is removed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
