import diagnostics from 'node:diagnostics_channel';
import { ChunkOutcome, type ChunkDone, type TrackMore } from '../contracts/messages.js';
import { tracksObjects } from '../contracts/job-options.js';
import { withObjects } from '../contracts/summary.js';
import { deadLetterThen } from '../kafka/dead-letter.js';
import { toFailureReason } from '../platform/errors.js';
import type { ConsumerHandle, IncomingMessage, KafkaBus } from '../kafka/bus.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import type { JobStore } from '../store/job-store.js';
import type { JobMergeStore } from '../store/job-merge-store.js';
import type { StreamStore } from '../store/stream-store.js';
import type { ApiKeyStore } from '../store/api-keys.js';
import { metrics } from '../platform/metrics.js';
import type { JobRecord } from '../store/job-record.js';
import { trackOnlyOf, type ChunkToTrack, type TrackingStore } from '../store/track-store.js';
import { combineSegments, objectsPerLabel, restoreZones, zoneSettingsOf, type TrackOnlyFrame, type TrackSegment } from '../results/tracks.js';
import { resolveTrackerOptions } from '../contracts/tracker-options.js';
import type { JobEvent, ProgressStore } from '../live/progress.js';
import { groupId, type TopicNames } from '../contracts/topics.js';
import { combineSummaries, countsOf, isComplete, summarizeFrames } from '../results/merge-rules.js';
import { publishStreamFrames } from './stream-merge.js';
import { CachedStreamTrackingStore } from './stream-tracking-cache.js';
import { createRetention, type RetentionStore } from './retention.js';
import { WebhookOutbox } from './webhooks.js';
import type { WebhookOutboxStore } from '../store/webhook-outbox.js';
import { trackingStep } from './tracking-step.js';
import { buildAddressPolicy } from '../platform/address-policy.js';

/**
 * Published (node:diagnostics_channel, free when nobody listens) once a chunk's results are in MongoDB and before its
 * offset is committed: where the fault suite kills the merger (tests/helpers/crash-after-write.mjs), never a setting.
 */
export const CHUNK_WRITTEN_CHANNEL = 'vdet:merger:chunk-written';
export interface ChunkWritten { jobId: string; chunk: number }
const chunkWritten = diagnostics.channel(CHUNK_WRITTEN_CHANNEL);

/** What the merger uses, each store behind its port (merger/main.ts builds the MongoDB and Redis ones). */
export interface MergerDeps {
  config: Config;
  log: Logger;
  bus: KafkaBus;
  topics: TopicNames;
  jobs: JobStore;
  /** Distinct chunks counted in Redis, and the job events the api relays. */
  progress: ProgressStore;
  /** The job's merged chunks: their writes, counts and parts, and a done job's tracks and label pages. */
  merges: JobMergeStore;
  /** Where each tracked job's tracking stands. */
  tracking: TrackingStore;
  /** Streams: their counters, stored frames and tracking records. */
  streams: StreamStore;
  webhookOutbox: WebhookOutboxStore;
  /** Webhooks are signed with the tenant's secret. */
  apiKeys: ApiKeyStore;
  retention: RetentionStore;
}

/**
 * The merger role: stores each chunk's detections with idempotent writes (one document per frame, one per chunk),
 * counts progress by distinct chunks, and completes a job once its plan's every chunk is in. It also reaps jobs that
 * stopped moving, so that every job ends.
 */
