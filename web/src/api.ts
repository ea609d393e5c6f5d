/** The api, from the browser: the key lives in sessionStorage only and goes out as a Bearer header. */
const KEY_STORAGE = 'vdet.apiKey';

export const getKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const setKey = (key: string): void => sessionStorage.setItem(KEY_STORAGE, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY_STORAGE);

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';
export interface Media { width: number; height: number; fps: number; frames: number; durationMs: number }
export interface Job {
  id: string;
  status: JobStatus;
  filename: string;
  options: { fps?: number; minScore?: number; classes?: string[]; track?: boolean; zones?: ZoneOption[]; lines?: LineOption[] };
  progress: { framesDone: number; framesTotal: number };
  media: Media | null;
  counts: Record<string, number>;
  error?: { code: string; message: string };
  createdAt: string;
  finishedAt: string | null;
}
/** `trackId`: the object's id within its job or stream, when it is tracked. */
export interface Detection { label: string; classId: number; score: number; box: [number, number, number, number]; trackId?: number }
export interface Frame { frame: number; ptsMs: number; detections: Detection[] }
/** `objects`: distinct tracks with the label, when the job is tracked. */
export interface LabelSummary { detections: number; frames: number; maxPerFrame: number; firstMs: number; lastMs: number; objects?: number }
/** Job options `zones` and `lines`, in source pixels. */
export interface ZoneOption { name: string; polygon: [number, number][] }
export interface LineOption { name: string; from: [number, number]; to: [number, number] }
export interface ZoneCounts { entered: number; dwellMs: number; maxDwellMs: number }
export interface LineCounts { in: number; out: number }
export interface Summary {
  id: string; status: JobStatus; labels: Record<string, LabelSummary>;
  zones?: { name: string; labels: Record<string, ZoneCounts> }[];
  lines?: { name: string; labels: Record<string, LineCounts> }[];
}
export interface StreamStats {
  framesIn: number; processed: number; dropped: number; failed: number; fps: number; lastSeen: number | null;
  latencyMs: { p50: number | null; p99: number | null };
}
/** A camera vdet pulls for a stream (`PUT /v1/streams/{id}/source`), and where its puller stands. */
export interface CameraSource { url: string; fps: number; state: string; lastError: string | null; since: number | null; reconnects: number; framesPulled: number; processor: string | null }
export interface Stream { id: string; settings: Record<string, unknown> & { zones?: ZoneOption[]; lines?: LineOption[] }; stats: StreamStats; source?: CameraSource; createdAt: string }
/** What a stream frame changed in its zones and lines. */
export type ZoneEvent =
  | { type: 'entered'; zone: string; label: string; trackId: number }
  | { type: 'left'; zone: string; label: string; trackId: number; dwellMs: number }
  | { type: 'crossed'; line: string; direction: 'in' | 'out'; label: string; trackId: number };
export interface StreamResult { stream: string; seq: number; ts: number; width: number; height: number; detections: Detection[]; latencyMs: number; events?: ZoneEvent[] }
export interface RegionCounts { zones: NonNullable<Summary['zones']>; lines: NonNullable<Summary['lines']> }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Called when the api says the key is not (or no longer) valid. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

function authHeaders(key = getKey()): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function failure(response: Response): Promise<ApiError> {
  let code = 'HTTP_ERROR';
  let detail = `${response.status} ${response.statusText}`;
  try {
    const problem = (await response.json()) as { code?: string; detail?: string };
    code = problem.code ?? code;
    detail = problem.detail ?? detail;
  } catch {
    // not problem details
  }
  if (response.status === 401) onUnauthorized();
  return new ApiError(response.status, code, detail);
}

export async function request(path: string, init: RequestInit = {}, key?: string): Promise<Response> {
  const response = await fetch(path, { ...init, headers: { ...authHeaders(key ?? getKey()), ...(init.headers as Record<string, string> | undefined) } });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}

/** Checks a key by listing one job with it. */
export async function checkKey(key: string): Promise<void> {
  const response = await fetch('/v1/jobs?limit=1', { headers: authHeaders(key) });
  if (response.ok) return;
  const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
  throw new ApiError(response.status, problem.code ?? 'HTTP_ERROR', problem.detail ?? `The api answered ${response.status}.`);
}

/** Every frame of a job, following `next`. */
export async function allFrames(jobId: string, signal?: AbortSignal): Promise<Frame[]> {
  const frames: Frame[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const page: { items: Frame[]; next: string | null } = await getJson(`/v1/jobs/${encodeURIComponent(jobId)}/detections?${query}`, signal ? { signal } : {});
    frames.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return frames;
}

/** Uploads a file with XMLHttpRequest, whose upload progress events fetch does not have. */
export function uploadJob(file: File, options: object, onProgress: (loaded: number, total: number) => void): Promise<{ id: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/jobs');
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener('load', () => {
      let body: { id?: string; code?: string; detail?: string } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // keep empty
      }
      if (xhr.status === 202 && body.id) resolve({ id: body.id });
      else {
        if (xhr.status === 401) onUnauthorized();
        reject(new ApiError(xhr.status, body.code ?? 'HTTP_ERROR', body.detail ?? `Upload answered ${xhr.status}`));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'NETWORK', 'The upload failed (network error).')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'ABORTED', 'The upload was cancelled.')));
    const form = new FormData();
    form.append('options', JSON.stringify(options));
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

export interface SseEvent { event: string; data: string }

/**
 * Reads a server-sent event stream with fetch (EventSource cannot send an Authorization header), calling `onEvent`
 * per event until the stream ends or `signal` aborts.
 */
export async function readSse(path: string, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const response = await request(path, { headers: { accept: 'text/event-stream' }, signal });
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseSseBlock(block);
        if (parsed) onEvent(parsed);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export function parseSseBlock(block: string): SseEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : undefined;
}

/** Fetches with the key and saves the answer as a file (a plain link could not send the key). */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Fetches with the key and shows the answer in a new tab. */
export async function openInTab(path: string): Promise<void> {
  const tab = window.open('', '_blank');
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(new Blob([blob], { type: blob.type || 'application/json' }));
  if (tab) tab.location.href = url;
  else window.location.href = url;
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
