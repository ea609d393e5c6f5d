import type { StreamSettings } from '../contracts/stream.js';

/** What the processor remembers per stream between frames. */
export interface AdmissionState {
  lastAcceptedTs: number | undefined;
}

export type Admission = 'accept' | 'drop-lag' | 'drop-fps';

/** drop-oldest's lag bound when a stream sets none: with it, results stay within about a second under overload. */
export const DEFAULT_MAX_LAG_MS = 500;

/**
 * Whether a pushed frame is detected or dropped (pure): `drop-oldest` skips frames that waited longer than the
 * stream's maxLagMs (so a stream that fell behind catches up on its newest frames), and an fps cap skips frames
 * closer than 1/fpsCap to the last one accepted. `lossless` streams without a cap keep every frame.
 */
export function admitFrame(settings: StreamSettings, state: AdmissionState, frame: { ts: number; now: number }): Admission {
  if (settings.policy === 'drop-oldest' && frame.now - frame.ts > (settings.maxLagMs ?? DEFAULT_MAX_LAG_MS)) return 'drop-lag';
  if (settings.fpsCap !== undefined && state.lastAcceptedTs !== undefined && frame.ts - state.lastAcceptedTs < 1000 / settings.fpsCap - 0.5) {
    return 'drop-fps';
  }
  state.lastAcceptedTs = frame.ts;
  return 'accept';
}

/** A stream's frames cut into chunks of at most `max` frames, in order; a chunk's frames share one image size. */
export function chunkRuns<T extends { contentWidth: number; contentHeight: number }>(frames: readonly T[], max: number): T[][] {
  const runs: T[][] = [];
  for (const frame of frames) {
    const run = runs.at(-1);
    if (run && run.length < max && run[0]!.contentWidth === frame.contentWidth && run[0]!.contentHeight === frame.contentHeight) run.push(frame);
    else runs.push([frame]);
  }
  return runs;
}
