/**
 * Which devices the detector runs on (VDET_DEVICES), decided once at start-up. Pure: the caller passes in what it
 * found about the machine (core count, visible CUDA devices), so every rule here is testable without a GPU.
 */
export type DeviceSpec =
  | { kind: 'cpu'; name: string; intraOpThreads: number }
  | { kind: 'cuda'; name: string; deviceId: number };

export interface MachineInfo {
  cpuCores: number;
  /** CUDA device ids this process may use (from CUDA_VISIBLE_DEVICES or nvidia-smi); empty when none. */
  cudaDevices: number[];
}

export function planDevices(spec: string, machine: MachineInfo): DeviceSpec[] {
  const cores = Math.max(1, machine.cpuCores);
  if (spec === 'auto') {
    if (machine.cudaDevices.length > 0) return machine.cudaDevices.map(cudaDevice);
    // Several sessions of a few threads each beat one session with every thread (docs/benchmarks.md: on 2 cores,
    // 2 × 1 thread runs ~1.7× the frames of 1 × 2): about one session per 4 cores, and at least 2 where there are 2.
    return cpuDevices(Math.min(cores, Math.max(2, Math.floor(cores / 4))), cores);
  }
  if (spec === 'cpu') return cpuDevices(1, cores);
  const cpu = /^cpu:(\d+)$/.exec(spec);
  if (cpu) {
    const sessions = Number(cpu[1]);
    if (sessions < 1) throw new RangeError('VDET_DEVICES cpu:N needs N ≥ 1');
    return cpuDevices(sessions, cores);
  }
  if (/^cuda:\d+(,cuda:\d+)*$/.test(spec)) {
    const ids = [...new Set(spec.split(',').map((d) => Number(d.slice('cuda:'.length))))];
    return ids.map(cudaDevice);
  }
  throw new RangeError(`VDET_DEVICES=${spec} is not auto, cpu, cpu:N or cuda:0,cuda:1,…`);
}

/** N CPU sessions share the cores: each gets an equal share of intra-op threads (at least one). */
function cpuDevices(sessions: number, cores: number): DeviceSpec[] {
  const threads = Math.max(1, Math.floor(cores / sessions));
  return Array.from({ length: sessions }, (_, i) => ({ kind: 'cpu' as const, name: `cpu:${i}`, intraOpThreads: threads }));
}

function cudaDevice(deviceId: number): DeviceSpec {
  return { kind: 'cuda', name: `cuda:${deviceId}`, deviceId };
}

/**
 * CUDA devices visible to this process: CUDA_VISIBLE_DEVICES when set (renumbered from 0, as CUDA does), else the
 * GPUs `nvidia-smi -L` lists.
 */
export function visibleCudaDevices(cudaVisibleDevices: string | undefined, nvidiaSmiList: string | undefined): number[] {
  if (cudaVisibleDevices !== undefined) {
    const entries = cudaVisibleDevices.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '-1');
    return entries.map((_, i) => i);
  }
  if (!nvidiaSmiList) return [];
  return nvidiaSmiList.split('\n').filter((line) => /^GPU \d+:/.test(line)).map((_, i) => i);
}
