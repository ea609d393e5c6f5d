import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { makeBatchDynamic } from './src/detector/model-batch.ts';
const orig = new Uint8Array(readFileSync('/work/shared/models/yolox_nano.onnx'));
const dyn = makeBatchDynamic(orig).model;
const FR = 3*416*416;
const opts = { executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const data = new Float32Array(16*FR); for (let i=0;i<data.length;i++) data[i]=(i*2654435761>>>24);
async function bench(label, model, b, frames=160) {
  const s = await ort.InferenceSession.create(model, opts);
  const t = new ort.Tensor('float32', data.subarray(0,b*FR), [b,3,416,416]);
  for (let i=0;i<3;i++) await s.run({images:t});
  const times=[];
  for (let rep=0; rep<3; rep++) {
    const t0=performance.now(); const n=Math.ceil(frames/b);
    for (let i=0;i<n;i++) await s.run({images:t});
    times.push((performance.now()-t0)/(n*b));
  }
  times.sort((a,b)=>a-b);
  console.log(label, 'batch', b, 'per-frame ms (min/median of 3):', times[0].toFixed(2), times[1].toFixed(2));
  await s.release();
}
const order = process.argv[2]==='rev' ? [8,4,2,1] : [1,2,4,8];
await bench('original', orig, 1);
for (const b of order) await bench('dynamic ', dyn, b);
await bench('original', orig, 1);
