import type { FrameDetections } from '../shared/contracts/messages.js';
import type { JobRecord, Store } from '../shared/mongo.js';

/** A job's stored frames in frame order through a cursor: one batch in memory at a time, whatever the job's length. */
export async function* jobFrames(store: Store, job: Pick<JobRecord, '_id' | 'tenant'>): AsyncGenerator<FrameDetections> {
  const cursor = store.frames
    .find({ tenant: job.tenant, jobId: job._id }, { projection: { _id: 0, frame: 1, ptsMs: 1, detections: 1 } })
    .sort({ frame: 1 })
    .batchSize(1000);
  try {
    for await (const row of cursor) yield { frame: row.frame, ptsMs: row.ptsMs, detections: row.detections };
  } finally {
    await cursor.close();
  }
}
