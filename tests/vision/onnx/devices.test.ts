import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planDevices, visibleCudaDevices } from '../../../src/vision/onnx/devices.js';

test('auto uses every visible GPU, else CPU sessions of a few threads each', () => {
  assert.deepEqual(planDevices('auto', { cpuCores: 2, cudaDevices: [0, 1] }).map((d) => d.name), ['cuda:0', 'cuda:1']);
  const threads = (cores: number) => planDevices('auto', { cpuCores: cores, cudaDevices: [] }).map((d) => d.kind === 'cpu' && d.intraOpThreads);
  assert.deepEqual(threads(1), [1]);
  assert.deepEqual(threads(2), [1, 1]);
  assert.deepEqual(threads(8), [4, 4]);
  assert.deepEqual(threads(16), [4, 4, 4, 4]);
});

test('cpu:N splits the cores between N sessions, at least one thread each', () => {
  assert.deepEqual(planDevices('cpu:2', { cpuCores: 8, cudaDevices: [] }).map((d) => d.kind === 'cpu' && d.intraOpThreads), [4, 4]);
  assert.deepEqual(planDevices('cpu:4', { cpuCores: 2, cudaDevices: [] }).map((d) => d.kind === 'cpu' && d.intraOpThreads), [1, 1, 1, 1]);
});

test('an explicit cuda list is used as given, without duplicates', () => {
  assert.deepEqual(planDevices('cuda:1,cuda:0,cuda:1', { cpuCores: 2, cudaDevices: [] }).map((d) => d.name), ['cuda:1', 'cuda:0']);
  assert.throws(() => planDevices('gpu', { cpuCores: 2, cudaDevices: [] }), /VDET_DEVICES/);
});

test('CUDA_VISIBLE_DEVICES wins over nvidia-smi and renumbers from 0', () => {
  const smi = 'GPU 0: NVIDIA H100 (UUID: GPU-1)\nGPU 1: NVIDIA H100 (UUID: GPU-2)\n';
  assert.deepEqual(visibleCudaDevices(undefined, smi), [0, 1]);
  assert.deepEqual(visibleCudaDevices('3', smi), [0]);
  assert.deepEqual(visibleCudaDevices('', smi), []);
  assert.deepEqual(visibleCudaDevices('-1', smi), []);
  assert.deepEqual(visibleCudaDevices(undefined, undefined), []);
});
