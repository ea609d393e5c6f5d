import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { isFinished } from '../../store/job-state.js';
import type { Detection, FrameDetections } from '../../contracts/messages.js';
import { combineSummaries, withObjects } from '../../contracts/summary.js';
import { tracksObjects } from '../../contracts/job-options.js';
import { objectsPerLabel, type TrackSegment } from '../../results/tracks.js';
import type { JobEvent } from '../../live/progress.js';
import type { ApiDeps } from '../deps.js';
import type { EventHub } from '../../live/event-hub.js';
import type { TenantQuotas } from '../tenant-quotas.js';
import { problems } from '../problem.js';
import { DetectionsPageSchema, DetectionsQuery, JobIdParams, SummarySchema } from '../schemas.js';
import { ownedJob } from './jobs.js';
import { jobTrackRoutes } from './job-tracks.js';
import { cursorInteger, pageCursor } from '../../platform/page-cursor.js';
import { openEventStream } from '../event-stream.js';


const frameCursor = pageCursor('f', 1); // after this frame

export const jobResultRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'jobs' | 'results'> & { events: EventHub; quotas: Pick<TenantQuotas, 'openEventStream'> }> = async (app, deps) => {
  const { results, jobs } = deps;
  await app.register(jobTrackRoutes, deps);

  app.get('/v1/jobs/:id/detections', {
    schema: {
      summary: 'Detections of a job, frame by frame, in frame order',
      description: 'Boxes are `[x1, y1, x2, y2]` in original-frame pixels. Follow `next` as `cursor` for the next page. '
        + '`label`, `minScore` and `trackId` narrow the detections and leave out frames with none left. With tracking '
        + 'on (job option `track`, the default) the detections of a confirmed track carry its `trackId` once their '
        + 'frames are tracked (every frame, once the job is done).',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      querystring: DetectionsQuery,
      response: { 200: DetectionsPageSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    const { limit, cursor, label, minScore, fromMs, toMs, trackId } = request.query;
    const narrowed = label !== undefined || minScore !== undefined || trackId !== undefined;
    const keep = (d: Detection) => (label === undefined || d.label === label) && (minScore === undefined || d.score >= minScore)
      && (trackId === undefined || d.trackId === trackId);
    let after = cursor === undefined ? -1 : cursorInteger(frameCursor.decode(cursor)[0]!, 10);
    let lastFrame = Infinity;
    if (trackId !== undefined && job.tracks) {
      // A done job knows each track's frames: read only those.
      const track = await results.track(job, trackId);
      if (!track) return { items: [], next: null };
      after = Math.max(after, track.firstFrame - 1);
      lastFrame = track.lastFrame;
    }
    const rows: FrameDetections[] = [];
    // Frames with none of the wanted detections left are skipped, reading on until the page is full.
    for await (const row of results.frames(job, { after, fromMs, toMs, label })) {
      if (row.frame > lastFrame) break;
      const detections = narrowed ? row.detections.filter(keep) : row.detections;
      if (narrowed && detections.length === 0) continue;
      rows.push({ frame: row.frame, ptsMs: row.ptsMs, detections });
      if (rows.length > limit) break;
    }
    const items = rows.slice(0, limit);
    const next = rows.length > limit ? frameCursor.encode(items[items.length - 1]!.frame) : null;
    return { items, next };
  });

  app.get('/v1/jobs/:id/summary', {
    schema: {
      summary: 'Per label: detections, frames with it, most in one frame, first and last seen, and (tracking on) distinct objects',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      response: { 200: SummarySchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    let labels = job.summary;
    if (!labels) {
      // Not done yet: combine what the merger has so far (objects: the tracks of the chunks tracked so far).
      const tracks = tracksObjects(job.options);
      const parts = await results.chunkParts(job._id, tracks);
      labels = combineSummaries(parts.map((p) => p.summary));
      if (tracks) labels = withObjects(labels, objectsPerLabel(parts.flatMap((p) => (p.tracks ? (JSON.parse(p.tracks) as TrackSegment[]) : []))));
    }
    return { id: job._id, status: job.status, labels, ...(job.zones ?? {}) };
  });

  app.get('/v1/jobs/:id/events', {
    schema: {
      summary: 'Live progress as server-sent events',
      description: '`event: progress` with `{ framesDone, framesTotal }`, then one `event: done` or `event: failed`, '
        + 'after which the stream ends. Works with any number of api processes (Redis pub/sub).',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      produces: ['text/event-stream'],
      response: { 200: { type: 'string', description: 'text/event-stream' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    const lease = await deps.quotas.openEventStream(request.tenant);
    const stream = openEventStream(reply);
    stream.onEnd(() => void lease.release());
    const send = (event: JobEvent) => {
      stream.send(event.type, event);
      if (event.type === 'done' || event.type === 'failed') stream.end();
    };
    // Subscribe before reading the state, so an event between the two cannot be missed.
    const stop = await deps.events.watch(job._id, send);
    stream.onEnd(() => void stop());
    const current = await jobs.get(job.tenant, job._id);
    if (!current) return stream.end();
    send({ type: 'progress', framesDone: current.progress.framesDone, framesTotal: current.plan?.frames ?? current.progress.framesTotal });
    if (isFinished(current.status)) send({ type: current.status as 'done' | 'failed', status: current.status });
  });
};
