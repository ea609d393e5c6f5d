import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { openLane, type Lane, type LaneSpec } from './model-lane.js';
import type { WorkerInput, WorkerReply, WorkerRequest } from './raw-worker.js';

/**
 * Raw model throughput: the model alone on the same real frames, no Kafka, no I/O. Each configuration splits the
 * machine's cores between its sessions; "one thread" runs every session on the main event loop, "workers" gives
 * each session a worker thread of its own (as the detector does, src/vision/onnx/session-worker.ts).
 */
export interface RawConfig {
  key: string;
  sessions: number;
  threadsPerSession: number;
  batch: number;
  placement: 'one thread' | 'workers';
}

export interface RawResult extends RawConfig {
  batchMode: string;
  /** Tensor fill + model run, frames/s (best of the repetitions). */
  modelFps: number;
  /** The same plus decodeYolox (score filter, NMS, box mapping) per frame. */
  modelDecodeFps: number;
  detectionsPerFrame: number;
  /** Median gap between turns of the main event loop while the model ran: how long the detector's Kafka I/O waits. */
  eventLoopStallMs: number;
}

/** Session shapes to try: every one with a batch of 1 and of `batchMax`; a shape of several sessions both ways. */
export function rawConfigs(shapes: readonly { sessions: number; threads: number }[], batchMax: number): RawConfig[] {
  const configs: RawConfig[] = [];
  for (const batch of [1, batchMax]) {
    for (const { sessions, threads } of shapes) {
      const base = { sessions, threadsPerSession: threads, batch };
      if (sessions === 1) configs.push({ key: `1x${threads}-b${batch}`, ...base, placement: 'one thread' });
      else {
        configs.push({ key: `${sessions}x${threads}-b${batch}-loop`, ...base, placement: 'one thread' });
        configs.push({ key: `${sessions}x${threads}-b${batch}-workers`, ...base, placement: 'workers' });
      }
    }
  }
  return configs;
}

type RunBatch = Lane['run'];

