import { allFrames, download, getJson, openInTab, readSse, type Detection, type Job, type Summary } from './api.js';
import { colorOf, formatMs, formatTime, h, noteClasses } from './dom.js';
import { drawBoxes, fitCanvas, frameAt, labelSegments } from './overlay.js';
import { regionCounts } from './region-counts.js';
import { drawRegions, drawTrails, recentTrail, trailsOf } from './scene.js';

/** requestVideoFrameCallback is in the DOM types but not in every browser. */
type VideoWithFrameCallback = Omit<HTMLVideoElement, 'requestVideoFrameCallback' | 'cancelVideoFrameCallback'> & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/**
 * A job: the original video with every box drawn over it in sync with playback, label and score filters, a
 * timeline per label (click to seek), counts per label (objects too, when tracked), each tracked object's recent trail,
 * the job's zones and lines with what they counted, and the raw JSON and exports.
 */
export async function jobView(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  let job = await getJson<Job>(path, { signal });
  document.title = `${job.filename} — vdet`;
  const header = h('div', { class: 'section-head' },
    h('h1', {}, job.filename),
    h('span', { class: `status status-${job.status}`, id: 'job-status' }, job.status));
  main.append(h('p', {}, h('a', { href: '#/' }, '← All jobs')), header);

  if (job.status !== 'done') {
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
    if (signal.aborted) return;
    job = await getJson<Job>(path, { signal });
    main.replaceChildren();
    return jobView(main, id, signal);
  }

  const [frames, summary, source] = await Promise.all([
    allFrames(id, signal),
    getJson<Summary>(`${path}/summary`, { signal }),
    getJson<{ url: string; expiresAt: string }>(`${path}/source-url`, { method: 'POST', signal }),
  ]);
  const media = job.media ?? { width: 1, height: 1, fps: 0, frames: frames.length, durationMs: 0 };
  const isImage = media.durationMs === 0;
  const labels = [...new Set([...Object.keys(summary.labels), ...frames.flatMap((f) => f.detections.map((d) => d.label))])].sort();
  for (const f of frames) noteClasses(f.detections);
  const hidden = new Set<string>();
  let minScore = 0;
  const keep = (d: Detection) => !hidden.has(d.label) && d.score >= minScore;

  // The picture and its overlay, at the media's aspect ratio so boxes map with one scale per axis.
  const canvas = h('canvas', { id: 'overlay', class: 'overlay', 'aria-hidden': 'true' });
  const picture: HTMLVideoElement | HTMLImageElement = isImage
    ? h('img', { src: source.url, alt: job.filename })
    : h('video', { id: 'video', src: source.url, controls: true, preload: 'auto', muted: true, playsinline: true });
  const stage = h('div', { class: 'stage', style: `aspect-ratio: ${media.width} / ${media.height}` }, picture, canvas);
  const timeText = h('span', { id: 'time', class: 'mono' }, formatMs(0));
  const frameText = h('span', { id: 'frame-info', class: 'muted' });

  // Zones and lines (job options) under everything; each shown object's recent trail under its box.
  const zones = job.options.zones ?? [];
  const lines = job.options.lines ?? [];
  const trails = trailsOf(frames);
  let lastMs = 0;
  const draw = (ms: number) => {
    lastMs = ms;
    const frame = isImage ? frames[0] : frameAt(frames, ms);
    const detections = frame ? frame.detections.filter(keep) : [];
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
    playhead(ms);
  };
  const redraw = () => draw(lastMs);
  const resize = fitCanvas(canvas, redraw);
  signal.addEventListener('abort', () => resize.disconnect());

  // Filters.
  const scoreInput = h('input', { id: 'min-score', type: 'range', min: '0', max: '1', step: '0.05', value: '0' });
  const scoreOut = h('output', { for: 'min-score', id: 'min-score-value' }, '0.00');
  scoreInput.addEventListener('input', () => {
    minScore = Number(scoreInput.value);
    scoreOut.textContent = minScore.toFixed(2);
    redraw();
    renderTimeline();
  });
  const labelBoxes = h('div', { class: 'label-filters', role: 'group', 'aria-label': 'Labels shown' },
    ...labels.map((label) => {
      const box = h('input', { type: 'checkbox', id: `show-${label}`, checked: true, 'data-label': label });
      box.addEventListener('change', () => {
        if (box.checked) hidden.delete(label);
        else hidden.add(label);
        redraw();
        renderTimeline();
      });
      return h('label', { class: 'chip', for: `show-${label}` }, box, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label);
    }));
  const allOn = h('button', { type: 'button', class: 'secondary small' }, 'All');
  const allOff = h('button', { type: 'button', class: 'secondary small' }, 'None');
  const setAll = (on: boolean) => {
    for (const input of labelBoxes.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) {
      input.checked = on;
      const label = input.dataset['label']!;
      if (on) hidden.delete(label);
      else hidden.add(label);
    }
    redraw();
    renderTimeline();
  };
  allOn.addEventListener('click', () => setAll(true));
  allOff.addEventListener('click', () => setAll(false));

  // Playback controls beside the native ones: speed and frame steps.
  const controls = h('div', { class: 'controls' }, timeText, frameText);
  if (picture instanceof HTMLVideoElement) {
    const video = picture as unknown as VideoWithFrameCallback;
    const speed = h('select', { id: 'speed' }, ...[0.25, 0.5, 1, 1.5, 2, 4].map((s) => h('option', { value: s, selected: s === 1 }, `${s}×`)));
    speed.addEventListener('change', () => (video.playbackRate = Number(speed.value)));
    const interval = media.fps > 0 ? 1000 / media.fps : 40;
    const step = (n: number) => {
      video.pause();
      video.currentTime = Math.max(0, Math.min(video.duration || Infinity, video.currentTime + (n * interval) / 1000));
    };
    controls.prepend(
      h('button', { type: 'button', class: 'secondary', onclick: () => (video.paused ? void video.play() : video.pause()), id: 'play' }, 'Play / pause'),
      h('button', { type: 'button', class: 'secondary', onclick: () => step(-1), 'aria-label': 'Previous frame' }, '◀ frame'),
      h('button', { type: 'button', class: 'secondary', onclick: () => step(1), 'aria-label': 'Next frame' }, 'frame ▶'),
      h('label', { for: 'speed' }, 'Speed '), speed);
    syncToVideo(video, draw, signal);
    // A signed URL lasts minutes: on an error (e.g. expired while paused), get a new one and resume where it was.
    let retried = false;
    video.addEventListener('error', () => {
      if (retried || signal.aborted) return;
      retried = true;
      const at = video.currentTime;
      void getJson<{ url: string }>(`${path}/source-url`, { method: 'POST', signal }).then(({ url }) => {
        video.src = url;
        video.currentTime = at;
      });
    });
  }

  // The timeline: a row per label with its segments; clicking a segment or the track seeks there.
  const duration = Math.max(media.durationMs, (frames.at(-1)?.ptsMs ?? 0) + 1);
  const timeline = h('div', { class: 'timeline', id: 'timeline' });
  const playheads: HTMLElement[] = [];
  function playhead(ms: number) {
    for (const p of playheads) p.style.left = `${Math.min(100, (ms / duration) * 100)}%`;
  }
  const seek = (ms: number) => {
    if (picture instanceof HTMLVideoElement) picture.currentTime = ms / 1000;
  };
  function renderTimeline(): void {
    playheads.length = 0;
    timeline.replaceChildren(...labels.map((label) => {
      const segments = hidden.has(label) ? [] : labelSegments(frames, (d) => d.label === label && d.score >= minScore);
      const head = h('div', { class: 'playhead', 'aria-hidden': 'true' });
      playheads.push(head);
      const track = h('div', { class: 'track' }, head, ...segments.map((s) => h('button', {
        type: 'button', class: 'segment', 'data-start-ms': s.startMs, 'data-end-ms': s.endMs,
        style: `left:${(s.startMs / duration) * 100}%;width:${Math.max(0.4, ((s.endMs - s.startMs) / duration) * 100)}%;background:${colorOf(label)}`,
        title: `${label}: ${formatMs(s.startMs)} – ${formatMs(s.endMs)}`,
        'aria-label': `${label} from ${(s.startMs / 1000).toFixed(1)} s to ${(s.endMs / 1000).toFixed(1)} s: seek`,
        onclick: (event: Event) => {
          event.stopPropagation();
          seek(s.startMs);
        },
      })));
      track.addEventListener('click', (event) => {
        const rect = track.getBoundingClientRect();
        seek(((event.clientX - rect.left) / rect.width) * duration);
      });
      return h('div', { class: 'timeline-row', 'data-label': label, 'data-color': colorOf(label), 'data-segments': segments.length },
        h('span', { class: 'timeline-label' }, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label),
        track);
    }));
    playhead(lastMs);
  }
  renderTimeline();

  // Tracked jobs count objects (distinct track ids) beside detections.
  const tracked = Object.values(summary.labels).some((s) => s.objects !== undefined);
  const counts = h('table', { class: 'counts', id: 'counts' },
    h('caption', {}, 'Per label, over the whole job'),
    h('thead', {}, h('tr', {}, ...['Label', ...(tracked ? ['Objects'] : []), 'Detections', 'Frames', 'Most in a frame', 'First seen', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...Object.entries(summary.labels).sort((a, b) => b[1].detections - a[1].detections).map(([label, s]) => h('tr', { 'data-label': label },
      h('th', { scope: 'row' }, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label),
      tracked ? h('td', { 'data-objects': s.objects ?? 0 }, s.objects ?? 0) : null,
      h('td', {}, s.detections), h('td', {}, s.frames), h('td', {}, s.maxPerFrame),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => seek(s.firstMs) }, formatMs(s.firstMs))),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => seek(s.lastMs) }, formatMs(s.lastMs)))))));

  const base = id.replace(/[^\w.-]+/g, '_');
  const downloadButton = (text: string, url: string, name: string) => h('button', {
    type: 'button', class: 'secondary', onclick: () => void download(url, name).catch((e: unknown) => alert((e as Error).message)),
  }, text);
  const links = h('div', { class: 'card links' },
    h('h2', {}, 'Data'),
    h('p', { class: 'small muted' }, `${frames.length} frames · ${media.width}×${media.height}${media.fps ? ` · ${media.fps} fps` : ''} · finished ${formatTime(job.finishedAt)}`),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => void openInTab(`${path}/detections?limit=1000`) }, 'Raw JSON (detections)'),
      h('button', { type: 'button', class: 'secondary', id: 'annotated', onclick: () => void openAnnotated() }, 'Annotated video'),
      downloadButton('Export COCO', `${path}/export?format=coco`, `${base}.coco.json`),
      downloadButton('Export CSV', `${path}/export?format=csv`, `${base}.csv`),
      downloadButton('Export JSONL', `${path}/export?format=jsonl`, `${base}.jsonl`)),
    h('p', { class: 'small muted' }, 'API: ', h('code', {}, `GET ${path}/detections`), ', ', h('code', {}, `GET ${path}/export?format=coco|csv|jsonl`),
      ', ', h('code', {}, `GET ${path}/annotated.mp4`)));
  /** The boxes burned into the video by the api (rendered on the first request), in a tab: a signed URL, as a tab sends no key. */
  async function openAnnotated(): Promise<void> {
    const tab = window.open('', '_blank');
    const { url } = await getJson<{ url: string }>(`${path}/source-url`, { method: 'POST', signal });
    const annotated = url.replace('/source?', '/annotated.mp4?');
    if (tab) tab.location.href = annotated;
    else window.location.href = annotated;
  }

  main.append(
    h('div', { class: 'job-layout' },
      h('section', { class: 'player', 'aria-label': 'Video with detections' }, stage, controls),
      h('aside', { class: 'card filters', 'aria-labelledby': 'filters-title' },
        h('h2', { id: 'filters-title' }, 'Filters'),
        h('div', { class: 'field' }, h('label', { for: 'min-score' }, 'Min score '), scoreInput, ' ', scoreOut),
        h('div', { class: 'section-head' }, h('span', {}, 'Labels'), h('span', {}, allOn, ' ', allOff)),
        labelBoxes)),
    h('section', { class: 'card', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline),
    h('section', { class: 'card', 'aria-labelledby': 'counts-title' }, h('h2', { id: 'counts-title' }, 'Counts'), counts),
    ...[regionCounts(summary)].filter((section) => section !== null),
    links);
  draw(0);
}

