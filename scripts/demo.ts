import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { allDetections, submitJob, waitForJob } from '../tests/helpers/client.js';

const file = path.resolve(process.argv[2] ?? '../shared/media/videos/tour-640x360.mp4');
const options = process.argv[3] ? (JSON.parse(process.argv[3]) as object) : undefined;
const port = process.env['VDET_HTTP_PORT'] ?? '8080';
const base = `http://127.0.0.1:${port}`;
const key = process.env['VDET_BOOTSTRAP_KEY'] ?? `vdet_demo_${randomBytes(12).toString('hex')}`;
const api = { base, key };

const vdet = spawn(process.execPath, ['dist/src/cli.js', 'all'], {
  env: { ...process.env, VDET_HTTP_PORT: port, VDET_BOOTSTRAP_KEY: key, VDET_LOG_LEVEL: process.env['VDET_LOG_LEVEL'] ?? 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
vdet.on('exit', (code) => {
  if (code !== 0) {
    console.error(`vdet all exited with ${code}`);
    process.exit(1);
  }
});

for (let i = 0; ; i++) {
  const ready = await fetch(`${base}/readyz`).then((r) => r.ok).catch(() => false);
  if (ready) break;
  if (i > 300) throw new Error('vdet did not become ready in 60 s');
  await new Promise((r) => setTimeout(r, 200));
}

const started = Date.now();
const id = await submitJob(api, file, options);
console.log(`uploaded ${file}\njob ${id}`);
const job = await waitForJob(api, id, 3_600_000);
const seconds = (Date.now() - started) / 1000;
const frames = job.status === 'done' ? await allDetections(api, id) : [];
console.log(JSON.stringify({
  id: job.id,
  status: job.status,
  error: job.error,
  media: job.media,
  frames: frames.length,
  framesWithDetections: frames.filter((f) => f.detections.length > 0).length,
  counts: job.counts,
  wallSeconds: Number(seconds.toFixed(2)),
  framesPerSecond: Number((frames.length / seconds).toFixed(1)),
}, null, 2));
console.log(`\nAPI key (demo tenant): ${key}\n  curl -H 'Authorization: Bearer ${key}' ${base}/v1/jobs/${id}`);
console.log(`\njob:        ${base}/v1/jobs/${id}\ndetections: ${base}/v1/jobs/${id}/detections\napi docs:   ${base}/docs`);

if (process.stdout.isTTY) {
  console.log(`\nvdet keeps serving; Ctrl-C stops it. From another terminal, the client:\n  export VDET_API_URL=${base} VDET_API_KEY=${key}\n`
    + `  node dist/src/cli.js submit ../shared/media/videos/tour-640x360.mp4 --fps 5 --wait --out results.jsonl\n`
    + '  export VDET_STREAM_TOKEN=$(node dist/src/cli.js streams token cam-1)\n'
    + '  node dist/src/cli.js push ../shared/media/videos/tour-640x360.mp4 --stream cam-1 --fps 10');
  process.on('SIGINT', () => vdet.kill('SIGTERM'));
} else {
  vdet.kill('SIGTERM');
}
