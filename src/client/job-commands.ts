import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadClientConfig } from '../platform/client-config.js';
import { openLineSink, type LineSink } from '../platform/terminal/line-sink.js';
import { ProgressBar } from '../platform/terminal/progress-bar.js';
import { alignedTable, summaryTable } from '../results/summary-table.js';
import { ApiClient, type JobView } from './api-client.js';
import { parse, UsageError, type ClientIo } from './client-io.js';

/** `vdet submit`, `vdet jobs`, `vdet results`: the api of a running vdet from a terminal. */
export const SUBMIT_USAGE = `usage: vdet submit FILE… [options]

Uploads each file as a job to a running vdet (VDET_API_URL, default http://127.0.0.1:8080; key: VDET_API_KEY); an
http(s) URL instead of a file is fetched by vdet itself (POST /v1/jobs {"url": …}).
Without --wait it prints "<job id>\\t<file>" per file and returns; with --wait it follows each job's progress and
ends with the job's table of labels.

  --wait                 follow each job until it ends (implied by --out and --export)
  --out FILE|-           write the detections as JSON Lines ({job, file, frame, ptsMs, detections}); - is stdout
  --export coco|csv|jsonl|mot  download the job's export instead (to --out, default <file>.<job>.<ext>; a folder for several files)
  --options JSON         job options as JSON, e.g. '{"fps":5,"roi":{"rect":[0,0,0.5,1]}}'
  --fps N | --stride N   sample frames; --min-score S, --classes a,b, --start-ms MS, --end-ms MS, --max-detections N
  --model NAME           run on a registered model (vdet models list; GET /v1/models) instead of the default
  --api URL, --key KEY   instead of VDET_API_URL and VDET_API_KEY`;

export const JOBS_USAGE = `usage: vdet jobs [--status queued|running|done|failed] [--limit N]
       vdet jobs get ID        the job as JSON
       vdet jobs cancel ID     cancel the job and delete it with its results
       vdet results ID [--out FILE|-] [--label L] [--min-score S]   every frame's detections as JSON Lines`;

export const CONNECTION = { api: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export async function runSubmit(argv: readonly string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...CONNECTION,
    wait: { type: 'boolean' }, out: { type: 'string' }, export: { type: 'string' }, options: { type: 'string' },
    fps: { type: 'string' }, stride: { type: 'string' }, 'min-score': { type: 'string' }, classes: { type: 'string' },
    'start-ms': { type: 'string' }, 'end-ms': { type: 'string' }, 'max-detections': { type: 'string' }, model: { type: 'string' },
  });
  if (values.help) return usage(io, SUBMIT_USAGE);
  if (positionals.length === 0) throw new UsageError(`no file to submit\n\n${SUBMIT_USAGE}`);
  const format = values.export;
  if (format !== undefined && !['coco', 'csv', 'jsonl', 'mot'].includes(format)) throw new UsageError('--export must be coco, csv, jsonl or mot');
  const options = jobOptions(values);
  const api = client(values, io);
  const wait = values.wait === true || values.out !== undefined || format !== undefined;
  const toStdout = values.out === '-';
  // The table and the per-job lines go where the results do not.
  const report = toStdout ? io.stderr : io.stdout;
  const sink = !format && values.out ? await openLineSink(values.out, io.stdout, io.stdoutError) : undefined;

  const jobs: { id: string; file: string }[] = [];
  for (const file of positionals) {
    let id: string;
    if (/^https?:\/\//i.test(file)) {
      ({ id } = await api.json<{ id: string }>('POST', '/v1/jobs', { url: file, ...(options ? { options } : {}) })); // fetched by vdet
    } else {
      const bar = ProgressBar.forStream(io.stderr);
      bar?.start(`upload ${path.basename(file)}`, 0, 'MB');
      ({ id } = await api.upload(file, options, (sent, total) => bar && progressMb(bar, sent, total)));
      bar?.finish();
    }
    jobs.push({ id, file });
    if (!wait) io.stdout.write(`${id}\t${file}\n`);
  }
  if (!wait) return 0;

  let failed = 0;
  for (const job of jobs) {
    const started = Date.now();
    const view = await followJob(api, job.id, path.basename(job.file), io);
    if (view.status === 'failed') {
      failed++;
      io.stderr.write(`vdet: job ${job.id} (${job.file}) failed: ${view.error?.code ?? 'VDET_INTERNAL'}: ${view.error?.message ?? 'no reason given'}\n`);
      continue;
    }
    if (format) await saveExport(api, job, format, values.out, jobs.length, io);
    else if (sink) await writeFrames(api, job, sink);
    const seconds = (Date.now() - started) / 1000;
    report.write(`${job.file}: job ${job.id} done, ${view.progress.framesDone} frames, ${countAll(view.counts)} detections (${seconds.toFixed(1)} s after upload)\n`);
    report.write(`${summaryTable(await api.summary(job.id))}\n\n`);
  }
  await sink?.close();
  return failed > 0 ? 1 : 0;
}

