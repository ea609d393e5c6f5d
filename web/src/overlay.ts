import type { Detection, Frame } from './api.js';
import { colorsOf, noteClasses } from './dom.js';
import type { CanvasScale } from './scene.js';

/** The frame shown at `ms`: the one whose ptsMs is nearest at or before it (frames sorted by ptsMs). */
export function frameAt(frames: readonly Frame[], ms: number): Frame | undefined {
  let lo = 0;
  let hi = frames.length - 1;
  let found: Frame | undefined;
  const t = ms + 0.5; // media clocks round: 0.99999 s is the frame at 1000 ms
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const frame = frames[mid]!;
    if (frame.ptsMs <= t) {
      found = frame;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** The usual spacing of the frames (median gap), e.g. 40 ms at 25 fps. */
export function frameInterval(frames: readonly Frame[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < frames.length; i++) gaps.push(frames[i]!.ptsMs - frames[i - 1]!.ptsMs);
  if (gaps.length === 0) return 40;
  gaps.sort((a, b) => a - b);
  return Math.max(1, gaps[gaps.length >> 1]!);
}

export interface Segment { startMs: number; endMs: number }

/**
 * When a label is present: runs of frames that have it, each lasting until the next frame's time. A gap of up to
 * `bridgeFrames` frames without it (a missed detection) does not split a run.
 */
export function labelSegments(frames: readonly Frame[], keep: (d: Detection) => boolean, bridgeFrames = 3): Segment[] {
  const interval = frameInterval(frames);
  const segments: Segment[] = [];
  let current: Segment | undefined;
  for (const frame of frames) {
    if (!frame.detections.some(keep)) continue;
    const end = frame.ptsMs + interval;
    if (current && frame.ptsMs - current.endMs <= bridgeFrames * interval + 0.5) current.endMs = end;
    else {
      current = { startMs: frame.ptsMs, endMs: end };
      segments.push(current);
    }
  }
  return segments;
}

/** A box's tag: its label, its object's id when tracked (`person #3`), its score. */
export function tagOf(d: Detection): string {
  return `${d.label}${d.trackId !== undefined ? ` #${d.trackId}` : ''} ${Math.round(d.score * 100)}%`;
}

/**
 * Draws the boxes of one frame on a canvas laid exactly over the picture: boxes are in `width`×`height` media
 * pixels, scaled to the canvas. Each box: a 2-px outline in its label's colour, and a tag (tagOf). The tags are also
 * the canvas's accessible name, for screen readers. `underlay` draws first, under the boxes (zones, trails).
 */
export function drawBoxes(canvas: HTMLCanvasElement, detections: readonly Detection[], width: number, height: number, underlay?: (ctx: CanvasRenderingContext2D, scale: CanvasScale) => void): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (width <= 0 || height <= 0) return;
  const sx = canvas.width / width;
  const sy = canvas.height / height;
  const dpr = Math.max(1, canvas.width / Math.max(1, canvas.clientWidth || canvas.width));
  underlay?.(ctx, { sx, sy, dpr });
  const line = Math.max(2, Math.round(2 * dpr));
  const font = Math.round(12 * dpr);
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  noteClasses(detections);
  canvas.setAttribute('aria-label', detections.length ? detections.map(tagOf).join(', ') : 'no detections');
  for (const d of detections) {
    const { fill: color, text: textColor } = colorsOf(d.label);
    const [x1, y1, x2, y2] = d.box;
    const x = x1 * sx;
    const y = y1 * sy;
    const w = (x2 - x1) * sx;
    const hgt = (y2 - y1) * sy;
    ctx.strokeStyle = color;
    ctx.lineWidth = line;
    ctx.strokeRect(x, y, w, hgt);
    const text = tagOf(d);
    const tw = ctx.measureText(text).width + 6 * dpr;
    const th = font + 4 * dpr;
    const ty = y - th >= 0 ? y - th : y;
    ctx.fillStyle = color;
    ctx.fillRect(x - line / 2, ty, tw, th);
    ctx.fillStyle = textColor;
    ctx.fillText(text, x - line / 2 + 3 * dpr, ty + 2 * dpr);
  }
}

/** Keeps a canvas's pixel size equal to its displayed size × devicePixelRatio, calling `redraw` on change. */
export function fitCanvas(canvas: HTMLCanvasElement, redraw: () => void): ResizeObserver {
  const observer = new ResizeObserver(() => {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== hgt) {
      canvas.width = w;
      canvas.height = hgt;
    }
    redraw();
  });
  observer.observe(canvas);
  return observer;
}