// Node 20 does not apply `--import tsx` to a worker's entry module, so the worker starts from JavaScript and loads
// its TypeScript through tsx's API.
const WORKER_ENTRY = new URL('./raw-worker.ts', import.meta.url).href;
const WORKER_BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})`
  + `.then((tsx) => tsx.tsImport(${JSON.stringify(WORKER_ENTRY)}, ${JSON.stringify(WORKER_ENTRY)}))`;

interface OpenedLanes {
  batchMode: string;
  lanes: RunBatch[];
  close(): Promise<void>;
}

async function openInThread(spec: LaneSpec, pool: readonly Uint8Array[], sessions: number): Promise<OpenedLanes> {
  const lanes: Lane[] = [];
  for (let i = 0; i < sessions; i++) lanes.push(await openLane(spec, pool));
  return {
    batchMode: lanes[0]!.batchMode,
    lanes: lanes.map((lane) => lane.run.bind(lane)),
    close: async () => {
      for (const lane of lanes) await lane.close();
    },
  };
}

async function openWorkers(spec: LaneSpec, pool: readonly Uint8Array[], sessions: number): Promise<OpenedLanes> {
  const frameBytes = pool[0]!.length;
  const shared = new SharedArrayBuffer(frameBytes * pool.length);
  pool.forEach((frame, i) => new Uint8Array(shared, i * frameBytes, frameBytes).set(frame));
  const workerData: WorkerInput = { spec, pool: shared, frameBytes, frames: pool.length };
  const workers: Worker[] = [];
  let batchMode = '';
  for (let i = 0; i < sessions; i++) {
    const worker = new Worker(WORKER_BOOTSTRAP, { eval: true, workerData });
    workers.push(worker);
    const [ready] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([e]) => { throw e; })])) as [WorkerReply];
    if ('ready' in ready) batchMode = ready.batchMode;
  }
  let nextId = 0;
  const lanes = workers.map((worker): RunBatch => (first, count, decode) => new Promise((resolve, reject) => {
    const id = nextId++;
    const onReply = (reply: WorkerReply) => {
      if (!('id' in reply) || reply.id !== id) return;
      worker.off('message', onReply);
      if ('error' in reply) reject(new Error(reply.error));
      else resolve(reply.found);
    };
    worker.on('message', onReply);
    worker.postMessage({ id, first, count, decode } satisfies WorkerRequest);
  }));
  return { batchMode, lanes, close: async () => void (await Promise.all(workers.map((w) => w.terminate()))) };
}

/** Records the gaps between turns of the event loop (a 1 ms timer): a synchronous model run shows as one long gap. */
function loopGaps() {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  return { gaps, stop: () => clearInterval(timer) };
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Runs `total` frames through the lanes (each pulls the next batch when free); returns wall ms and detections. */
async function timeFrames(lanes: readonly RunBatch[], batch: number, total: number, decode: boolean) {
  let next = 0;
  let found = 0;
  const started = performance.now();
  await Promise.all(lanes.map(async (run) => {
    while (next < total) {
      const first = next;
      next += batch;
      const detections = await run(first, Math.min(batch, total - first), decode); // not `found += await`: lanes interleave
      found += detections;
    }
  }));
  return { ms: performance.now() - started, found };
}

/**
 * Opens every session once (batches up to `batchMax`), then measures the configurations in turns, `repetitions`
 * rounds of all of them, keeping each one's best: a burst of other work on the machine then spoils one round of
 * every configuration rather than every round of one.
 */
export async function measureRawModel(pool: readonly Uint8Array[], spec: Omit<LaneSpec, 'threads' | 'maxBatch'>,
  options: { shapes: readonly { sessions: number; threads: number }[]; batchMax: number; framesPerRun: number; repetitions: number }): Promise<RawResult[]> {
  const configs = rawConfigs(options.shapes, options.batchMax);
  const groups = new Map<string, OpenedLanes>();
  const groupOf = (c: RawConfig) => `${c.sessions}x${c.threadsPerSession} ${c.placement}`;
  try {
    for (const config of configs) {
      if (groups.has(groupOf(config))) continue;
      const laneSpec = { ...spec, threads: config.threadsPerSession, maxBatch: options.batchMax };
      const opened = config.placement === 'workers'
        ? await openWorkers(laneSpec, pool, config.sessions)
        : await openInThread(laneSpec, pool, config.sessions);
      groups.set(groupOf(config), opened);
      await timeFrames(opened.lanes, options.batchMax, options.batchMax * config.sessions * 2, true); // warm-up
    }
    const runs = configs.map((config) => ({
      config, lanes: groups.get(groupOf(config))!, model: Infinity, decode: Infinity, found: 0,
      gaps: [] as number[],
    }));
    for (let rep = 0; rep < options.repetitions; rep++) {
      for (const run of runs) {
        const ticks = loopGaps();
        run.model = Math.min(run.model, (await timeFrames(run.lanes.lanes, run.config.batch, options.framesPerRun, false)).ms);
        const withDecode = await timeFrames(run.lanes.lanes, run.config.batch, options.framesPerRun, true);
        ticks.stop();
        run.gaps.push(...ticks.gaps);
        run.decode = Math.min(run.decode, withDecode.ms);
        run.found = withDecode.found;
      }
      console.log(`  raw round ${rep + 1}/${options.repetitions} done`);
    }
    return runs.map((run) => ({
      ...run.config,
      batchMode: run.lanes.batchMode,
      modelFps: options.framesPerRun / (run.model / 1000),
      modelDecodeFps: options.framesPerRun / (run.decode / 1000),
      detectionsPerFrame: run.found / options.framesPerRun,
      eventLoopStallMs: median(run.gaps),
    }));
  } finally {
    for (const opened of groups.values()) await opened.close();
  }
}
