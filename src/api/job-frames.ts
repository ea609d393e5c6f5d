import type { FrameDetections } from '../contracts/messages.js';
import { readFrames } from '../store/frame-store.js';
import type { JobRecord } from '../store/job-record.js';
import type { Store } from '../store/mongo.js';

/** A job's stored frames in frame order, a bucket at a time: a few chunks in memory at once, whatever the job's length. */
export function jobFrames(store: Store, job: JobRecord): AsyncGenerator<FrameDetections> {
  return readFrames(store.frames, job);
}