export function createMerger(deps: MergerDeps) {
  const { config, log, bus, merges, jobs, progress, topics, tracking } = deps;
  let consumer: ConsumerHandle | undefined;
  let reaper: NodeJS.Timeout | undefined;
  const webhooks = new WebhookOutbox(deps.webhookOutbox, deps.apiKeys, log, {
    policy: buildAddressPolicy(config.http.webhookAllowPrivate, config.http.webhookAllowHosts).policy,
  });
  const streamTracking = new CachedStreamTrackingStore(deps.streams.tracking);
  const streamDeps = { ...deps, tracking: streamTracking };
  // A running job's record is touched (progress, updatedAt for the reaper) at most this often, not at every chunk.
  const touches = new TouchThrottle(Math.min(2_000, (config.merger.jobStallS * 1000) / 5));
  const retention = createRetention(deps.retention, config.retention, log);

  async function handle(message: IncomingMessage): Promise<void> {
    const outcome = ChunkOutcome.decode(message.value);
    switch (outcome.kind) {
      case 'chunk':
        await mergeChunk(outcome);
        break;
      case 'chunk-failed':
        if (await jobs.fail(outcome.jobId, outcome.error)) await publish(outcome.jobId, { type: 'failed', status: 'failed' });
        break;
      case 'plan': // the processor stored the plan before it sent this (it owns it): only the completion is checked here
        await completeIfDone(outcome.jobId);
        break;
      case 'stream':
        await publishStreamFrames(streamDeps, outcome);
        break;
      case 'track':
        await continueTracking(outcome);
        break;
    }
  }

  async function mergeChunk(chunk: ChunkDone): Promise<void> {
    const job = await jobs.getById(chunk.jobId);
    if (!job || job.status === 'done' || job.status === 'failed') return; // cancelled or already ended
    // Stored under the job's own tenant, never the one the message names: a forged outcome lands nowhere but its job.
    if (chunk.tenant !== job.tenant) log.warn({ jobId: job._id, messageTenant: chunk.tenant }, 'chunk outcome disagrees with the stored job; the stored job wins');
    const tracks = tracksObjects(job.options);
    const trackOnly = tracks ? trackOnlyOf(chunk.frames) : undefined;
    // When this merge wrote the chunk (not a redelivery's), the chunk in hand is what is stored: tracking need not read it.
    const { first, storedFrames } = await merges.writeChunk({
      jobId: chunk.jobId, tenant: job.tenant, chunk: chunk.chunk, frames: chunk.frames, summary: summarizeFrames(chunk.frames), trackOnly,
    });
    if (chunkWritten.hasSubscribers) chunkWritten.publish({ jobId: chunk.jobId, chunk: chunk.chunk } satisfies ChunkWritten);
    metrics.framesMerged.inc({ source: 'job' }, chunk.frames.length);
    if (tracks) {
      const known = first && storedFrames ? new Map([[chunk.chunk, chunkToTrack(storedFrames, trackOnly)]]) : undefined;
      await track(job, { onlyAt: chunk.chunk, known });
    }
    const framesDone = await framesDoneOf(chunk);
    // Redis' count of distinct chunks' frames says when the job may be complete; only then are its chunks counted in
    // MongoDB (a count of this job's chunks, once, not at every chunk). A count that cannot be trusted any more (this
    // chunk missed Redis, or Redis restarted empty: its count fell below what was recorded) marks the job, and its
    // completion is then checked in MongoDB at every chunk; the reaper remains the last resort.
    const redisBehind = job.progressFromStore === true || !framesDone.fromRedis || framesDone.frames < job.progress.framesDone;
    const marks = redisBehind && job.progressFromStore !== true;
    const last = !job.plan || framesDone.frames >= job.plan.frames;
    if (marks || last || touches.due(chunk.jobId)) await jobs.touch(chunk.jobId, framesDone.frames, marks);
    await publish(chunk.jobId, { type: 'progress', framesDone: framesDone.frames, framesTotal: job.plan?.frames ?? job.progress.framesTotal });
    if (!job.plan || redisBehind || framesDone.frames >= job.plan.frames) await completeIfDone(chunk.jobId);
  }

  /**
   * A tracking step of the job (see tracking-step.ts); when it stopped at its bound, a `track` message on the job's
   * partition carries on (sent before this message is committed). Completes the job when it tracked the last chunk.
   */
  async function track(job: JobRecord, options: { onlyAt: number; known?: ReadonlyMap<number, ChunkToTrack> | undefined }): Promise<number> {
    const step = await trackingStep(tracking, { jobId: job._id, tenant: job.tenant, options: resolveTrackerOptions(job.options.tracking), zones: zoneSettingsOf(job.options) }, {
      onlyAt: options.onlyAt, ...(options.known ? { known: options.known } : {}),
    });
    if (step.more) {
      const more: TrackMore = { v: 1, kind: 'track', jobId: job._id, tenant: job.tenant, chunk: step.nextChunk };
      await bus.send(topics.detections, [{ key: job._id, value: ChunkOutcome.encode(more) }]);
    } else if (step.tracked > 0 && (!job.plan || step.nextChunk >= job.plan.chunks)) { // the plan may have come meanwhile
      await completeIfDone(job._id);
    }
    return step.tracked;
  }

  /** A `track` message: the job's tracking goes on where its last step stopped. */
  async function continueTracking(message: TrackMore): Promise<void> {
    const job = await jobs.getById(message.jobId);
    if (!job || job.status !== 'running' || !tracksObjects(job.options)) return;
    if ((await track(job, { onlyAt: message.chunk })) > 0) await jobs.touch(job._id, job.progress.framesDone);
  }

  /** Distinct frames merged so far: from Redis when it answers, else rebuilt from MongoDB. */
  async function framesDoneOf(chunk: ChunkDone): Promise<{ frames: number; fromRedis: boolean }> {
    try {
      return { frames: await progress.recordChunk(chunk.jobId, chunk.chunk, chunk.frames.length), fromRedis: true };
    } catch (error) {
      log.warn({ jobId: chunk.jobId, err: error }, 'redis unavailable; progress from MongoDB');
      return { frames: await mergedFrames(chunk.jobId), fromRedis: false };
    }
  }

  async function mergedFrames(jobId: string): Promise<number> {
    return (await merges.parts(jobId, false)).reduce((sum, p) => sum + p.frames, 0);
  }

  /** Completes the job when every chunk of its plan is merged; true when it is done (now or before). */
  async function completeIfDone(jobId: string): Promise<boolean> {
    const job = await jobs.getById(jobId);
    if (job?.status === 'done') return true;
    if (!job || job.status !== 'running' || !job.plan) return false;
    const merged = await merges.mergedChunks(jobId);
    if (!isComplete(job.plan, merged)) return false;
    const tracks = tracksObjects(job.options);
    const tracked = tracks ? await tracking.record(jobId) : undefined;
    if (tracks && (tracked?.nextChunk ?? 0) < job.plan.chunks) return false; // done once tracked too
    const parts = await merges.parts(jobId, tracks);
    const framesDone = parts.reduce((sum, p) => sum + p.frames, 0);
    let summary = combineSummaries(parts.map((p) => p.summary));
    const result: Parameters<typeof jobs.finish>[1] = { counts: countsOf(summary), summary, framesDone };
    if (tracks) {
      const segments = parts.flatMap((p) => (p.tracks ? (JSON.parse(p.tracks) as TrackSegment[]) : []));
      const all = combineSegments(segments);
      await merges.storeTracks(job, all); // before the job is done: whoever reads a done job finds its tracks
      const objects = objectsPerLabel(all);
      summary = withObjects(summary, objects);
      Object.assign(result, { summary, objects, tracks: { count: all.length, lastTrackId: all.at(-1)?.trackId ?? 0, paged: true } });
      const zones = zoneSettingsOf(job.options);
      if (zones) result.zones = restoreZones(tracked?.zones, zones).report();
    }
    if (await jobs.finish(jobId, result)) {
      metrics.jobsFinished.inc({ status: 'done' });
      metrics.jobDurationSeconds.observe((Date.now() - job.createdAt.getTime()) / 1000);
      log.info({ jobId, frames: framesDone, chunks: merged }, 'job done');
      await publish(jobId, { type: 'done', status: 'done' });
      indexLabels(jobId);
    }
    return true;
  }

  /** A done job's rare labels get their pages (label-pages.ts) in the background, one job at a time. */
  let labelIndexing: Promise<void> = Promise.resolve();
  function indexLabels(jobId: string): void {
    labelIndexing = labelIndexing.then(async () => {
      const labels = await merges.indexRareLabels(jobId);
      if (labels > 0) log.debug({ jobId, labels }, 'rare labels paged');
    }).catch((error: unknown) => log.warn({ err: error, jobId }, 'rare labels not paged; their pages read the chunks'));
  }

  /** Chunks of the job tracked so far (the tracking record's next chunk). */
  async function trackedChunks(jobId: string): Promise<number> {
    return (await tracking.record(jobId))?.nextChunk ?? 0;
  }

  async function publish(jobId: string, event: JobEvent): Promise<void> {
    await progress.publish(jobId, event).catch(() => undefined); // live events are best effort; MongoDB is the record
  }

  async function reap(): Promise<void> {
    const before = new Date(Date.now() - config.merger.jobStallS * 1000);
    for (const job of await jobs.stalled(before)) {
      if (await completeIfDone(job._id)) continue; // every chunk is in (Redis had lost count): done, not stalled
      const tracked = job.plan && tracksObjects(job.options) ? await trackedChunks(job._id) : undefined;
      const behind = tracked !== undefined && job.plan && tracked < job.plan.chunks ? ` (tracking stopped at chunk ${tracked} of ${job.plan.chunks})` : '';
      const failed = await jobs.fail(job._id, {
        code: 'VDET_JOB_STALLED',
        message: `The job made no progress for ${config.merger.jobStallS} s while ${job.status}${behind}.`,
      });
      if (failed) {
        log.warn({ jobId: job._id, status: job.status }, 'reaped a stalled job');
        await publish(job._id, { type: 'failed', status: 'failed' });
      }
    }
  }

  return {
    async start(): Promise<void> {
      consumer = await bus.consume({
        groupId: groupId(config.kafka.topicPrefix, 'merger'),
        topics: [topics.detections],
        concurrency: 4,
        handle,
        onGroupJoin: () => { // the streams' partitions may have moved: their records are read again
          streamTracking.clear();
          deps.streams.frames.forgetAll();
        },
        giveUp: deadLetterThen(bus, topics.dlq, log, async (message, error) => {
          if (message.key && (await jobs.getById(message.key)) && (await jobs.fail(message.key, toFailureReason(error)))) {
            await publish(message.key, { type: 'failed', status: 'failed' });
          }
        }),
      });
      reaper = setInterval(() => void reap().catch((error: unknown) => log.error({ err: error }, 'reaper failed')),
        config.merger.reaperIntervalS * 1000);
      reaper.unref();
      await webhooks.ensureIndexes();
      webhooks.start();
      retention.start();
      log.info('merger consuming chunk results');
    },
    async close(): Promise<void> {
      if (reaper) clearInterval(reaper);
      webhooks.stop();
      await consumer?.stop();
      await labelIndexing;
      await retention.stop();
    },
    reap,
    retention,
  };
}

function chunkToTrack(data: string, trackOnly: string | undefined): ChunkToTrack {
  return { frames: JSON.parse(data) as ChunkToTrack['frames'], trackOnly: trackOnly ? (JSON.parse(trackOnly) as TrackOnlyFrame[]) : [] };
}

/** Which jobs are due a touch: each at most once per `intervalMs` (the map stays bounded: old entries go first). */
class TouchThrottle {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  due(jobId: string): boolean {
    const now = Date.now();
    const at = this.last.get(jobId);
    if (at !== undefined && now - at < this.intervalMs) return false;
    this.last.delete(jobId);
    this.last.set(jobId, now);
    if (this.last.size > 10_000) this.last.delete(this.last.keys().next().value!);
    return true;
  }
}
