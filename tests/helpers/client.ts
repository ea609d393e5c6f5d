import { openAsBlob } from 'node:fs';
import path from 'node:path';

/** A small HTTP client for the api, used as a user's program would use it (a real socket, multipart uploads). */
export interface Target {
  base: string;
  key: string;
}

export function authHeaders(target: Target, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${target.key}`, ...extra };
}

export interface JobView {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  progress: { framesDone: number; framesTotal: number };
  media: { width: number; height: number; fps: number; frames: number; durationMs: number } | null;
  counts: Record<string, number>;
  error?: { code: string; message: string };
}

export interface FrameItem {
  frame: number;
  ptsMs: number;
  /** `trackId`: the detection's track, when the job tracks (the default). */
  detections: { label: string; classId: number; score: number; box: [number, number, number, number]; trackId?: number }[];
}

export async function uploadFile(target: Target, file: string | Blob, options?: object, filename?: string, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  if (options) form.append('options', JSON.stringify(options));
  const blob = typeof file === 'string' ? await openAsBlob(file) : file;
  form.append('file', blob, filename ?? (typeof file === 'string' ? path.basename(file) : 'upload.bin'));
  return fetch(`${target.base}/v1/jobs`, { method: 'POST', body: form, headers: authHeaders(target, headers) });
}

export async function submitJob(target: Target, file: string | Blob, options?: object, filename?: string): Promise<string> {
  const response = await uploadFile(target, file, options, filename);
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

export async function getJob(target: Target, id: string): Promise<JobView> {
  const response = await fetch(`${target.base}/v1/jobs/${id}`, { headers: authHeaders(target) });
  if (!response.ok) throw new Error(`GET job answered ${response.status}`);
  return (await response.json()) as JobView;
}

export async function waitForJob(target: Target, id: string, timeoutMs = 300_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(target, id);
    if (job.status === 'done' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every item of a paged listing, following the cursor through all pages. */
async function allPages<T>(target: Target, path: string, query: Record<string, string>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${target.base}${path}?${params}`, { headers: authHeaders(target) });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    const page = (await response.json()) as { items: T[]; next: string | null };
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

/** Every frame of a job. */
export function allDetections(target: Target, id: string, limit = 1000, filters: Record<string, string> = {}): Promise<FrameItem[]> {
  return allPages(target, `/v1/jobs/${id}/detections`, { limit: String(limit), ...filters });
}

/** A stored stream frame, as `GET /v1/streams/{id}/detections` lists it. */
export interface StreamFrameItem { seq: number; ts: number; width: number; height: number; detections: FrameItem['detections'] }

/** Every stored frame of a stream, in sequence order. */
export function allStreamDetections(target: Target, id: string): Promise<StreamFrameItem[]> {
  return allPages(target, `/v1/streams/${id}/detections`, { limit: '1000' });
}

/** Registers a stream (PUT settings) and mints an ingest token for it; returns the token. */
export async function registerStream(target: Target, id: string, settings: object = {}): Promise<string> {
  const put = await fetch(`${target.base}/v1/streams/${id}/settings`, {
    method: 'PUT', headers: authHeaders(target, { 'content-type': 'application/json' }), body: JSON.stringify(settings),
  });
  if (put.status !== 200) throw new Error(`PUT /v1/streams/${id}/settings: ${put.status} ${await put.text()}`);
  const minted = await fetch(`${target.base}/v1/streams/${id}/tokens`, { method: 'POST', headers: authHeaders(target) });
  if (minted.status !== 201) throw new Error(`POST /v1/streams/${id}/tokens: ${minted.status} ${await minted.text()}`);
  return ((await minted.json()) as { token: string }).token;
}
