import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The frames of a video at these indices (decode order), as packed RGB24, one buffer each. */
export async function rgbFrames(file: string, indices: readonly number[], width: number, height: number): Promise<Buffer[]> {
  const select = indices.map((n) => `eq(n\\,${n})`).join('+');
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-vf', `select=${select}`, '-fps_mode', 'passthrough',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  const size = width * height * 3;
  if (stdout.length !== size * indices.length) throw new Error(`decoded ${stdout.length} bytes, expected ${indices.length} frames of ${size}`);
  return indices.map((_, i) => stdout.subarray(i * size, (i + 1) * size));
}

/** Frames in a video, counted by decoding it. */
export async function countFrames(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

type Box = readonly [number, number, number, number];

/**
 * How two renderings of a frame differ, split by the boxes drawn on it: outside every box widened by `margin`
 * (mean absolute difference per channel, and the share of channel values differing by more than `bigDiff`), and
 * per box on its border band of `thickness` pixels just inside the box, where drawbox paints.
 */
export function boxDifference(a: Buffer, b: Buffer, width: number, height: number, boxes: readonly Box[], thickness: number, margin: number, bigDiff = 64) {
  let outsideSum = 0;
  let outsideCount = 0;
  let outsideBig = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (boxes.some(([x1, y1, x2, y2]) => x >= x1 - margin && x <= x2 + margin && y >= y1 - margin && y <= y2 + margin)) continue;
      for (let c = 0, o = (y * width + x) * 3; c < 3; c++) {
        const d = Math.abs(a[o + c]! - b[o + c]!);
        outsideSum += d;
        outsideCount++;
        if (d > bigDiff) outsideBig++;
      }
    }
  }
  const bands = boxes.map((box) => {
    // As annotate.ts places a box: rounded, clamped to the frame.
    const x1 = Math.min(width - 1, Math.max(0, Math.round(box[0])));
    const y1 = Math.min(height - 1, Math.max(0, Math.round(box[1])));
    const x2 = x1 + Math.max(1, Math.min(width, Math.round(box[2])) - x1);
    const y2 = y1 + Math.max(1, Math.min(height, Math.round(box[3])) - y1);
    let sum = 0;
    let count = 0;
    for (let y = y1; y < y2; y++) {
      for (let x = x1; x < x2; x++) {
        if (x >= x1 + thickness && x < x2 - thickness && y >= y1 + thickness && y < y2 - thickness) continue;
        for (let c = 0, o = (y * width + x) * 3; c < 3; c++, count++) sum += Math.abs(a[o + c]! - b[o + c]!);
      }
    }
    return sum / Math.max(1, count);
  });
  return { outsideMean: outsideSum / Math.max(1, outsideCount), outsideBigShare: outsideBig / Math.max(1, outsideCount), bands };
}
