import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planDevices } from '../src/detector/devices.js';
import { loadConfig } from '../src/shared/config.js';
import { letterbox } from '../src/shared/letterbox.js';
import { MODEL_PATH, SHARED } from '../tests/helpers/paths.js';
import { runEndToEnd } from './end-to-end.js';
import { decodeLetterboxed, ensureTourVideo, TOUR } from './media.js';
import { measureRawModel } from './raw-model.js';
import { renderDoc, renderTables } from './report.js';
import { buildSummary } from './summary.js';
import { measureWireFormat } from './wire-format.js';

/**
 * `npm run bench`: raw model throughput, the JPEG-vs-raw wire format, then the whole pipeline end to end, on this
 * machine. Prints tables and, as its last line, one JSON object; writes the same to bench-results/latest.json and
 * the tables to docs/benchmarks.md. Expects the local stack up and dist/ built (scripts/bench.sh does both).
 */
const startedAt = Date.now();
const loadAvg1mAtStart = os.loadavg()[0]!;
const config = loadConfig({ VDET_MODEL: MODEL_PATH }); // vdet's defaults: input size, batch size, minimum score
const size = config.model.inputSize;
const cores = os.availableParallelism();
// What `vdet detector` runs here (VDET_DEVICES=auto, no GPU): its sessions, each in a worker thread of its own.
const plan = planDevices('auto', { cpuCores: cores, cudaDevices: [] });
const detectorShape = { sessions: plan.length, threads: plan[0]?.kind === 'cpu' ? plan[0].intraOpThreads : cores };
const detectorConfig = detectorShape.sessions === 1
  ? `1x${detectorShape.threads}-b${config.detector.batchMax}`
  : `${detectorShape.sessions}x${detectorShape.threads}-b${config.detector.batchMax}-workers`;
const shapes = [{ sessions: 1, threads: cores }, ...(cores > 1 ? [{ sessions: cores, threads: 1 }] : [])];
if (!shapes.some((x) => x.sessions === detectorShape.sessions && x.threads === detectorShape.threads)) shapes.push(detectorShape);

function gpu(): string {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || 'none found';
  } catch {
    return 'nvidia-smi absent';
  }
}

const video = await ensureTourVideo();
console.log('decoding the bench video once (every frame, keeping one a second for the model) ...');
const decoded = await decodeLetterboxed(video, size, TOUR.fps);
const box = letterbox(TOUR.width, TOUR.height, size);
const labels = readFileSync(path.join(SHARED, 'models/coco80.txt'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);

console.log(`raw model on ${decoded.kept.length} frames ...`);
const raw = await measureRawModel(decoded.kept, {
  modelPath: config.model.path,
  size,
  decode: { minScore: config.detector.minScore, nmsIou: 0.45, scale: box.scale, sourceWidth: TOUR.width, sourceHeight: TOUR.height, labels },
}, { shapes, batchMax: config.detector.batchMax, framesPerRun: 96, repetitions: 5 });

console.log('wire format ...');
const wire = await measureWireFormat(decoded.kept, size);

console.log('end to end (four roles, local stack) ...');
const e2e = await runEndToEnd(video, 480_000);

const summary = buildSummary({
  machine: {
    cpus: cores,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    gpu: gpu(),
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.versions.node,
    onnxruntime: (JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }).version,
    loadAvg1mAtStart: Math.round(loadAvg1mAtStart * 100) / 100,
    loadAvg1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
  },
  video: { width: TOUR.width, height: TOUR.height, fps: TOUR.fps, seconds: TOUR.secondsPerImage * TOUR.images.length, frames: decoded.frames },
  raw,
  detectorConfig,
  decodeAloneFps: decoded.frames / (decoded.ms / 1000),
  e2e,
  wire,
  startedAt,
});

const tables = renderTables(summary, raw);
await mkdir('bench-results', { recursive: true });
await writeFile('bench-results/latest.json', `${JSON.stringify(summary, null, 2)}\n`);
await writeFile('docs/benchmarks.md', renderDoc(summary, tables));
const busy = loadAvg1mAtStart > cores
  ? `\nwarning: the machine was already busy when the bench started (load average ${summary.machine.loadAvg1mAtStart} on ${cores} cores): the numbers are low\n`
  : '';
console.log(`\n${tables}\n${busy}\nwritten: bench-results/latest.json, docs/benchmarks.md (${summary.benchSeconds} s)`);
console.log(JSON.stringify(summary));
