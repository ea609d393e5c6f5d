import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Summary } from '../contracts/summary.js';
import { readServerSentEvents, type ServerSentEvent } from './server-sent-events.js';

/**
 * A client of a running vdet api, as the `vdet submit|jobs|results` commands use it: JSON calls, a streamed multipart
 * upload with progress, server-sent events and paged results. Every failure is a {@link ClientError} whose message
 * is one sentence a person can act on (the api's own code and detail where it answered).
 */
export class ClientError extends Error {
  constructor(message: string, readonly status?: number, readonly code?: string) {
    super(message);
  }
}

export interface JobView {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  filename: string;
  progress: { framesDone: number; framesTotal: number };
  media: { width: number; height: number; fps: number; frames: number; durationMs: number } | null;
  counts: Record<string, number>;
  error?: { code: string; message: string };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface FrameItem {
  frame: number;
  ptsMs: number;
  detections: { label: string; classId: number; score: number; box: [number, number, number, number] }[];
}

export type JobEvent =
  | { type: 'progress'; framesDone: number; framesTotal: number }
  | { type: 'done' | 'failed'; status: string };

export class ApiClient {
  constructor(readonly base: string, private readonly key: string | undefined) {}

  getJob(id: string): Promise<JobView> {
    return this.json<JobView>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: { status?: string; limit: number; cursor?: string }): Promise<{ items: JobView[]; next: string | null }> {
    return this.json('GET', `/v1/jobs?${new URLSearchParams(definedOnly(query))}`);
  }

  async deleteJob(id: string): Promise<void> {
    await this.request('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  async summary(id: string): Promise<Summary> {
    return (await this.json<{ labels: Summary }>('GET', `/v1/jobs/${encodeURIComponent(id)}/summary`)).labels;
  }

  /** Every frame of a job in frame order, page by page (1000 frames a request). */
  async *frames(id: string, filters: Record<string, string> = {}): AsyncGenerator<FrameItem> {
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '1000', ...filters, ...(cursor ? { cursor } : {}) });
      const page: { items: FrameItem[]; next: string | null } = await this.json('GET', `/v1/jobs/${encodeURIComponent(id)}/detections?${query}`);
      yield* page.items;
      cursor = page.next;
    } while (cursor);
  }

  /** A response body as it arrives (exports), after checking the status. */
  async download(pathAndQuery: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.request('GET', pathAndQuery);
    if (!response.body) throw new ClientError(`The api sent no body for ${pathAndQuery}.`);
    return response.body;
  }

  /**
   * Follows a job's server-sent events until it ends; `onEvent` sees each one. A dropped connection (an api restart,
   * a proxy's idle timeout) is resumed, since the api replays the current progress on connect.
   */
  async follow(id: string, onEvent: (event: JobEvent) => void, signal?: AbortSignal): Promise<'done' | 'failed'> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.request('GET', `/v1/jobs/${encodeURIComponent(id)}/events`, { signal, headers: { accept: 'text/event-stream' } });
        for await (const event of readServerSentEvents(response.body!)) {
          const parsed = parseJobEvent(event);
          if (!parsed) continue;
          onEvent(parsed);
          if (parsed.type === 'done' || parsed.type === 'failed') return parsed.type;
        }
      } catch (error) {
        if (signal?.aborted || (error instanceof ClientError && error.status !== undefined && error.status < 500) || attempt >= 5) throw error;
      }
      const job = await this.getJob(id);
      if (job.status === 'done' || job.status === 'failed') return job.status;
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** attempt)));
    }
  }

  /**
   * Uploads one file as `POST /v1/jobs` (multipart: `options`, then `file`), streamed from disk with a
   * Content-Length; `onProgress` gets the bytes sent so far and the total.
   */
  async upload(file: string, options: object | undefined, onProgress: (sent: number, total: number) => void): Promise<{ id: string }> {
    const size = (await stat(file).catch((error: NodeJS.ErrnoException) => {
      throw new ClientError(`${file}: ${error.code === 'ENOENT' ? 'no such file' : error.code ?? error.message}.`);
    })).size;
    const boundary = `vdet-${randomBytes(12).toString('hex')}`;
    const name = path.basename(file).replace(/["\r\n\\]/g, '_');
    const head = Buffer.from([
      ...(options ? [`--${boundary}`, 'Content-Disposition: form-data; name="options"', '', JSON.stringify(options)] : []),
      `--${boundary}`, `Content-Disposition: form-data; name="file"; filename="${name}"`, 'Content-Type: application/octet-stream', '', '',
    ].join('\r\n'));
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const total = head.length + size + tail.length;
    const url = new URL(`${this.base}/v1/jobs`);
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        headers: { ...this.auth(), 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(total) },
      }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      request.on('error', (error) => reject(this.unreachable(error)));
      let sent = 0;
      const count = (n: number) => {
        sent += n;
        onProgress(sent, total);
      };
      request.write(head);
      count(head.length);
      const source = createReadStream(file);
      source.on('data', (chunk) => count(chunk.length));
      source.on('error', (error) => request.destroy(error));
      source.on('end', () => {
        request.end(tail);
        count(tail.length);
      });
      source.pipe(request, { end: false });
    });
    if (body.status !== 202) throw problemError(body.status, body.text, 'POST /v1/jobs');
    return JSON.parse(body.text) as { id: string };
  }

  /** A JSON request and its JSON answer (null for 204), after checking the status. */
  async json<T>(method: string, pathAndQuery: string, body?: object): Promise<T> {
    const response = await this.request(method, pathAndQuery, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return (response.status === 204 ? null : await response.json()) as T;
  }

  private async request(method: string, pathAndQuery: string, init: { signal?: AbortSignal; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${pathAndQuery}`, { method, signal: init.signal, body: init.body, headers: { ...this.auth(), ...init.headers } });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw this.unreachable(error);
    }
    if (!response.ok) throw problemError(response.status, await response.text(), `${method} ${pathAndQuery.split('?')[0]}`);
    return response;
  }

  private auth(): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}` } : {};
  }

  private unreachable(error: unknown): ClientError {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause ?? (error as { code?: string; message?: string });
    return new ClientError(`cannot reach the api at ${this.base} (${cause.code ?? cause.message ?? String(error)}); is vdet running? (VDET_API_URL or --api)`);
  }
}

/** An api error answer as one line: its code and detail, or the status when it sent no problem details. */
function problemError(status: number, text: string, what: string): ClientError {
  let problem: { code?: string; detail?: string } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    // not JSON: a proxy's page, say
  }
  if (problem.code && problem.detail) {
    const hint = status === 401 ? ' (set VDET_API_KEY or --key)' : '';
    return new ClientError(`${problem.code}: ${problem.detail}${hint}`, status, problem.code);
  }
  return new ClientError(`${what} answered HTTP ${status}.`, status);
}

function parseJobEvent(event: ServerSentEvent): JobEvent | undefined {
  if (event.event !== 'progress' && event.event !== 'done' && event.event !== 'failed') return undefined;
  try {
    return { ...(JSON.parse(event.data) as object), type: event.event } as JobEvent;
  } catch {
    return undefined;
  }
}

function definedOnly(query: Record<string, string | number | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
}
