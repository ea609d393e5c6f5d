import type { FrameDetections } from '../shared/contracts/messages.js';
import { readFrames } from '../shared/frame-store.js';
import type { JobRecord, Store } from '../shared/mongo.js';

/** A job's stored frames in frame order, a bucket at a time: a few chunks in memory at once, whatever the job's length. */
export function jobFrames(store: Store, job: JobRecord): AsyncGenerator<FrameDetections> {
  return readFrames(store.frames, job);
}
