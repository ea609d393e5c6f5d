import { getJson, readSse, type Stream, type StreamResult } from './api.js';
import { colorOf, formatTime, h, noteClasses } from './dom.js';
import { drawBoxes, fitCanvas, tagOf } from './overlay.js';

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

/** One stream, live: the latest frame's detections (boxes on the frame's area, and as a list) and its stats. */
export async function streamView(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const path = `/v1/streams/${encodeURIComponent(id)}`;
  document.title = `${id} — vdet`;
  const stats = h('dl', { class: 'stats', id: 'stream-stats' });
  const canvas = h('canvas', { class: 'overlay', id: 'stream-overlay', 'aria-hidden': 'true' });
  const stage = h('div', { class: 'stage stream-stage', style: 'aspect-ratio: 16 / 9' }, canvas);
  const info = h('p', { id: 'stream-latest', role: 'status', class: 'muted' }, 'Waiting for the next frame…');
  const list = h('ul', { class: 'detections', id: 'stream-detections' });
  main.append(h('p', {}, h('a', { href: '#/streams' }, '← All streams')), h('h1', {}, id),
    h('div', { class: 'job-layout' },
      h('section', { class: 'player', 'aria-label': 'Latest frame' }, stage, info),
      h('aside', { class: 'card' }, h('h2', {}, 'Stats'), stats, h('h2', {}, 'Latest detections'), list)));

  let latest: StreamResult | undefined;
  const redraw = () => {
    if (latest) drawBoxes(canvas, latest.detections, latest.width, latest.height);
  };
  const resize = fitCanvas(canvas, redraw);
  signal.addEventListener('abort', () => resize.disconnect());

  const showStats = (s: Stream) => {
    const rows: [string, string][] = [
      ['Frames in', String(s.stats.framesIn)], ['Processed', String(s.stats.processed)], ['Dropped', String(s.stats.dropped)],
      ['Failed', String(s.stats.failed)], ['fps', s.stats.fps.toFixed(1)], ['Latency p50 / p99', latency(s)],
      ['Last seen', formatTime(s.stats.lastSeen)], ['Policy', String(s.settings['policy'] ?? 'lossless')],
    ];
    stats.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  };
  showStats(await getJson<Stream>(path, { signal }));
  const timer = setInterval(() => void getJson<Stream>(path, { signal }).then(showStats, () => undefined), 2000);
  signal.addEventListener('abort', () => clearInterval(timer));

  const listen = async () => {
    while (!signal.aborted) {
      await readSse(`${path}/events`, (event) => {
        if (event.event !== 'result') return;
        latest = JSON.parse(event.data) as StreamResult;
        noteClasses(latest.detections);
        stage.style.aspectRatio = `${latest.width} / ${latest.height}`;
        redraw();
        info.textContent = `#${latest.seq} · ${new Date(latest.ts).toLocaleTimeString()} · ${latest.width}×${latest.height} · ${latest.detections.length} detections · ${latest.latencyMs} ms`;
        list.replaceChildren(...latest.detections.map((d) => h('li', {},
          h('span', { class: 'swatch', style: `background:${colorOf(d.label)}` }), `${tagOf(d)} `,
          h('span', { class: 'muted small' }, `[${d.box.map((v) => Math.round(v)).join(', ')}]`))));
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
