import { Type, type Static } from '@sinclair/typebox';
import { BoxSchema, DetectionSchema, FailureSchema } from '../contracts/messages.js';
import { JOB_STATUSES, type JobStatus } from '../store/job-state.js';
import { JobOptionsSchema } from '../contracts/job-options.js';

/** Route schemas: they drive validation, the TypeScript types of handlers, and the OpenAPI document at once. */
export const ProblemSchema = Type.Object({
  type: Type.String({ examples: ['https://vdet.dev/errors/VDET_JOB_NOT_FOUND'] }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String({ examples: ['VDET_JOB_NOT_FOUND'] }),
}, { $id: 'Problem', description: 'An error as RFC 9457 problem details, with vdet\'s stable error code.' });

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const JobAcceptedSchema = Type.Object({
  id: Type.String(),
  status: Type.Literal('queued'),
}, { examples: [{ id: '0b9a6e8f-0d1c-4a6e-9a39-3f1d2c7b5e11', status: 'queued' }] });

export const JobSchema = Type.Object({
  options: Type.Ref(JobOptionsSchema),
  id: Type.String(),
  status: Type.Unsafe<JobStatus>(Type.String({ enum: [...JOB_STATUSES] })),
  filename: Type.String(),
  model: Type.Object({
    name: Type.String({ description: 'The registered model the job runs on, or `default` (the service\'s own, VDET_MODEL)' }),
    sha256: Type.Optional(Type.String({ description: 'The model file\'s version the job is pinned to (absent for `default` where the api cannot read the file)' })),
    version: Type.Optional(Type.Integer({ description: 'A registered model: which of its versions (`GET /v1/models`)' })),
  }, { description: 'The model version the job was submitted with' }),
  progress: Type.Object({ framesDone: Type.Integer(), framesTotal: Type.Integer() }),
  media: Type.Union([Type.Object({
    width: Type.Integer(), height: Type.Integer(), fps: Type.Number(), frames: Type.Integer(), durationMs: Type.Integer(),
  }), Type.Null()]),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'Detections per label over the whole job' }),
  objects: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'Tracking on: distinct objects (tracks) per label over the whole job, once done' })),
  error: Type.Optional(FailureSchema),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type JobView = Static<typeof JobSchema>;

export const DetectionsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'The `next` value of the previous page' })),
  label: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only detections with this label (frames without one are left out)' })),
  minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Only detections scoring at least this (frames without one are left out)' })),
  fromMs: Type.Optional(Type.Number({ minimum: 0, description: 'Frames at or after this time' })),
  toMs: Type.Optional(Type.Number({ minimum: 0, description: 'Frames before this time' })),
  trackId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: 'Only detections of this track (frames without one are left out)' })),
}, { additionalProperties: false });

export const JobListQuery = Type.Object({
  status: Type.Optional(Type.Unsafe<JobStatus>(Type.String({ enum: [...JOB_STATUSES] }))),
  createdFrom: Type.Optional(Type.String({ format: 'date-time', description: 'Jobs created at or after this instant' })),
  createdTo: Type.Optional(Type.String({ format: 'date-time', description: 'Jobs created before this instant' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 128, description: 'The `next` value of the previous page' })),
}, { additionalProperties: false });

export const JobListSchema = Type.Object({
  items: Type.Array(JobSchema),
  next: Type.Union([Type.String(), Type.Null()]),
});

const ZoneCountsSchema = Type.Object({
  entered: Type.Integer({ description: 'Distinct objects that were inside at least once' }),
  dwellMs: Type.Number({ description: 'Time they stayed inside, summed' }),
  maxDwellMs: Type.Number({ description: 'The longest one object stayed' }),
});
const LineCountsSchema = Type.Object({
  in: Type.Integer({ description: 'Crossings from the right of from → to (as seen on screen) to its left' }),
  out: Type.Integer({ description: 'Crossings the other way' }),
});
export const SummarySchema = Type.Object({
  id: Type.String(),
  status: Type.Unsafe<JobStatus>(Type.String({ enum: [...JOB_STATUSES] })),
  labels: Type.Record(Type.String(), Type.Object({
    detections: Type.Integer(),
    frames: Type.Integer({ description: 'Frames with at least one' }),
    maxPerFrame: Type.Integer({ description: 'Most in one frame' }),
    firstMs: Type.Number({ description: 'First seen' }),
    lastMs: Type.Number({ description: 'Last seen' }),
    objects: Type.Optional(Type.Integer({ description: 'Tracking on: distinct objects (tracks) with this label' })),
  })),
  zones: Type.Optional(Type.Array(Type.Object({ name: Type.String(), labels: Type.Record(Type.String(), ZoneCountsSchema) }), { description: 'A done job with zones: what each counted (GET /v1/jobs/{id}/zones)' })),
  lines: Type.Optional(Type.Array(Type.Object({ name: Type.String(), labels: Type.Record(Type.String(), LineCountsSchema) }), { description: 'A done job with lines: their crossings' })),
}, { examples: [{ id: '0b9a…', status: 'done', labels: { dog: { detections: 100, frames: 100, maxPerFrame: 1, firstMs: 0, lastMs: 3960 } } }] });

export const DetectionsPageSchema = Type.Object({
  items: Type.Array(Type.Object({
    frame: Type.Integer(),
    ptsMs: Type.Number(),
    detections: Type.Array(DetectionSchema),
  })),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Opaque cursor of the next page, or null at the end' }),
});

export const HealthSchema = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }))),
});

export const TrackSchema = Type.Object({
  trackId: Type.Integer({ minimum: 1 }),
  label: Type.String(),
  firstFrame: Type.Integer(),
  lastFrame: Type.Integer(),
  firstMs: Type.Number(),
  lastMs: Type.Number(),
  frames: Type.Integer({ description: 'Frames with a detection of the track' }),
  bestScore: Type.Number(),
  firstBox: BoxSchema,
  lastBox: BoxSchema,
});

export const TracksQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'The `next` value of the previous page' })),
  label: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only tracks with this label' })),
}, { additionalProperties: false });

export const ZonesViewSchema = Type.Object({
  id: Type.String(),
  status: Type.String(),
  zones: Type.Array(Type.Object({ name: Type.String(), labels: Type.Record(Type.String(), ZoneCountsSchema, { description: 'Per label' }) })),
  lines: Type.Array(Type.Object({ name: Type.String(), labels: Type.Record(Type.String(), LineCountsSchema, { description: 'Per label' }) })),
});

export const TracksPageSchema = Type.Object({
  items: Type.Array(TrackSchema),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Opaque cursor of the next page, or null at the end' }),
});

export const TrackParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  trackId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
});

export const TrackPathSchema = Type.Composite([TrackSchema, Type.Object({
  path: Type.Array(Type.Object({ frame: Type.Integer(), ptsMs: Type.Number(), score: Type.Number(), box: BoxSchema }), { description: 'Frame by frame, in frame order' }),
})]);
