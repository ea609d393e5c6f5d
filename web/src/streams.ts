import { getJson, readSse, type RegionCounts, type Stream, type StreamResult } from './api.js';
import { colorOf, formatTime, h, noteClasses } from './dom.js';
import { drawBoxes, fitCanvas, tagOf } from './overlay.js';
import { regionCounts } from './region-counts.js';
import { drawRegions, drawTrails, footOf, TRAIL_MS, type TrailPoint } from './scene.js';

/** The tenant's streams with their stats, refreshed every few seconds. */
export async function streamsView(main: HTMLElement, signal: AbortSignal): Promise<void> {
  document.title = 'Streams — vdet';
  const tbody = h('tbody', { id: 'streams-body' });
  const empty = h('p', { class: 'muted', hidden: true }, 'No streams yet: register one and mint its ingest token (vdet streams token ID), then publish frames to the vdet.frames topic (see the README).');
  main.append(h('h1', {}, 'Streams'),
    h('table', { class: 'jobs' },
      h('thead', {}, h('tr', {}, ...['Stream', 'fps', 'In', 'Processed', 'Dropped', 'Failed', 'Latency p50 / p99', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody),
    empty);
  const refresh = async () => {
    const { items } = await getJson<{ items: Stream[] }>('/v1/streams', { signal });
    tbody.replaceChildren(...items.map((s) => h('tr', { 'data-stream-id': s.id },
      h('td', {}, h('a', { href: `#/streams/${encodeURIComponent(s.id)}` }, s.id)),
      h('td', {}, s.stats.fps.toFixed(1)), h('td', {}, s.stats.framesIn), h('td', {}, s.stats.processed),
      h('td', {}, s.stats.dropped), h('td', {}, s.stats.failed), h('td', {}, latency(s)),
      h('td', { class: 'small' }, formatTime(s.stats.lastSeen)))));
    empty.hidden = items.length > 0;
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => undefined), 3000);
  signal.addEventListener('abort', () => clearInterval(timer));
}

/**
 * One stream, live: the latest frame's detections (boxes on the frame's area, each tracked object's recent trail, the
 * stream's zones and lines under them, and the boxes as a list), objects per label (in view now, distinct since the
 * page opened), what the zones and lines counted with their latest events, and its stats.
 */
export async function streamView(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const path = `/v1/streams/${encodeURIComponent(id)}`;
  document.title = `${id} — vdet`;
  const stats = h('dl', { class: 'stats', id: 'stream-stats' });
  const canvas = h('canvas', { class: 'overlay', id: 'stream-overlay', 'aria-hidden': 'true' });
  const stage = h('div', { class: 'stage stream-stage', style: 'aspect-ratio: 16 / 9' }, canvas);
  const info = h('p', { id: 'stream-latest', role: 'status', class: 'muted' }, 'Waiting for the next frame…');
  const list = h('ul', { class: 'detections', id: 'stream-detections' });
  const objects = h('tbody', { id: 'stream-objects' });
  const regions = h('div', { id: 'stream-regions' });
  const events = h('ul', { class: 'detections', id: 'stream-events' }, h('li', { class: 'muted' }, 'None yet'));
  const eventsCard = h('section', { class: 'card', 'aria-labelledby': 'events-title', hidden: true }, h('h2', { id: 'events-title' }, 'Zone and line events'), events);
  main.append(h('p', {}, h('a', { href: '#/streams' }, '← All streams')), h('h1', {}, id),
    h('div', { class: 'job-layout' },
      h('section', { class: 'player', 'aria-label': 'Latest frame' }, stage, info),
      h('aside', { class: 'card' }, h('h2', {}, 'Stats'), stats, h('h2', {}, 'Latest detections'), list)),
    h('section', { class: 'card', 'aria-labelledby': 'objects-title' }, h('h2', { id: 'objects-title' }, 'Objects'),
      h('table', { class: 'counts' }, h('caption', {}, 'Per label: tracked objects in the latest frame, and distinct ones since this page opened'),
        h('thead', {}, h('tr', {}, ...['Label', 'In view', 'Seen'].map((t) => h('th', { scope: 'col' }, t)))), objects)),
    regions, eventsCard);

  let latest: StreamResult | undefined;
  let settings: Stream['settings'] = {};
  const trails = new Map<number, { label: string; points: TrailPoint[] }>();
  const seen = new Map<string, Set<number>>();
  const recent: string[] = [];
  const redraw = () => {
    if (!latest) return;
    const shown = latest.detections.flatMap((d) => (d.trackId === undefined ? [] : [trails.get(d.trackId)!]));
    drawBoxes(canvas, latest.detections, latest.width, latest.height, (ctx, scale) => {
      drawRegions(ctx, settings.zones ?? [], settings.lines ?? [], scale);
      canvas.dataset['trails'] = String(drawTrails(ctx, shown, scale));
    });
  };
  const resize = fitCanvas(canvas, redraw);
  signal.addEventListener('abort', () => resize.disconnect());

  const showStats = (s: Stream) => {
    settings = s.settings;
    const rows: [string, string][] = [
      ['Frames in', String(s.stats.framesIn)], ['Processed', String(s.stats.processed)], ['Dropped', String(s.stats.dropped)],
      ['Failed', String(s.stats.failed)], ['fps', s.stats.fps.toFixed(1)], ['Latency p50 / p99', latency(s)],
      ['Last seen', formatTime(s.stats.lastSeen)], ['Policy', String(s.settings['policy'] ?? 'lossless')],
      ...cameraRows(s),
    ];
    stats.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  };
  const showRegions = async (s: Stream) => {
    eventsCard.hidden = !s.settings.zones?.length && !s.settings.lines?.length;
    if (eventsCard.hidden) return regions.replaceChildren();
    const counts = await getJson<RegionCounts>(`${path}/zones`, { signal });
    regions.replaceChildren(...[regionCounts(counts)].filter((card) => card !== null));
  };
  const refresh = async () => {
    const s = await getJson<Stream>(path, { signal });
    showStats(s);
    await showRegions(s);
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => undefined), 2000);
  signal.addEventListener('abort', () => clearInterval(timer));

  const take = (result: StreamResult) => {
    latest = result;
    noteClasses(result.detections);
    for (const d of result.detections) {
      if (d.trackId === undefined) continue;
      const trail = trails.get(d.trackId) ?? { label: d.label, points: [] };
      trail.points.push({ ptsMs: result.ts, ...footOf(d) });
      trails.set(d.trackId, trail);
      let ids = seen.get(d.label);
      if (!ids) seen.set(d.label, (ids = new Set()));
      ids.add(d.trackId);
    }
    for (const [trackId, trail] of trails) { // only the last TRAIL_MS of each, and only tracks still moving
      trail.points = trail.points.filter((p) => p.ptsMs > result.ts - TRAIL_MS && p.ptsMs <= result.ts);
      if (trail.points.length === 0) trails.delete(trackId);
    }
    for (const e of result.events ?? []) {
      const where = e.type === 'crossed' ? `crossed ${e.line} (${e.direction})` : `${e.type} ${e.zone}${e.type === 'left' ? ` after ${(e.dwellMs / 1000).toFixed(1)} s` : ''}`;
      recent.unshift(`${new Date(result.ts).toLocaleTimeString()} ${e.label} #${e.trackId} ${where}`);
    }
    recent.splice(10);
  };
  const show = (result: StreamResult) => {
    stage.style.aspectRatio = `${result.width} / ${result.height}`;
    redraw();
    info.textContent = `#${result.seq} · ${new Date(result.ts).toLocaleTimeString()} · ${result.width}×${result.height} · ${result.detections.length} detections · ${result.latencyMs} ms`;
    list.replaceChildren(...result.detections.map((d) => h('li', {},
      h('span', { class: 'swatch', style: `background:${colorOf(d.label)}` }), `${tagOf(d)} `,
      h('span', { class: 'muted small' }, `[${d.box.map((v) => Math.round(v)).join(', ')}]`))));
    objects.replaceChildren(...[...seen].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, ids]) => {
      const inView = new Set(result.detections.filter((d) => d.label === label && d.trackId !== undefined).map((d) => d.trackId)).size;
      return h('tr', { 'data-label': label, 'data-in-view': inView, 'data-seen': ids.size },
        h('th', { scope: 'row' }, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label), h('td', {}, inView), h('td', {}, ids.size));
    }));
    events.replaceChildren(...(recent.length ? recent.map((text) => h('li', {}, text)) : [h('li', { class: 'muted' }, 'None yet')]));
  };

  const listen = async () => {
    while (!signal.aborted) {
      await readSse(`${path}/events`, (event) => {
        if (event.event !== 'result') return;
        const result = JSON.parse(event.data) as StreamResult;
        take(result);
        show(result);
      }, signal).catch(() => undefined);
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 2000)); // reconnect
    }
  };
  void listen();
}

function latency(s: Stream): string {
  const { p50, p99 } = s.stats.latencyMs;
  return p50 === null ? '—' : `${Math.round(p50)} / ${Math.round(p99 ?? p50)} ms`;
}

/** A pulled camera's rows: its URL (no password), state since when, the last error, frames pulled, reconnects. */
function cameraRows(s: Stream): [string, string][] {
  const camera = s.source;
  if (!camera) return [];
  return [
    ['Camera', camera.url], ['Camera state', `${camera.state}${camera.since ? ` since ${formatTime(camera.since)}` : ''}`],
    ...(camera.lastError ? [['Last camera error', camera.lastError] as [string, string]] : []),
    ['Frames pulled', String(camera.framesPulled)], ['Reconnects', String(camera.reconnects)],
  ];
}
