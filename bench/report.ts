import type { BenchSummary } from './summary.js';
import type { RawResult } from './raw-model.js';

/** A Markdown table, padded so that it also reads well in a terminal. */
function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

const f1 = (v: number) => v.toFixed(1);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

export function renderTables(s: BenchSummary, raw: readonly RawResult[]): string {
  const rawTable = table(
    ['config', 'sessions x threads', 'batch', 'sessions run on', 'model frames/s', 'model+decode frames/s', 'event loop stall ms'],
    raw.map((r) => [
      r.key + (r.key === s.bestRawConfig ? ' (best)' : '') + (r.key === s.detectorConfig ? ' (detector)' : ''),
      `${r.sessions} x ${r.threadsPerSession}`, r.batch, r.placement, f1(r.modelFps), f1(r.modelDecodeFps), f1(r.eventLoopStallMs),
    ]),
  );
  const e2eTable = table(['end to end', 'value'], [
    ['video', `${s.video.width}x${s.video.height}, ${s.video.seconds} s, ${s.video.fps} fps, ${s.e2e.frames} frames, ${s.e2e.chunks} chunks`],
    ['upload first byte → job done', `${(s.e2e.e2eMs / 1000).toFixed(2)} s`],
    ['end-to-end frames/s', f1(s.e2eFps)],
    ['video seconds per wall second', s.videoSecondsPerSecond.toFixed(2)],
    ['best raw model frames/s', `${f1(s.bestRawFps)} (${s.bestRawConfig})`],
    ['ratio end-to-end ÷ raw (best)', s.ratio.toFixed(3)],
    ['detector frames/s (its results on Kafka): overall', f1(s.e2e.detectorSteadyFps)],
    ['  while the processor decodes / after it finished', `${f1(s.e2e.detectorWhileDecodingFps)} / ${f1(s.e2e.detectorAfterDecodingFps)}`],
    ['processor frames/s (frames ÷ decodeMs)', s.e2e.processorFps === null ? 'n/a' : f1(s.e2e.processorFps)],
    ['decoder alone frames/s (ffmpeg, processor filters, no Kafka)', f1(s.decodeAloneFps)],
  ]);
  const st = s.stageMs;
  const total = s.e2e.e2eMs;
  const stageTable = table(['stage', 'ms', 'of e2e', 'measured from'], [
    ['upload (multipart → GridFS, job created)', st.upload, pct(st.upload, total), 'bench clock → job createdAt'],
    ['queue (jobs topic → processor)', st.queue, pct(st.queue, total), 'createdAt → startedAt'],
    ['fetch upload + probe', st.fetchProbe, pct(st.fetchProbe, total), 'startedAt → decode start (log time − decodeMs)'],
    ['decode ∥ transfer ∥ inference', st.decodeAndDetect, pct(st.decodeAndDetect, total), 'decode start → last detector result on Kafka'],
    ['  of which: decode (processor decodeMs)', st.decode ?? 'n/a', st.decode === null ? '' : pct(st.decode, total), 'processor log "job split into chunks"'],
    ['  of which: inference (estimate)', st.inferenceEstimate, pct(st.inferenceEstimate, total), `frames ÷ ${s.detectorConfig} model+decode frames/s`],
    ['  of which: transfer / queueing / contention', st.transferQueueing, pct(st.transferQueueing, total), 'the rest of the phase'],
    ['  detector: first result after decode start', st.detectorFirstResult, '', 'Kafka timestamp of the first result'],
    ['  detector: still running after decode ended', st.detectorTailAfterDecode, '', 'last result − processor log time'],
    ['merge tail (last result → job done)', st.mergeTail, pct(st.mergeTail, total), 'Kafka timestamp → finishedAt'],
    ['  merge per chunk (result → merged), mean / max', `${st.mergePerChunkMean} / ${st.mergePerChunkMax}`, '', 'Kafka timestamp → job_chunks.mergedAt'],
  ]);
  const rssTable = table(['role', 'peak RSS (VmHWM)'], Object.entries(s.rssMb).map(([role, v]) => [role, `${v} MiB`]));
  const cpuTable = table(['process', 'CPU s during the job', 'of available'], [
    ...Object.entries(s.cpuSeconds).sort((a, b) => b[1] - a[1]).map(([name, v]) => [name, f1(v), pct(v, s.cpuSecondsAvailable)]),
    ['available (cores × job seconds)', f1(s.cpuSecondsAvailable), '100%'],
  ]);
  const w = s.wire;
  const wireTable = table([`one ${w.frameSize} letterboxed frame`, 'raw BGR (vdet)', `JPEG q${w.jpegQuality} (sharp)`], [
    ['bytes per frame', kb(w.rawBytes), `${kb(w.jpegBytes)} (${f1(w.compression)}x smaller)`],
    ['bytes per 16-frame chunk', mb(w.chunkRawBytes), mb(w.chunkJpegBytes)],
    ['processor: JPEG encode ms/frame', '0', w.jpegEncodeMs.toFixed(2)],
    ['processor: publish ms/frame (wall, acks=all)', w.rawPublishMs.toFixed(2), w.jpegPublishMs.toFixed(2)],
    ['processor: publish CPU ms/frame', w.rawPublishCpuMs.toFixed(2), w.jpegPublishCpuMs.toFixed(2)],
    ['detector: JPEG decode ms/frame', '0', w.jpegDecodeMs.toFixed(2)],
    ['detector: tensor fill ms/frame', w.tensorFillMs.toFixed(2), w.tensorFillMs.toFixed(2)],
    ['CPU ms/frame, processor + detector', w.rawPathCpuMs.toFixed(2), w.jpegPathCpuMs.toFixed(2)],
  ]);
  return [rawTable, e2eTable, stageTable, rssTable, cpuTable, wireTable].join('\n\n');
}

