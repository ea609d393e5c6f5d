import { download, getJson, openInTab, type Job, type Media, type Summary } from './api.js';
import { colorOf, formatMs, formatTime, h } from './dom.js';

/** Per label over the whole job (objects too, when tracked: distinct track ids); first and last seen seek there. */
export function countsTable(summary: Summary, seek: (ms: number) => void): HTMLTableElement {
  const tracked = Object.values(summary.labels).some((s) => s.objects !== undefined);
  return h('table', { class: 'counts', id: 'counts' },
    h('caption', {}, 'Per label, over the whole job'),
    h('thead', {}, h('tr', {}, ...['Label', ...(tracked ? ['Objects'] : []), 'Detections', 'Frames', 'Most in a frame', 'First seen', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...Object.entries(summary.labels).sort((a, b) => b[1].detections - a[1].detections).map(([label, s]) => h('tr', { 'data-label': label },
      h('th', { scope: 'row' }, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label),
      tracked ? h('td', { 'data-objects': s.objects ?? 0 }, s.objects ?? 0) : null,
      h('td', {}, s.detections), h('td', {}, s.frames), h('td', {}, s.maxPerFrame),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => seek(s.firstMs) }, formatMs(s.firstMs))),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => seek(s.lastMs) }, formatMs(s.lastMs)))))));
}

/** The job's data: raw JSON, the annotated video, the exports, and the API calls that give them. */
export function dataLinks(job: Job, media: Media, frameCount: number, signal: AbortSignal): HTMLElement {
  const path = `/v1/jobs/${encodeURIComponent(job.id)}`;
  const base = job.id.replace(/[^\w.-]+/g, '_');
  const downloadButton = (text: string, url: string, name: string) => h('button', {
    type: 'button', class: 'secondary', onclick: () => void download(url, name).catch((e: unknown) => alert((e as Error).message)),
  }, text);
  /** The boxes burned into the video by the api (rendered on the first request), in a tab: a signed URL, as a tab sends no key. */
  const openAnnotated = async (): Promise<void> => {
    const tab = window.open('', '_blank');
    const { url } = await getJson<{ url: string }>(`${path}/source-url`, { method: 'POST', signal });
    const annotated = url.replace('/source?', '/annotated.mp4?');
    if (tab) tab.location.href = annotated;
    else window.location.href = annotated;
  };
  return h('div', { class: 'card links' },
    h('h2', {}, 'Data'),
    h('p', { class: 'small muted' }, `${frameCount} frames · ${media.width}×${media.height}${media.fps ? ` · ${media.fps} fps` : ''} · finished ${formatTime(job.finishedAt)}`),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => void openInTab(`${path}/detections?limit=1000`) }, 'Raw JSON (detections)'),
      h('button', { type: 'button', class: 'secondary', id: 'annotated', onclick: () => void openAnnotated() }, 'Annotated video'),
      downloadButton('Export COCO', `${path}/export?format=coco`, `${base}.coco.json`),
      downloadButton('Export CSV', `${path}/export?format=csv`, `${base}.csv`),
      downloadButton('Export JSONL', `${path}/export?format=jsonl`, `${base}.jsonl`)),
    h('p', { class: 'small muted' }, 'API: ', h('code', {}, `GET ${path}/detections`), ', ', h('code', {}, `GET ${path}/export?format=coco|csv|jsonl`),
      ', ', h('code', {}, `GET ${path}/annotated.mp4`)));
}
