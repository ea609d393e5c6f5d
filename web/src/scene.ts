import type { Detection, Frame, LineOption, ZoneOption } from './api.js';
import { colorOf } from './dom.js';

/** Where a tracked object stood in one frame: its box's bottom centre (the point zones and lines count), media pixels. */
export interface TrailPoint { ptsMs: number; x: number; y: number }

/** Where a box's object stands: its bottom centre, as zones and lines count it (src/vision/zones.ts). */
export function footOf(d: Detection): { x: number; y: number } {
  return { x: (d.box[0] + d.box[2]) / 2, y: d.box[3] };
}

/** How far back a trail reaches. */
export const TRAIL_MS = 1500;

/** Each track's positions over the job, in time order (frames sorted by ptsMs). */
export function trailsOf(frames: readonly Frame[]): Map<number, TrailPoint[]> {
  const trails = new Map<number, TrailPoint[]>();
  for (const frame of frames) {
    for (const d of frame.detections) {
      if (d.trackId === undefined) continue;
      let points = trails.get(d.trackId);
      if (!points) trails.set(d.trackId, (points = []));
      points.push({ ptsMs: frame.ptsMs, ...footOf(d) });
    }
  }
  return trails;
}

/** A track's positions in (ms − spanMs, ms]: its recent trail, oldest first. */
export function recentTrail(points: readonly TrailPoint[], ms: number, spanMs = TRAIL_MS): TrailPoint[] {
  const t = ms + 0.5; // as frameAt: media clocks round
  let lo = 0;
  let hi = points.length;
  while (lo < hi) { // the first point after t
    const mid = (lo + hi) >> 1;
    if (points[mid]!.ptsMs <= t) lo = mid + 1;
    else hi = mid;
  }
  let from = lo;
  while (from > 0 && points[from - 1]!.ptsMs > t - spanMs) from--;
  return points.slice(from, lo);
}

/** Scales media pixels to the canvas, and the canvas's device-pixel ratio. */
export interface CanvasScale { sx: number; sy: number; dpr: number }

/** Each trail as a line in its label's colour, fading toward its oldest end; a trail of one point draws nothing. */
export function drawTrails(ctx: CanvasRenderingContext2D, trails: readonly { label: string; points: readonly TrailPoint[] }[], { sx, sy, dpr }: CanvasScale): number {
  let drawn = 0;
  ctx.lineWidth = Math.max(2, Math.round(2 * dpr));
  ctx.lineJoin = 'round';
  ctx.lineCap = 'round';
  for (const { label, points } of trails) {
    if (points.length < 2) continue;
    ctx.strokeStyle = colorOf(label);
    for (let i = 1; i < points.length; i++) {
      ctx.globalAlpha = 0.35 + (0.65 * i) / (points.length - 1);
      ctx.beginPath();
      ctx.moveTo(points[i - 1]!.x * sx, points[i - 1]!.y * sy);
      ctx.lineTo(points[i]!.x * sx, points[i]!.y * sy);
      ctx.stroke();
    }
    drawn++;
  }
  ctx.globalAlpha = 1;
  return drawn;
}

/** Zone and line colour: drawn under the boxes, apart from every label's. */
export const REGION_COLOR = '#ffffff';

/**
 * The job's zones (a translucent fill, a dashed outline) and lines (solid, with an arrowhead at `to`), each with its
 * name, in media pixels scaled to the canvas.
 */
export function drawRegions(ctx: CanvasRenderingContext2D, zones: readonly ZoneOption[], lines: readonly LineOption[], { sx, sy, dpr }: CanvasScale): void {
  const font = Math.round(12 * dpr);
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'bottom';
  ctx.lineWidth = Math.max(2, Math.round(2 * dpr));
  /** A name tag whose bottom-left is at (x, y), or whose top-left is, when it would leave the canvas at the top. */
  const name = (text: string, x: number, y: number) => {
    const th = font + 4 * dpr;
    const bottom = y - th >= 0 ? y : y + th;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(x, bottom - th, ctx.measureText(text).width + 6 * dpr, th);
    ctx.fillStyle = REGION_COLOR;
    ctx.fillText(text, x + 3 * dpr, bottom - 2 * dpr);
  };
  for (const zone of zones) {
    ctx.beginPath();
    zone.polygon.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x * sx, y * sy) : ctx.lineTo(x * sx, y * sy)));
    ctx.closePath();
    ctx.fillStyle = 'rgba(255,255,255,0.12)';
    ctx.fill();
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    ctx.strokeStyle = REGION_COLOR;
    ctx.stroke();
    ctx.setLineDash([]);
    const [x0, y0] = zone.polygon.reduce(([ax, ay], [x, y]) => (y < ay || (y === ay && x < ax) ? [x, y] : [ax, ay]), zone.polygon[0]!);
    name(zone.name, x0 * sx, y0 * sy);
  }
  for (const line of lines) {
    const [fx, fy] = [line.from[0] * sx, line.from[1] * sy];
    const [tx, ty] = [line.to[0] * sx, line.to[1] * sy];
    ctx.strokeStyle = REGION_COLOR;
    ctx.beginPath();
    ctx.moveTo(fx, fy);
    ctx.lineTo(tx, ty);
    const angle = Math.atan2(ty - fy, tx - fx);
    const head = 10 * dpr;
    for (const side of [-1, 1]) {
      ctx.moveTo(tx, ty);
      ctx.lineTo(tx - head * Math.cos(angle + side * 0.45), ty - head * Math.sin(angle + side * 0.45));
    }
    ctx.stroke();
    name(line.name, Math.min(fx, tx), Math.min(fy, ty));
  }
}
