import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VdetError } from '../../platform/errors.js';
import type { JobRecord } from '../../store/job-record.js';
import { countedSoFar, zoneSettingsOf } from '../../results/tracks.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import { JobIdParams, TrackParams, TrackPathSchema, TracksPageSchema, TracksQuery, ZonesViewSchema } from '../schemas.js';
import { ownedJob } from './jobs.js';
import { cursorInteger, pageCursor } from '../../platform/page-cursor.js';

/** A done job's tracks: the list (a bucket of ids at a time) and one track's path through its frames. */
const trackCursor = pageCursor('t', 1); // after this track id

export const jobTrackRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'jobs' | 'results'>> = async (app, deps) => {
  const { results, jobs } = deps;

  app.get('/v1/jobs/:id/tracks', {
    schema: {
      summary: 'The objects a job tracked: one item per track, by track id',
      description: 'Each track: `trackId`, `label`, first and last frame and time, `frames` with a detection of it, '
        + '`bestScore`, `firstBox` and `lastBox` (`[x1, y1, x2, y2]`, original-frame pixels). Follow `next` as `cursor`. '
        + 'A job with `track: false` has none. Answers 409 `VDET_JOB_NOT_DONE` until the job is done.',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      querystring: TracksQuery,
      response: { 200: TracksPageSchema, ...problems(400, 401, 404, 409, 429) },
    },
  }, async (request) => {
    const job = await doneJob(request.tenant, request.params.id);
    const { limit, cursor, label } = request.query;
    const after = cursor === undefined ? 0 : cursorInteger(trackCursor.decode(cursor)[0]!, 10);
    const found = await results.tracks(job, after, limit, label === undefined ? undefined : (t) => t.label === label);
    const items = found.slice(0, limit);
    return { items, next: found.length > limit ? trackCursor.encode(items[items.length - 1]!.trackId) : null };
  });

  app.get('/v1/jobs/:id/tracks/:trackId', {
    schema: {
      summary: 'One track and its path, frame by frame',
      description: 'The track as in the list, and `path`: its detection in each frame it was seen in (`frame`, `ptsMs`, '
        + '`score`, `box`), in frame order. Answers 404 `VDET_TRACK_NOT_FOUND` for an id the job has not, 409 '
        + '`VDET_JOB_NOT_DONE` until the job is done.',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: TrackParams,
      response: { 200: TrackPathSchema, ...problems(400, 401, 404, 409, 429) },
    },
  }, async (request) => {
    const job = await doneJob(request.tenant, request.params.id);
    const trackId = request.params.trackId;
    const track = await results.track(job, trackId);
    if (!track) throw new VdetError('VDET_TRACK_NOT_FOUND', `The job has no track ${trackId}.`);
    const path: { frame: number; ptsMs: number; score: number; box: [number, number, number, number] }[] = [];
    for await (const frame of results.frames(job, { after: track.firstFrame - 1, label: track.label })) {
      if (frame.frame > track.lastFrame) break;
      const d = frame.detections.find((x) => x.trackId === trackId);
      if (d) path.push({ frame: frame.frame, ptsMs: frame.ptsMs, score: d.score, box: d.box });
    }
    return { ...track, path };
  });

  app.get('/v1/jobs/:id/zones', {
    schema: {
      summary: 'What the job\'s zones and lines counted',
      description: 'Per zone (option `zones`) and label: objects that `entered` it and their `dwellMs` (summed) and '
        + '`maxDwellMs`; per line (option `lines`) and label: crossings `in` and `out`. Objects are tracks, at their '
        + 'box\'s bottom centre. A running job answers the counts of the frames tracked so far; a job without zones or '
        + 'lines answers empty lists.',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      response: { 200: ZonesViewSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    const report = job.zones ?? await countedSoFar(zoneSettingsOf(job.options), () => results.zonesSoFar(job._id));
    return { id: job._id, status: job.status, ...report };
  });

  async function doneJob(tenant: string, id: string): Promise<JobRecord> {
    const job = await ownedJob(jobs, tenant, id);
    if (job.status !== 'done') throw new VdetError('VDET_JOB_NOT_DONE', `The job is ${job.status}; its tracks are listed once it is done.`);
    return job;
  }
};