/**
 * Draws the frame on screen: with requestVideoFrameCallback, for every presented frame (its exact media time);
 * otherwise on timeupdate and animation frames while playing. Seeks and pauses redraw either way.
 */
function syncToVideo(video: VideoWithFrameCallback, draw: (ms: number) => void, signal: AbortSignal): void {
  const now = () => draw(video.currentTime * 1000);
  for (const type of ['seeked', 'seeking', 'pause', 'loadeddata', 'ratechange', 'timeupdate']) {
    video.addEventListener(type, () => {
      // While playing with frame callbacks, timeupdate would draw a time between frames: leave it to the callback.
      if (type === 'timeupdate' && !video.paused && video.requestVideoFrameCallback) return;
      now();
    }, { signal });
  }
  if (video.requestVideoFrameCallback) {
    let handle = 0;
    const onFrame = (_now: number, meta: { mediaTime: number }) => {
      if (signal.aborted) return;
      draw(meta.mediaTime * 1000);
      handle = video.requestVideoFrameCallback!(onFrame);
    };
    handle = video.requestVideoFrameCallback(onFrame);
    signal.addEventListener('abort', () => video.cancelVideoFrameCallback?.(handle));
  } else {
    let raf = 0;
    const loop = () => {
      now();
      if (!video.paused && !signal.aborted) raf = requestAnimationFrame(loop);
    };
    video.addEventListener('play', () => (raf = requestAnimationFrame(loop)), { signal });
    signal.addEventListener('abort', () => cancelAnimationFrame(raf));
  }
}

