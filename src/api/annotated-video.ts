import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { renderAnnotated } from '../media/annotate.js';
import type { Config } from '../platform/config.js';
import { VdetError, isVdetError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { metrics } from '../platform/metrics.js';
import { copyUpload, type FileStore, type StoredFile } from '../store/file-store.js';
import type { JobResults } from '../store/job-results.js';
import type { JobStore } from '../store/job-store.js';
import type { JobRecord } from '../store/job-record.js';
import { mediaLimits } from '../media/ffmpeg.js';
import type { TenantQuotas } from './tenant-quotas.js';
import pLimit from 'p-limit';

/** Renders at once per api process; more wait their turn (each is an ffmpeg encoding on the CPU). */
const MAX_RENDERS = 2;

/**
 * A done job's video with its boxes and labels burned in, rendered once with ffmpeg from the stored detections and
 * kept in the store (`renderings`, named by the job id). Requests for a job whose rendering is under way in this
 * process share it. Two api processes may both render the same job; each stores its copy and the earlier-stored
 * one is the one served, so every reader sees the same bytes, and the later copy is deleted.
 */
export class AnnotatedVideos {
  private readonly inFlight = new Map<string, Promise<StoredFile>>();
  /** At most MAX_RENDERS renderings at once in this process, the others queued (ffmpeg takes a core each). */
  private readonly renderSlots = pLimit(MAX_RENDERS);

  constructor(private readonly deps: {
    uploads: Pick<FileStore, 'copyTo'>; renderings: FileStore; results: Pick<JobResults, 'frames'>; jobs: Pick<JobStore, 'getById'>;
    config: Config; log: Logger; quotas: Pick<TenantQuotas, 'startRender'>;
  }) {}

  /** The stored rendering of `job` (which must be done), rendering it first when there is none. */
  async get(job: JobRecord): Promise<{ file: StoredFile; cached: boolean }> {
    const stored = await this.find(job._id);
    if (stored) return { file: stored, cached: true };
    let pending = this.inFlight.get(job._id);
    if (!pending) {
      // Set before anything is awaited: the requests that come meanwhile share this rendering and its one lease.
      pending = (async () => {
        const lease = await this.deps.quotas.startRender(job.tenant); // one of the tenant's renders, on any replica
        try {
          return await this.renderSlots(() => this.renderAndStore(job));
        } finally {
          void lease.release();
        }
      })().finally(() => this.inFlight.delete(job._id));
      this.inFlight.set(job._id, pending);
    }
    return { file: await pending, cached: false };
  }

  /** The copy every reader gets: the first one stored (a files document exists only once all its chunks do). */
  async find(jobId: string): Promise<StoredFile | undefined> {
    return this.deps.renderings.first(jobId);
  }

  private async renderAndStore(job: JobRecord): Promise<StoredFile> {
    const again = await this.find(job._id); // stored while this request waited for a slot
    if (again) return again;
    const { uploads, renderings, results, config, log } = this.deps;
    const started = Date.now();
    await mkdir(config.processor.workDir, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(path.join(config.processor.workDir, 'annotate-'));
    try {
      const input = path.join(dir, 'upload');
      await copyUpload(uploads, job.uploadId, input);
      const output = path.join(dir, 'annotated.mp4');
      const media = job.media;
      if (!media) throw new VdetError('VDET_RENDER_FAILED', 'The job records no frame size to draw its boxes at.');
      const result = await renderAnnotated(input, results.frames(job), output, {
        width: media.width, height: media.height, sourceFps: media.fps, limits: mediaLimits(config.processor), workDir: dir,
      });
      const ours = await renderings.write(job._id, createReadStream(output), {
        tenant: job.tenant, jobId: job._id, contentType: 'video/mp4', frames: result.frames, labels: result.labels, renderMs: result.wallMs,
      });
      const first = await this.keepFirst(job, ours);
      const seconds = (Date.now() - started) / 1000;
      metrics.annotatedRenders.inc({ outcome: 'ok' });
      metrics.annotatedRenderSeconds.observe(seconds);
      log.info({ jobId: job._id, frames: result.frames, renderMs: result.wallMs, totalMs: Date.now() - started, bytes: first.length }, 'annotated video rendered');
      return first;
    } catch (error) {
      metrics.annotatedRenders.inc({ outcome: 'failed' });
      if (isVdetError(error)) throw error;
      throw new VdetError('VDET_RENDER_FAILED', 'The annotated video could not be rendered; the request can be retried.', { cause: error });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** After storing `ours`: the first copy (ours unless another process stored one earlier, then ours is deleted). */
  private async keepFirst(job: JobRecord, ours: string): Promise<StoredFile> {
    const first = await this.find(job._id);
    if (!first) throw new VdetError('VDET_RENDER_FAILED', 'The annotated video was stored but cannot be found.');
    if (first.id !== ours) await this.deps.renderings.delete(ours).catch(() => undefined);
    // Deleted while rendering: leave nothing behind.
    if (!(await this.deps.jobs.getById(job._id))) {
      await this.deps.renderings.deleteNamed(job._id);
      throw new VdetError('VDET_JOB_NOT_FOUND', 'The job was deleted while its annotated video was rendered.');
    }
    return first;
  }
}