export function renderDoc(s: BenchSummary, tables: string): string {
  const m = s.machine;
  const w = s.wire;
  const [rawTable, e2eTable, stageTable, rssTable, cpuTable, wireTable] = tables.split('\n\n');
  const cheaper = w.rawPathCpuMs <= w.jpegPathCpuMs ? 'the raw path is the cheaper one' : 'the JPEG path is the cheaper one';
  return `# Benchmarks

Measured by \`npm run bench\` (scripts/bench.sh → bench/run.ts), which rewrites this page and
\`bench-results/latest.json\` on every run. Numbers below are from one run on ${s.date.slice(0, 10)}:

- machine: ${m.cpus} cores (${m.cpuModel}), no GPU (${m.gpu}), ${m.memoryGiB} GiB memory; Node ${m.node},
  onnxruntime-node ${m.onnxruntime}; 1-minute load average ${m.loadAvg1mAtStart} when the run started${m.loadAvg1mAtStart > m.cpus
    ? ` (above ${m.cpus}: other work shared the cores, and every number here is lower than the machine can do)` : ''} and ${m.loadAvg1mAtEnd} when
  it ended (that one includes the bench's own runs);
- model: yolox_nano.onnx at 416x416 on the CPU; frames: real letterboxed frames of the bench video, a
  ${s.video.width}x${s.video.height}, ${s.video.seconds} s, ${s.video.fps} fps tour made by \`../shared/media/make-tour.sh\`.

## Raw model

The model alone (\`loadBatchableSession\`, \`writeFrameToTensor\`, \`decodeYolox\`), no Kafka, no I/O: 96 frames a
run, five rounds over all configurations in turn, the best round of each. "one thread" runs every session on the
main event loop; "workers" gives each session a worker thread of its own, as the detector does. The stall column is
the median gap between turns of the main event loop while the model runs: onnxruntime-node runs a session
synchronously on the calling thread, so a session on the main thread holds up everything else there (in the
detector: Kafka fetches, produces and heartbeats) that long each time.

${rawTable}

## End to end

The four roles as four processes on the local stack (\`scripts/stack.sh up\`), a still image first as a warm-up,
then the video uploaded through the api and timed from the upload's first byte to the job's \`finishedAt\`.

${e2eTable}

Where the time went (consecutive phases; the indented rows split the one where decoding, transfer and inference
overlap; inference cannot be seen from outside the detector, so it is estimated from the raw numbers):

${stageTable}

Peak memory of each role (the processor's ffmpeg child not included):

${rssTable}

CPU time during the job (from /proc; the stack's services also serve anything else that uses them meanwhile):

${cpuTable}

## Wire format: raw pixels or JPEG between processor and detector

${wireTable}

Raw pixels cost no decode: the detector's only per-frame work before the model is the tensor fill (${w.tensorFillMs.toFixed(2)} ms).
JPEG at quality 90 would add ${w.jpegDecodeMs.toFixed(2)} ms of decoding there and ${w.jpegEncodeMs.toFixed(2)} ms of encoding in the processor, and the model would see lossy frames.
Raw pixels do cost on the wire: a raw frame is ${f1(w.compression)}x the bytes of a JPEG one, and publishing it through kafkajs costs the processor ${w.rawPublishCpuMs.toFixed(2)} ms of CPU against ${w.jpegPublishCpuMs.toFixed(2)} ms.
Counting both roles, ${cheaper} (${w.rawPathCpuMs.toFixed(2)} ms against ${w.jpegPathCpuMs.toFixed(2)} ms of CPU a frame; the broker's work is not counted).
For scale, the model takes ${(1000 / (s.rawFps[s.detectorConfig] ?? s.bestRawFps)).toFixed(1)} ms a frame here as the detector runs it (${s.detectorConfig}).
sharp reads the BGR bytes as RGB; the cost is the same.
`;
}
