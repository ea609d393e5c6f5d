import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** One 10-second sample of the soak: per role RSS and event-loop delay (p99), and lag and frames in flight summed over roles. */
export interface Sample {
  t: number;
  rssMiB: Record<string, number>;
  loopDelayMs: Record<string, number>;
  lag: number;
  inFlight: number;
}

export interface SoakTotals {
  minutes: number;
  jobs: number;
  failed: string[];
  streamFrames: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export interface SoakVerdict {
  pass: boolean;
  /** Per role: RSS growth over the last half of the load, in percent (≤ 10 passes). */
  rssGrowthPercent: Record<string, number>;
  lagMax: { firstHalf: number; secondHalf: number };
  reasons: string[];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/**
 * RSS flat after warm-up: per role, the mean of the last minute against the mean of the minute at the load's
 * half-way mark grows by at most 10 %. Lag bounded: the second half's highest lag at most 1.5 × the first half's
 * (plus 20 messages of slack for a chunk burst), and it drains once the load stops. 0 lost, 0 duplicated, in order, no failed job.
 */
export function soakVerdict(samples: readonly Sample[], totals: SoakTotals): SoakVerdict {
  const loadEnd = totals.minutes * 60;
  const loaded = samples.filter((s) => s.t <= loadEnd);
  const half = loadEnd / 2;
  const window = (from: number, to: number) => loaded.filter((s) => s.t >= from && s.t < to);
  const reasons: string[] = [];
  const rssGrowthPercent: Record<string, number> = {};
  for (const role of Object.keys(samples[0]?.rssMiB ?? {})) {
    const atHalf = mean(window(half - 30, half + 30).map((s) => s.rssMiB[role]!));
    const atEnd = mean(window(loadEnd - 60, loadEnd + 1).map((s) => s.rssMiB[role]!));
    rssGrowthPercent[role] = Math.round(((atEnd - atHalf) / atHalf) * 1000) / 10;
    if (!(rssGrowthPercent[role]! <= 10)) reasons.push(`${role} RSS grew ${rssGrowthPercent[role]} % over the last half`);
  }
  const lagMax = {
    firstHalf: Math.max(0, ...window(0, half).map((s) => s.lag)),
    secondHalf: Math.max(0, ...window(half, loadEnd + 1).map((s) => s.lag)),
  };
  if (lagMax.secondHalf > lagMax.firstHalf * 1.5 + 20) reasons.push(`lag grew: max ${lagMax.firstHalf} in the first half, ${lagMax.secondHalf} in the second`);
  const last = samples.at(-1);
  if (!last || last.lag !== 0 || last.inFlight !== 0) reasons.push(`lag did not drain after the load (last sample: lag ${last?.lag}, in flight ${last?.inFlight})`);
  if (totals.lost) reasons.push(`${totals.lost} frames lost`);
  if (totals.duplicated) reasons.push(`${totals.duplicated} frames stored twice`);
  if (totals.outOfOrder) reasons.push(`${totals.outOfOrder} stream results out of order`);
  if (totals.failed.length) reasons.push(`${totals.failed.length} jobs failed`);
  return { pass: reasons.length === 0, rssGrowthPercent, lagMax, reasons };
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** One panel of the chart: lines over time, a y axis from 0 to the highest value. */
function panel(title: string, series: [string, [number, number][]][], top: number, width: number, height: number): string {
  const left = 60;
  const xs = series.flatMap(([, points]) => points.map(([t]) => t));
  const yMax = Math.max(1, ...series.flatMap(([, points]) => points.map(([, v]) => v))) * 1.1;
  const tMax = Math.max(1, ...xs);
  const x = (t: number) => left + (t / tMax) * (width - left - 130);
  const y = (v: number) => top + height - (v / yMax) * height;
  const lines = series.map(([name, points], i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const d = points.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"/>`
      + `<text x="${width - 120}" y="${top + 14 + i * 14}" fill="${colour}" font-size="11">${name}</text>`;
  });
  return [
    `<text x="${left}" y="${top - 6}" font-size="12" font-weight="bold">${title}</text>`,
    `<line x1="${left}" y1="${top + height}" x2="${width - 130}" y2="${top + height}" stroke="#999"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + height}" stroke="#999"/>`,
    `<text x="${left - 4}" y="${top + 10}" font-size="10" text-anchor="end">${yMax.toFixed(yMax < 10 ? 1 : 0)}</text>`,
    `<text x="${left - 4}" y="${top + height}" font-size="10" text-anchor="end">0</text>`,
    `<text x="${width - 130}" y="${top + height + 12}" font-size="10" text-anchor="end">${(tMax / 60).toFixed(1)} min</text>`,
    ...lines,
  ].join('\n');
}

/** docs/soak.md and docs/soak.svg: the curves (RSS, event-loop delay, lag and frames in flight), the figures and the verdict. */
export function writeSoakReport(dir: string, samples: readonly Sample[], totals: SoakTotals, verdict: SoakVerdict): void {
  const roles = Object.keys(samples[0]?.rssMiB ?? {});
  const width = 820;
  const h = 150;
  const per = (pick: (s: Sample) => Record<string, number>): [string, [number, number][]][] =>
    roles.map((role) => [role, samples.map((s) => [s.t, pick(s)[role]!] as [number, number])]);
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${3 * (h + 50) + 20}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    panel('RSS per role (MiB)', per((s) => s.rssMiB), 30, width, h),
    panel('Event-loop delay p99 per role (ms)', per((s) => s.loopDelayMs), 30 + (h + 50), width, h),
    panel('Consumer lag (messages) and frames in flight', [['lag', samples.map((s) => [s.t, s.lag])], ['in flight', samples.map((s) => [s.t, s.inFlight])]], 30 + 2 * (h + 50), width, h),
    '</svg>',
  ].join('\n');
  writeFileSync(path.join(dir, 'soak.svg'), `${svg}\n`);
  const at = (s: Sample) => roles.map((r) => Math.round(s.rssMiB[r]!)).join(' / ');
  const marks = [0, 0.25, 0.5, 0.75, 1].map((f) => samples[Math.min(samples.length - 1, Math.round(f * (samples.length - 1)))]!).filter(Boolean);
  const md = [
    '# Soak run',
    '',
    `\`npm run soak -- --minutes ${totals.minutes}\` (bench/soak.ts) on ${new Date().toISOString().slice(0, 10)}: the local stack, the four roles as`,
    `processes, a job every 30 s cycling through four videos made from the tour video (640×360 MP4, 320×180 MP4, 1280×720`,
    `MKV, 12 fps VP9 WebM), and four lossless live streams at 2 frames/s each, for ${totals.minutes} minutes; sampled every 10 s.`,
    '',
    `**Verdict: ${verdict.pass ? 'pass' : 'FAIL'}.** ${verdict.pass ? 'RSS flat after warm-up, lag bounded, nothing lost or duplicated.' : verdict.reasons.join('; ')}`,
    '',
    '![RSS, event-loop delay, lag and frames in flight over the run](soak.svg)',
    '',
    '| figure | value |',
    '| --- | --- |',
    `| jobs | ${totals.jobs} (failed: ${totals.failed.length}) |`,
    `| stream frames sent | ${totals.streamFrames} |`,
    `| lost / duplicated / out of order | ${totals.lost} / ${totals.duplicated} / ${totals.outOfOrder} |`,
    `| RSS growth over the last half (${roles.join(' / ')}) | ${roles.map((r) => `${verdict.rssGrowthPercent[r]} %`).join(' / ')} |`,
    `| highest lag, first half / second half | ${verdict.lagMax.firstHalf} / ${verdict.lagMax.secondHalf} messages |`,
    '',
    `RSS (MiB, ${roles.join(' / ')}) at 0, ¼, ½, ¾ and the end of the samples:`,
    '',
    ...marks.map((s) => `- t = ${(s.t / 60).toFixed(1)} min: ${at(s)}`),
    '',
    'The rule (bench/soak-report.ts): per role, RSS over the last minute of load at most 10 % above the minute around',
    'the half-way mark; the second half\'s highest lag at most 1.5 × the first half\'s plus 20 messages, and drained to 0 after',
    'the load stops; every job done and every frame (job or stream) stored exactly once, stream results in order.',
    ...(totals.failed.length ? ['', 'Failed jobs:', ...totals.failed.map((f) => `- ${f}`)] : []),
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'soak.md'), md);
}
