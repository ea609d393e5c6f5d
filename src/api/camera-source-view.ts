import type { CameraLeaseStore } from '../store/camera-leases.js';
import { DEFAULT_CAMERA_FPS, redactedCameraUrl, type CameraSourceView } from '../contracts/camera.js';
import type { StreamRecord } from '../store/stream-store.js';

/** Where a stream's camera stands: its lease as last renewed by the processor pulling it, `waiting` when none does. */
export async function cameraSourceView(cameras: CameraLeaseStore, record: StreamRecord & { source: NonNullable<StreamRecord['source']> }): Promise<CameraSourceView> {
  const lease = await cameras.get(record._id);
  const live = lease && lease.expiresAt >= Date.now() ? lease : undefined;
  return {
    url: redactedCameraUrl(record.source.url),
    fps: record.source.fps ?? DEFAULT_CAMERA_FPS,
    state: live?.state ?? 'waiting',
    lastError: live?.lastError ?? null,
    since: live?.since ?? null,
    reconnects: live?.reconnects ?? 0,
    framesPulled: live?.framesPulled ?? 0,
    processor: live?.holder ?? null,
  };
}

