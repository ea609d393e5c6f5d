import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VdetError } from '../../platform/errors.js';
import { EXPORT_CONTENT_TYPES, EXPORT_EXTENSIONS, EXPORT_FORMATS, exportPieces, type ExportFormat } from '../../results/exports.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import { mediaHeaders } from '../security-headers.js';
import { JobIdParams } from '../schemas.js';
import { downloadStem } from './job-source.js';
import { ownedJob, toView } from './jobs.js';
import { registeredModel } from '../../store/job-record.js';

const ExportQuery = Type.Object({
  format: Type.Unsafe<ExportFormat>(Type.String({
    enum: [...EXPORT_FORMATS],
    description: '`coco`: COCO detection JSON; `csv`: one row per detection; `jsonl`: one JSON object per frame; `mot`: MOTChallenge text, one line per tracked detection',
  })),
}, { additionalProperties: false });

/** The 200 of a download in one of several types (a stream, never serialised, so the schemas only document it). */
const download = (description: string, types: Record<string, { type: string; description?: string }>) => ({
  description,
  content: Object.fromEntries(Object.entries(types).map(([type, schema]) => [type, { schema }])),
});

/** A done job's detections as a file to download: COCO JSON, CSV or JSON Lines, streamed from the frames. */
export const jobExportRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'jobs' | 'results' | 'labels' | 'models'>> = async (app, deps) => {
  const { results, jobs } = deps;

  app.get('/v1/jobs/:id/export', {
    schema: {
      summary: 'Every frame\'s detections as COCO JSON, CSV, JSON Lines or MOTChallenge text (a download)',
      description: '`coco`: `{ info, categories, images, annotations }`; one image per processed frame '
        + '(`id` = frame + 1, `file_name` `frame_000123.jpg`, `width`, `height`, and `frame`, `ptsMs`), annotations with '
        + '`bbox` `[x, y, w, h]`, `area`, `category_id` (class id + 1, categories from the model\'s labels), `score`, '
        + '`iscrowd` 0, and `track_id` on a tracked detection. `csv`: header `frame,ms,label,class_id,score,x1,y1,x2,y2,track_id`, '
        + 'one row per detection (RFC 4180; `track_id` empty without one). `jsonl`: one `{ frame, ptsMs, detections }` a line, '
        + 'every frame (`trackId` on tracked detections). `mot`: MOTChallenge `frame,id,x,y,w,h,score,-1,-1,-1` (frame from 1), '
        + 'one line per detection with a track id. Boxes in original-frame pixels. '
        + 'The model the job ran on: COCO `info.model` `{ name, sha256 }`, and the `Vdet-Model` header (`NAME; sha256=HEX`) of every format. '
        + 'Answers 409 `VDET_JOB_NOT_DONE` until the job is done.',
      tags: ['results'],
      security: [{ bearer: [] }, { apiKey: [] }],
      params: JobIdParams,
      querystring: ExportQuery,
      response: {
        200: download('The export, as an attachment (Content-Disposition)', {
          'application/json': { type: 'object', description: 'COCO detection JSON' },
          'text/csv': { type: 'string' },
          'application/x-ndjson': { type: 'string' },
          'text/plain': { type: 'string', description: 'MOTChallenge text' },
        }),
        ...problems(400, 401, 404, 409, 429),
      },
    },
  }, async (request, reply) => {
    const job = await ownedJob(jobs, request.tenant, request.params.id);
    if (job.status !== 'done') throw new VdetError('VDET_JOB_NOT_DONE', `The job is ${job.status}; its exports exist once it is done.`);
    const format = request.query.format as ExportFormat; // the schema's enum let only these through
    const frames = () => results.frames(job);
    // A registered model's labels (its version may have been removed since: then the class ids are the default's).
    const pinned = registeredModel(job);
    const labels = pinned ? (await deps.models.version(pinned.name, pinned.version))?.spec.labels ?? deps.labels : deps.labels;
    const { model } = toView(job, 0);
    const exportJob = {
      id: job._id, filename: job.filename, width: job.media?.width ?? 0, height: job.media?.height ?? 0,
      fps: job.media?.fps ?? 0, finishedAt: job.finishedAt, labels, model,
    };
    void mediaHeaders(reply).type(EXPORT_CONTENT_TYPES[format])
      .header('vdet-model', model.sha256 ? `${model.name}; sha256=${model.sha256}` : model.name)
      .header('content-disposition', `attachment; filename="${downloadStem(job.filename)}${EXPORT_EXTENSIONS[format]}"`)
      .header('cache-control', 'private, no-cache');
    return reply.send(Readable.from(exportPieces(format, exportJob, frames), { objectMode: false }));
  });
};
