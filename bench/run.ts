import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planDevices } from '../src/vision/onnx/devices.js';
import { loadConfig } from '../src/platform/config.js';
import { letterbox } from '../src/media/letterbox.js';
import { MODEL_PATH, SHARED } from '../tests/helpers/paths.js';
import { runEndToEnd } from './end-to-end.js';
import { decodeLetterboxed, ensureTourVideo, TOUR } from './media.js';
import { measureRawModel } from './raw-model.js';
import { renderDoc, renderTables } from './report.js';
import { buildSummary } from './summary.js';
import { compareWithCeiling, renderCeiling, runVdetDetect } from './ceiling.js';
import { measureDecodeCpu } from './decode-cpu.js';
import { runNaiveLoop } from './naive-loop.js';
import { measureWireFormat } from './wire-format.js';

/**
 * `npm run bench`: raw model throughput, the wire formats, then the whole pipeline end to end (GOPs, raw and JPEG on the wire), on this
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
const detectorBatch = plan[0]?.kind === 'cpu' ? config.detector.cpuBatchMax : config.detector.batchMax;
const detectorConfig = detectorShape.sessions === 1
  ? `1x${detectorShape.threads}-b${detectorBatch}`
  : `${detectorShape.sessions}x${detectorShape.threads}-b${detectorBatch}-workers`;
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

console.log('ffmpeg decode CPU per frame (the processor\'s decode: raw and JPEG out, 1 thread and ffmpeg\'s default) ...');
const decodes = [];
for (const [output, threads] of [['bgr24', 1], ['bgr24', 'auto'], ['jpeg', 1], ['jpeg', 'auto']] as const) decodes.push(await measureDecodeCpu(video, box, output, threads));
const decodeRaw = decodes.reduce((a, b) => (b.output === 'bgr24' && b.cpuMsPerFrame < a.cpuMsPerFrame ? b : a));

console.log('the naive loop a user would write ...');
const naive = await runNaiveLoop(video, config.model.path, box, labels, config.detector.minScore);

console.log('vdet detect (one process) ...');
const detectOut = path.join(os.tmpdir(), `vdet-bench-detect-${process.pid}.jsonl`);
const detect = await runVdetDetect(video, detectOut, { VDET_MODEL: config.model.path });

// The same upload three ways: whole GOPs (the default: the detector decodes), raw pixels, JPEG files.
const wires = [
  { env: 'video', name: 'vdet service, whole GOPs on the wire (default)', column: 'GOPs' },
  { env: 'raw', name: 'vdet service, raw frames on the wire', column: 'raw' },
  { env: 'jpeg', name: 'vdet service, JPEG frames on the wire', column: 'JPEG' },
] as const;
const runs: Awaited<ReturnType<typeof runEndToEnd>>[] = [];
for (const wire of wires) {
  console.log(`end to end (four roles, local stack), ${wire.name.replace('vdet service, ', '')} ...`);
  runs.push(await runEndToEnd(video, 480_000, { VDET_WIRE_FORMAT: wire.env }));
}
const e2e = runs[0]!;
const fpsOf = (r: typeof e2e) => r.frames / (r.e2eMs / 1000);
const ceiling = compareWithCeiling({
  cores,
  bestModelFps: Math.max(...raw.map((r) => r.modelDecodeFps)),
  bestModelConfig: raw.reduce((a, b) => (b.modelDecodeFps > a.modelDecodeFps ? b : a)).key,
  decode: decodeRaw,
  naiveFps: naive.fps,
  detect,
  services: wires.map((wire, i) => ({ name: wire.name, fps: fpsOf(runs[i]!), cpuSeconds: runs[i]!.cpuSeconds, frames: runs[i]!.results })),
});
const decodeTable = ['| ffmpeg out | threads | CPU ms/frame | wall frames/s | bytes/frame |', '| --- | --- | --- | --- | --- |',
  ...decodes.map((d) => `| ${d.output} | ${d.threads} | ${d.cpuMsPerFrame.toFixed(2)} | ${d.wallFps.toFixed(0)} | ${Math.round(d.bytesPerFrame)} |`)].join('\n');
const processes = [...new Set(runs.flatMap((r) => Object.keys(r.cpuSeconds)))];
const rawCpu = [`| process | ${wires.map((w) => `CPU s, ${w.column} wire`).join(' | ')} |`, `| --- |${wires.map(() => ' --- |').join('')}`,
  ...processes.map((k) => `| ${k} | ${runs.map((r) => (r.cpuSeconds[k] ?? 0).toFixed(1)).join(' | ')} |`)].join('\n');
const ceilingSection = `## Against the ceiling and the peers (issue: the data plane)

All in this run, on the same cores. ${renderCeiling(ceiling, { service: wires[0].name })}

The processor's decode, each way it can run (CPU of ffmpeg, from this process's reaped children):

${decodeTable}

CPU seconds of every process during each service run (${e2e.frames} frames; the model's own work is inside "detector"):

${rawCpu}

`;

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
const summaryWithCeiling = { ...summary, ceiling, naive, decodes, detectFps: detect.fps, e2eFpsByWire: Object.fromEntries(wires.map((w, i) => [w.env, fpsOf(runs[i]!)])) };

const tables = renderTables(summary, raw);
await mkdir('bench-results', { recursive: true });
await writeFile('bench-results/latest.json', `${JSON.stringify(summaryWithCeiling, null, 2)}\n`);
await writeFile('docs/benchmarks.md', renderDoc(summary, tables).replace('## Raw model', `${ceilingSection}## Raw model`));
const busy = loadAvg1mAtStart > cores
  ? `\nwarning: the machine was already busy when the bench started (load average ${summary.machine.loadAvg1mAtStart} on ${cores} cores): the numbers are low\n`
  : '';
console.log(`\n${ceilingSection}\n${tables}\n${busy}\nwritten: bench-results/latest.json, docs/benchmarks.md (${summary.benchSeconds} s)`);
console.log(JSON.stringify(summaryWithCeiling));