export async function runJobs(argv: readonly string[], io: ClientIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'get' || sub === 'cancel') {
    const { values, positionals } = parse(rest, CONNECTION);
    if (values.help) return usage(io, JOBS_USAGE);
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError(`vdet jobs ${sub} ID\n\n${JOBS_USAGE}`);
    const api = client(values, io);
    if (sub === 'get') io.stdout.write(`${JSON.stringify(await api.getJob(id), null, 2)}\n`);
    else {
      await api.deleteJob(id);
      io.stdout.write(`cancelled and deleted job ${id}\n`);
    }
    return 0;
  }
  const { values, positionals } = parse(argv, { ...CONNECTION, status: { type: 'string' }, limit: { type: 'string' } });
  if (values.help) return usage(io, JOBS_USAGE);
  if (positionals.length > 0) throw new UsageError(`unknown jobs command "${positionals[0]}"\n\n${JOBS_USAGE}`);
  const limit = values.limit === undefined ? 20 : positiveInt('--limit', values.limit);
  const api = client(values, io);
  const rows: string[][] = [];
  let cursor: string | undefined;
  while (rows.length < limit) {
    const page = await api.listJobs({ status: values.status, limit: Math.min(limit - rows.length, 1000), cursor });
    rows.push(...page.items.map(jobRow));
    if (!page.next) break;
    cursor = page.next;
  }
  io.stdout.write(rows.length === 0 ? 'no jobs\n' : `${alignedTable(['id', 'status', 'progress', 'created', 'file'], rows, 2)}\n`);
  return 0;
}

export async function runResults(argv: readonly string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...CONNECTION, out: { type: 'string' }, label: { type: 'string' }, 'min-score': { type: 'string' } });
  if (values.help) return usage(io, JOBS_USAGE);
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new UsageError(`vdet results ID [--out FILE|-]\n\n${JOBS_USAGE}`);
  const api = client(values, io);
  const filters: Record<string, string> = {};
  if (values.label) filters['label'] = values.label;
  if (values['min-score']) filters['minScore'] = String(unitNumber('--min-score', values['min-score']));
  const sink = await openLineSink(values.out ?? '-', io.stdout, io.stdoutError);
  let frames = 0;
  for await (const frame of api.frames(id, filters)) {
    await sink.write(`${JSON.stringify(frame)}\n`);
    frames++;
  }
  await sink.close();
  if (values.out && values.out !== '-') io.stdout.write(`${frames} frames written to ${values.out}\n`);
  return 0;
}

/** Follows a job over server-sent events with a progress bar on a terminal; resolves with its final view. */
async function followJob(api: ApiClient, id: string, name: string, io: ClientIo): Promise<JobView> {
  const bar = ProgressBar.forStream(io.stderr);
  bar?.start(name, 0);
  await api.follow(id, (event) => {
    if (event.type !== 'progress' || !bar) return;
    bar.setTotal(event.framesTotal);
    bar.update(event.framesDone);
  });
  bar?.finish();
  return api.getJob(id);
}

async function writeFrames(api: ApiClient, job: { id: string; file: string }, sink: LineSink): Promise<void> {
  for await (const frame of api.frames(job.id)) await sink.write(`${JSON.stringify({ job: job.id, file: job.file, ...frame })}\n`);
}

async function saveExport(api: ApiClient, job: { id: string; file: string }, format: string, out: string | undefined, files: number, io: ClientIo): Promise<void> {
  const ext = format === 'coco' ? 'json' : format === 'mot' ? 'txt' : format;
  const own = `${path.basename(job.file)}.${job.id}.${ext}`;
  let target = out ?? own;
  if (out && out !== '-' && files > 1) {
    await mkdir(out, { recursive: true });
    target = path.join(out, own);
  }
  const sink = await openLineSink(target, io.stdout, io.stdoutError, '--out');
  const decoder = new TextDecoder();
  for await (const chunk of await api.download(`/v1/jobs/${encodeURIComponent(job.id)}/export?format=${format}`)) await sink.write(decoder.decode(chunk, { stream: true }));
  await sink.close();
  if (target !== '-') io.stdout.write(`${format} export of job ${job.id} written to ${target}\n`);
}

function jobOptions(values: Record<string, string | boolean | undefined>): object | undefined {
  let options: Record<string, unknown> = {};
  if (typeof values['options'] === 'string') {
    try {
      options = JSON.parse(values['options']) as Record<string, unknown>;
    } catch {
      throw new UsageError('--options must be JSON, e.g. \'{"fps": 5}\'');
    }
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw new UsageError('--options must be a JSON object');
  }
  const numeric: [string, string][] = [['fps', 'fps'], ['stride', 'stride'], ['min-score', 'minScore'], ['start-ms', 'startMs'], ['end-ms', 'endMs'], ['max-detections', 'maxDetections']];
  for (const [flag, key] of numeric) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number`);
    options[key] = n;
  }
  if (typeof values['classes'] === 'string') options['classes'] = values['classes'].split(',').map((c) => c.trim()).filter(Boolean);
  if (typeof values['model'] === 'string') options['model'] = values['model'];
  return Object.keys(options).length > 0 ? options : undefined;
}

function jobRow(job: JobView): string[] {
  const total = job.progress.framesTotal;
  const progress = total > 0 ? `${job.progress.framesDone}/${total}` : '-';
  const created = job.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return [job.id, job.status, progress, created, job.filename];
}

export function client(values: { api?: string; key?: string }, io: ClientIo): ApiClient {
  const config = loadClientConfig(io.env, { api: values.api, key: values.key });
  return new ApiClient(config.apiUrl, config.apiKey);
}

export function usage(io: ClientIo, text: string): number {
  io.stdout.write(`${text}\n`);
  return 0;
}

function progressMb(bar: ProgressBar, sent: number, total: number): void {
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  bar.setTotal(mb(total));
  bar.update(mb(sent), sent === total);
}

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number ≥ 1`);
  return n;
}

function unitNumber(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag} must be a number from 0 to 1`);
  return n;
}

function countAll(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
