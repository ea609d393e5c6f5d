import { ApiError, getJson, readSse, uploadJob, type Job } from './api.js';
import { formatTime, h } from './dom.js';

/** The jobs page: an upload form (drag and drop, options, progress) and the tenant's jobs with live progress. */
export async function jobsView(main: HTMLElement, signal: AbortSignal): Promise<void> {
  document.title = 'Jobs — vdet';
  const rows = new Map<string, HTMLTableRowElement>();
  const watching = new Set<string>();
  const tbody = h('tbody', { id: 'jobs-body' });
  const empty = h('p', { class: 'muted', id: 'jobs-empty', hidden: true }, 'No jobs yet: upload a video above.');

  main.append(
    h('h1', {}, 'Jobs'),
    uploadForm((id) => {
      void getJson<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { signal }).then((job) => show(job, true));
    }),
    h('section', { 'aria-labelledby': 'jobs-title' },
      h('div', { class: 'section-head' },
        h('h2', { id: 'jobs-title' }, 'Your jobs'),
        h('button', { type: 'button', class: 'secondary', onclick: () => void refresh() }, 'Refresh')),
      h('table', { class: 'jobs' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'File'), h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Progress'), h('th', { scope: 'col' }, 'Labels'), h('th', { scope: 'col' }, 'Created'))),
        tbody),
      empty));

  function show(job: Job, first = false): void {
    const { framesDone, framesTotal } = job.progress;
    const top = Object.entries(job.counts).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([l, n]) => `${l} ${n}`).join(', ');
    const row = h('tr', { 'data-job-id': job.id, 'data-status': job.status },
      h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.filename)),
      h('td', {}, h('span', { class: `status status-${job.status}` }, job.status),
        job.error ? h('div', { class: 'muted small' }, `${job.error.code}: ${job.error.message}`) : null),
      h('td', {}, progressCell(framesDone, framesTotal, job.status)),
      h('td', { class: 'small' }, top || '—'),
      h('td', { class: 'small' }, formatTime(job.createdAt)));
    const old = rows.get(job.id);
    if (old) old.replaceWith(row);
    else if (first) tbody.prepend(row);
    else tbody.append(row);
    rows.set(job.id, row);
    empty.hidden = rows.size > 0;
    if (job.status === 'queued' || job.status === 'running') watch(job.id);
  }

  function progressCell(done: number, total: number, status: string): HTMLElement {
    const fraction = status === 'done' ? 1 : total > 0 ? done / total : 0;
    return h('div', { class: 'progress-cell' },
      h('progress', { max: 1, value: fraction, 'aria-label': `${done} of ${total || '?'} frames` }),
      h('span', { class: 'small' }, total > 0 ? `${done}/${total}` : status === 'queued' ? 'waiting' : ''));
  }

  /** Live progress from the job's event stream, read with fetch so the key can be sent. */
  function watch(id: string): void {
    if (watching.has(id)) return;
    watching.add(id);
    void readSse(`/v1/jobs/${encodeURIComponent(id)}/events`, (event) => {
      const row = rows.get(id);
      if (!row) return;
      if (event.event === 'progress') {
        const { framesDone, framesTotal } = JSON.parse(event.data) as { framesDone: number; framesTotal: number };
        const cell = row.cells[2];
        if (cell) cell.replaceChildren(progressCell(framesDone, framesTotal, 'running'));
        if (row.dataset['status'] === 'queued' && framesTotal > 0) {
          row.dataset['status'] = 'running';
          const badge = row.querySelector('.status');
          if (badge) {
            badge.className = 'status status-running';
            badge.textContent = 'running';
          }
        }
      }
    }, signal).catch(() => undefined).finally(() => {
      watching.delete(id);
      if (signal.aborted) return;
      // The stream ended (done, failed, or dropped): read the job again; it watches again while unfinished.
      setTimeout(() => {
        if (!signal.aborted) void getJson<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { signal }).then((job) => show(job), () => undefined);
      }, 500);
    });
  }

  async function refresh(): Promise<void> {
    const page = await getJson<{ items: Job[] }>('/v1/jobs?limit=100', { signal });
    for (const job of page.items) show(job);
    empty.hidden = rows.size > 0;
  }
  await refresh();
}

function uploadForm(onAccepted: (id: string) => void): HTMLElement {
  let file: File | undefined;
  const fileInput = h('input', { id: 'upload-file', type: 'file', accept: 'video/*,image/*', class: 'visually-hidden' });
  const chosen = h('span', { id: 'upload-chosen', 'aria-live': 'polite' }, 'No file chosen');
  const fps = h('input', { id: 'opt-fps', name: 'fps', type: 'number', min: '0.1', max: '120', step: 'any', placeholder: 'every frame' });
  const minScore = h('input', { id: 'opt-min-score', name: 'minScore', type: 'number', min: '0', max: '1', step: '0.05', placeholder: 'model default' });
  const classes = h('input', { id: 'opt-classes', name: 'classes', type: 'text', placeholder: 'e.g. person, dog', size: 24 });
  const submit = h('button', { type: 'submit', id: 'upload-submit', disabled: true }, 'Upload');
  const bar = h('progress', { id: 'upload-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const status = h('p', { id: 'upload-status', role: 'status' });

  const choose = (f: File | undefined) => {
    file = f;
    chosen.textContent = f ? `${f.name} (${(f.size / 1e6).toFixed(1)} MB)` : 'No file chosen';
    submit.disabled = !f;
  };
  fileInput.addEventListener('change', () => choose(fileInput.files?.[0]));
  const drop = h('div', { class: 'drop', id: 'drop-zone' },
    h('p', {}, 'Drop a video or image here, or '),
    h('label', { for: 'upload-file', class: 'button secondary', tabindex: '0' }, 'Choose a file…'),
    fileInput, ' ', chosen);
  drop.querySelector('label')!.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      fileInput.click();
    }
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    choose(event.dataTransfer?.files[0]);
  });

  const form = h('form', { class: 'card upload', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload'),
    drop,
    h('fieldset', {}, h('legend', {}, 'Job options'),
      h('div', { class: 'field' }, h('label', { for: 'opt-fps' }, 'Frames per second'), fps),
      h('div', { class: 'field' }, h('label', { for: 'opt-min-score' }, 'Min score'), minScore),
      h('div', { class: 'field' }, h('label', { for: 'opt-classes' }, 'Classes (comma-separated)'), classes)),
    h('div', { class: 'actions' }, submit, bar),
    status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!file) return;
    const options: { fps?: number; minScore?: number; classes?: string[] } = {};
    if (fps.value) options.fps = Number(fps.value);
    if (minScore.value) options.minScore = Number(minScore.value);
    const names = classes.value.split(',').map((c) => c.trim()).filter(Boolean);
    if (names.length) options.classes = names;
    submit.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Uploading ${file.name}…`;
    uploadJob(file, options, (loaded, total) => {
      bar.value = total > 0 ? loaded / total : 0;
      status.textContent = `Uploading ${file?.name ?? ''}: ${Math.round((bar.value as number) * 100)}%`;
    }).then(({ id }) => {
      status.textContent = 'Uploaded: the job is queued.';
      bar.value = 1;
      choose(undefined);
      fileInput.value = '';
      onAccepted(id);
    }, (error: unknown) => {
      status.textContent = `Upload failed: ${error instanceof ApiError ? `${error.message} (${error.code})` : String(error)}`;
      submit.disabled = !file;
    }).finally(() => {
      setTimeout(() => (bar.hidden = true), 1500);
    });
  });
  return form;
}
