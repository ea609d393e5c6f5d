import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { agreement, type FrameResult } from '../tests/helpers/agreement.js';
import type { DecodeCpuResult } from './decode-cpu.js';

/**
 * The service against what bounds it and what a user would run instead, all measured in one bench run on the same
 * cores: the ceiling is cores ÷ (ffmpeg decode CPU + model CPU per frame) — what a perfect pipeline around decode
 * and model would reach; the peers are the naive loop a user would write and `vdet detect` (one process).
 */

export interface DetectRun {
  fps: number;
  frames: FrameResult[];
}

/** `vdet detect VIDEO --out FILE` as a user runs it (the built cli): its own frames/s line, and every frame it wrote. */
export async function runVdetDetect(video: string, out: string, env: Record<string, string>): Promise<DetectRun> {
  const cli = path.resolve('dist/src/cli.js');
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'detect', video, '--out', out], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (text += t));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`vdet detect exited ${code}: ${text}`))));
  });
  const rate = /(\d+) frames, \d+ detections in [\d.]+ s = ([\d.]+) frames\/s/.exec(stdout);
  if (!rate) throw new Error(`no frames/s line in vdet detect's output:\n${stdout}`);
  const frames = (await readFile(out, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as FrameResult);
  return { fps: Number(rate[2]), frames };
}

export interface CeilingInputs {
  cores: number;
  /** The model's best configuration (tensor fill + model + YOLOX decode), frames/s. */
  bestModelFps: number;
  bestModelConfig: string;
  decode: DecodeCpuResult;
  naiveFps: number;
  detect: DetectRun;
  services: { name: string; fps: number; cpuSeconds: Record<string, number>; frames: FrameResult[] }[];
}

export interface CeilingResult {
  modelCpuMsPerFrame: number;
  decodeCpuMsPerFrame: number;
  ceilingFps: number;
  rows: { what: string; fps: number; ofCeiling: number; ofNaive: number; cpuMsPerFrame?: number; ofDecodeModelCpu?: number; recall?: number; precision?: number }[];
}

export function compareWithCeiling(i: CeilingInputs): CeilingResult {
  // Every session of the best configuration keeps its core busy: CPU per frame is cores ÷ frames/s.
  const modelCpuMsPerFrame = (i.cores * 1000) / i.bestModelFps;
  const decodeCpuMsPerFrame = i.decode.cpuMsPerFrame;
  const perFrame = modelCpuMsPerFrame + decodeCpuMsPerFrame;
  const ceilingFps = (i.cores * 1000) / perFrame;
  const row = (what: string, fps: number) => ({ what, fps, ofCeiling: fps / ceilingFps, ofNaive: fps / i.naiveFps });
  const rows: CeilingResult['rows'] = [
    row(`the model alone (${i.bestModelConfig})`, i.bestModelFps),
    row('ceiling: cores ÷ (decode + model CPU per frame)', ceilingFps),
    row('naive loop (ffmpeg pipe → onnxruntime, await per frame, one process)', i.naiveFps),
    row('vdet detect (one process, no services)', i.detect.fps),
  ];
  for (const s of i.services) {
    const frames = s.frames.length;
    const cpu = Object.values(s.cpuSeconds).reduce((a, b) => a + b, 0);
    const cpuMsPerFrame = (cpu * 1000) / frames;
    const { recall, precision } = agreement(i.detect.frames, s.frames);
    rows.push({ ...row(s.name, s.fps), cpuMsPerFrame, ofDecodeModelCpu: cpuMsPerFrame / perFrame, recall, precision });
  }
  return { modelCpuMsPerFrame, decodeCpuMsPerFrame, ceilingFps, rows };
}

const f = (v: number | undefined, digits = 2) => (v === undefined ? '' : v.toFixed(digits));

export function renderCeiling(c: CeilingResult, targets: { service: string }): string {
  const header = '| what | frames/s | of ceiling | of naive loop | CPU ms/frame, all processes | of decode + model CPU | recall / precision vs vdet detect |';
  const lines = c.rows.map((r) => `| ${r.what} | ${r.fps.toFixed(1)} | ${f(r.ofCeiling)} | ${f(r.ofNaive)} | ${f(r.cpuMsPerFrame, 1)} | ${f(r.ofDecodeModelCpu)} | ${r.recall === undefined ? '' : `${f(r.recall, 3)} / ${f(r.precision, 3)}`} |`);
  const service = c.rows.find((r) => r.what === targets.service);
  const detect = c.rows.find((r) => r.what.startsWith('vdet detect'));
  const check = (ok: boolean) => (ok ? 'met' : 'not met');
  const verdicts = service && detect ? [
    `- service ≥ 0.85 × ceiling: ${f(service.ofCeiling)} — ${check(service.ofCeiling >= 0.85)}`,
    `- service ≥ 1.2 × naive loop: ${f(service.ofNaive)} — ${check(service.ofNaive >= 1.2)}`,
    `- vdet detect ≥ 0.95 × ceiling: ${f(detect.ofCeiling)} — ${check(detect.ofCeiling >= 0.95)}`,
    `- CPU per frame over every process ≤ 1.3 × (decode + model): ${f(service.ofDecodeModelCpu)} — ${check((service.ofDecodeModelCpu ?? 9) <= 1.3)}`,
    `- detections agree with vdet detect's raw path (recall and precision ≥ 0.99): ${f(service.recall, 3)} / ${f(service.precision, 3)} — ${check((service.recall ?? 0) >= 0.99 && (service.precision ?? 0) >= 0.99)}`,
  ] : [];
  return [
    `decode: ffmpeg as the processor runs it, ${c.decodeCpuMsPerFrame.toFixed(2)} ms CPU a frame; model: ${c.modelCpuMsPerFrame.toFixed(2)} ms CPU a frame (cores ÷ the best configuration's frames/s).`,
    '',
    header,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
    '',
    'The issue\'s targets, from this run:',
    '',
    ...verdicts,
  ].join('\n');
}
