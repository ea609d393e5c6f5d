import { runEndToEnd } from './end-to-end.js';
import { ensureTourVideo } from './media.js';

/** Ad hoc (`node --import tsx bench/variants.ts '{"name":{"VDET_…":"…"}}'`): the service end to end under a few settings, GOPs on the wire; not part of npm run bench. */
const video = await ensureTourVideo();
const variants: Record<string, Record<string, string>> = JSON.parse(process.argv[2] ?? '{"default":{}}');
for (const [name, env] of Object.entries(variants)) {
  const r = await runEndToEnd(video, 480_000, { VDET_WIRE_FORMAT: 'video', ...env });
  const cpu = Object.values(r.cpuSeconds).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ name, fps: +(r.frames / (r.e2eMs / 1000)).toFixed(1), chunks: r.chunks, cpuMsPerFrame: +(cpu * 1000 / r.frames).toFixed(1), cpu: r.cpuSeconds }));
}
