import { allFrames, getJson, readSse, type Job, type Summary } from './api.js';
import { formatMs, h, noteClasses } from './dom.js';
import { jobFilters } from './job-filters.js';
import { countsTable, dataLinks } from './job-panels.js';
import { playbackControls, type VideoWithFrameCallback } from './job-playback.js';
import { jobTimeline } from './job-timeline.js';
import { drawBoxes, fitCanvas, frameAt } from './overlay.js';
import { regionCounts } from './region-counts.js';
import { drawRegions, drawTrails, recentTrail, trailsOf } from './scene.js';

/**
 * A job: the original video with every box drawn over it in sync with playback, label and score filters, a
 * timeline per label (click to seek), counts per label (objects too, when tracked), each tracked object's recent trail,
 * the job's zones and lines with what they counted, and the raw JSON and exports. A job not done yet shows its
 * progress until it is, then all of that.
 */
export async function jobView(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const job = await getJson<Job>(path, { signal });
  document.title = `${job.filename} — vdet`;
  main.append(h('p', {}, h('a', { href: '#/' }, '← All jobs')), h('div', { class: 'section-head' },
    h('h1', {}, job.filename),
    h('span', { class: `status status-${job.status}`, id: 'job-status' }, job.status)));
  if (job.status === 'done') return doneJobView(main, job, signal);
  await progressUntilEnded(main, job, path, signal);
  if (signal.aborted || job.status === 'failed') return;
  main.replaceChildren();
  return jobView(main, id, signal);
}

/** A progress bar fed by the job's events until it ends (a failed job: its reason). */
async function progressUntilEnded(main: HTMLElement, job: Job, path: string, signal: AbortSignal): Promise<void> {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Job progress' });
  const text = h('span', { role: 'status' }, job.status === 'failed' ? `Failed: ${job.error?.code ?? ''} ${job.error?.message ?? ''}` : 'Waiting…');
  main.append(h('div', { class: 'card' }, bar, ' ', text));
  if (job.status === 'failed') return;
  await readSse(`${path}/events`, (event) => {
    if (event.event !== 'progress') return;
    const p = JSON.parse(event.data) as { framesDone: number; framesTotal: number };
    bar.value = p.framesTotal ? p.framesDone / p.framesTotal : 0;
    text.textContent = `${p.framesDone} of ${p.framesTotal || '?'} frames`;
  }, signal);
}

async function doneJobView(main: HTMLElement, job: Job, signal: AbortSignal): Promise<void> {
  const path = `/v1/jobs/${encodeURIComponent(job.id)}`;
  const [frames, summary, source] = await Promise.all([
    allFrames(job.id, signal),
    getJson<Summary>(`${path}/summary`, { signal }),
    getJson<{ url: string; expiresAt: string }>(`${path}/source-url`, { method: 'POST', signal }),
  ]);
  const media = job.media ?? { width: 1, height: 1, fps: 0, frames: frames.length, durationMs: 0 };
  const isImage = media.durationMs === 0;
  const labels = [...new Set([...Object.keys(summary.labels), ...frames.flatMap((f) => f.detections.map((d) => d.label))])].sort();
  for (const f of frames) noteClasses(f.detections);

  // The picture and its overlay, at the media's aspect ratio so boxes map with one scale per axis.
  const canvas = h('canvas', { id: 'overlay', class: 'overlay', 'aria-hidden': 'true' });
  const picture: HTMLVideoElement | HTMLImageElement = isImage
    ? h('img', { src: source.url, alt: job.filename })
    : h('video', { id: 'video', src: source.url, controls: true, preload: 'auto', muted: true, playsinline: true });
  const stage = h('div', { class: 'stage', style: `aspect-ratio: ${media.width} / ${media.height}` }, picture, canvas);
  const timeText = h('span', { id: 'time', class: 'mono' }, formatMs(0));
  const frameText = h('span', { id: 'frame-info', class: 'muted' });
  const seek = (ms: number) => {
    if (picture instanceof HTMLVideoElement) picture.currentTime = ms / 1000;
  };
  const filters = jobFilters(labels, () => {
    redraw();
    timeline.render();
  });
  const timeline = jobTimeline(labels, frames, Math.max(media.durationMs, (frames.at(-1)?.ptsMs ?? 0) + 1), filters, seek);

  // Zones and lines (job options) under everything; each shown object's recent trail under its box.
  const zones = job.options.zones ?? [];
  const lines = job.options.lines ?? [];
  const trails = trailsOf(frames);
  let lastMs = 0;
  const draw = (ms: number) => {
    lastMs = ms;
    const frame = isImage ? frames[0] : frameAt(frames, ms);
    const detections = frame ? frame.detections.filter(filters.keep) : [];
    let trailCount = 0;
    drawBoxes(canvas, detections, media.width, media.height, (ctx, scale) => {
      drawRegions(ctx, zones, lines, scale);
      const shown = detections.flatMap((d) => (d.trackId === undefined ? [] : [{ label: d.label, points: recentTrail(trails.get(d.trackId) ?? [], frame!.ptsMs) }]));
      trailCount = drawTrails(ctx, shown, scale);
    });
    canvas.dataset['pts'] = frame ? String(frame.ptsMs) : '';
    canvas.dataset['boxes'] = String(detections.length);
    canvas.dataset['trails'] = String(trailCount);
    canvas.dataset['regions'] = String(zones.length + lines.length);
    timeText.textContent = formatMs(ms);
    frameText.textContent = frame ? `frame ${frame.frame} · ${detections.length} box${detections.length === 1 ? '' : 'es'}` : 'no frame';
    timeline.playhead(ms);
  };
  const redraw = () => draw(lastMs);
  const resize = fitCanvas(canvas, redraw);
  signal.addEventListener('abort', () => resize.disconnect());

  const controls = h('div', { class: 'controls' }, timeText, frameText);
  if (picture instanceof HTMLVideoElement) {
    playbackControls(picture as unknown as VideoWithFrameCallback, media, controls, draw, `${path}/source-url`, signal);
  }
  main.append(
    h('div', { class: 'job-layout' },
      h('section', { class: 'player', 'aria-label': 'Video with detections' }, stage, controls),
      filters.element),
    h('section', { class: 'card', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline.element),
    h('section', { class: 'card', 'aria-labelledby': 'counts-title' }, h('h2', { id: 'counts-title' }, 'Counts'), countsTable(summary, seek)),
    ...[regionCounts(summary)].filter((section) => section !== null),
    dataLinks(job, media, frames.length, signal));
  draw(0);
}
