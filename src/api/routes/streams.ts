import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CameraSourceViewSchema } from '../../contracts/camera.js';
import { DetectionSchema } from '../../contracts/messages.js';
import { regionsProblem, trackingProblem } from '../../contracts/job-options.js';
import { STREAM_NAME, StreamSettingsSchema, type StreamSettings } from '../../contracts/stream.js';
import { VdetError } from '../../platform/errors.js';
import { registeredModel } from '../../store/job-record.js';
import { streamKey, type StreamRecord } from '../../store/stream-store.js';
import { countedSoFar, zoneSettingsOf } from '../../results/tracks.js';
import type { ApiDeps } from '../deps.js';
import type { EventHub } from '../../live/event-hub.js';
import type { TenantQuotas } from '../tenant-quotas.js';
import { problems } from '../problem.js';
import { ZonesViewSchema } from '../schemas.js';
import { cameraSourceView } from '../camera-source-view.js';
import { modelChooser } from '../model-choice.js';
import { modelView } from './jobs.js';
import { openEventStream } from '../event-stream.js';

export const StreamParams = Type.Object({
  id: Type.String({ pattern: STREAM_NAME.source, description: 'The stream id in your namespace: letters, digits, _ . : -, at most 128' }),
});
const StatsSchema = Type.Object({
  framesIn: Type.Integer(), processed: Type.Integer(), dropped: Type.Integer(), failed: Type.Integer(),
  fps: Type.Number({ description: 'Frames processed a second, over the last 10 s' }),
  lastSeen: Type.Union([Type.Integer(), Type.Null()], { description: 'When its last frame arrived (ms since the epoch)' }),
  latencyMs: Type.Object({ p50: Type.Union([Type.Number(), Type.Null()]), p99: Type.Union([Type.Number(), Type.Null()]) }),
});
const StreamZonesSchema = Type.Composite([Type.Object({ id: Type.String() }), Type.Pick(ZonesViewSchema, ['zones', 'lines'])]);
const StreamSchema = Type.Object({
  id: Type.String(), settings: Type.Ref(StreamSettingsSchema), stats: StatsSchema,
  model: Type.Object({
    name: Type.String({ description: 'The registered model its frames run on, or `default`' }),
    sha256: Type.Optional(Type.String({ description: 'The version pinned when the settings were put' })),
    version: Type.Optional(Type.Integer({ description: 'A registered model: which of its versions' })),
  }),
  source: Type.Optional(Type.Composite([CameraSourceViewSchema], { description: 'The camera vdet pulls for it (`PUT /v1/streams/{id}/source`)' })),
  createdAt: Type.String(),
});
const FramesQuery = Type.Object({
  from: Type.Optional(Type.Number({ description: 'Capture time from (ms since the epoch), inclusive' })),
  to: Type.Optional(Type.Number({ description: 'Capture time to, exclusive' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });
const FramesPage = Type.Object({
  items: Type.Array(Type.Object({ seq: Type.Integer(), ts: Type.Number(), width: Type.Integer(), height: Type.Integer(), detections: Type.Array(DetectionSchema) })),
  next: Type.Union([Type.String(), Type.Null()]),
});
export const security: { [label: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }];

export const streamRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'streams' | 'streamTokens' | 'cameras' | 'models' | 'labels' | 'defaultModel'> & { events: EventHub; quotas: TenantQuotas }> = async (app, deps) => {
  const { streams } = deps;
  const chooseModel = modelChooser(deps.models, { labels: deps.labels, described: deps.defaultModel });
  const defaultSha = deps.defaultModel?.sha256;
  const view = async (record: StreamRecord) => ({
    id: record.name, settings: record.settings, stats: await streams.stats(record),
    model: modelView(record.model ?? { name: 'default', ...(defaultSha ? { sha256: defaultSha } : {}) }),
    ...(record.source ? { source: await cameraSourceView(deps.cameras, { ...record, source: record.source }) } : {}),
    createdAt: record.createdAt.toISOString(),
  });
  const owned = (tenant: string, id: string) => ownedStream(deps, tenant, id);

  app.get('/v1/streams', {
    schema: { summary: "The tenant's streams", tags: ['streams'], security, response: { 200: Type.Object({ items: Type.Array(StreamSchema) }), ...problems(400, 401, 429) } },
  }, async (request) => {
    return { items: await Promise.all((await streams.list(request.tenant)).map(view)) };
  });

  app.get('/v1/streams/:id', {
    schema: {
      summary: 'A stream: frames in, processed, dropped, failed, fps, last seen, latency p50/p99',
      tags: ['streams'], security, params: StreamParams, response: { 200: StreamSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => view(await owned(request.tenant, request.params.id)));

  app.put('/v1/streams/:id/settings', {
    schema: {
      summary: 'Register a stream, or set its model, policy, fps cap, min score, classes, tracking, zones and lines (applies within 2 s, no restart)',
      description: 'A stream id is yours alone: another tenant\'s `cam-1` is another stream. Frames reach a registered stream '
        + 'with one of its ingest tokens (`POST /v1/streams/{id}/tokens`). `model` names a registered model (400 `VDET_MODEL_UNKNOWN` otherwise), '
        + 'pinned to its current version now; classes are checked against that model\'s labels.',
      tags: ['streams'], security, params: StreamParams, body: Type.Ref(StreamSettingsSchema),
      response: { 200: StreamSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const settings = request.body as StreamSettings;
    const { model, labels } = await chooseModel(settings.model);
    const unknown = settings.classes?.find((c) => !labels.includes(c));
    if (unknown) throw new VdetError('VDET_OPTIONS_INVALID', `Setting "classes": "${unknown}" is not a label of the model.`);
    const tracking = trackingProblem(settings.tracking);
    if (tracking) throw new VdetError('VDET_OPTIONS_INVALID', `Setting "tracking": ${tracking}.`);
    const regions = regionsProblem(settings);
    if (regions) throw new VdetError('VDET_OPTIONS_INVALID', `Setting "${regions.option}": ${regions.problem}.`);
    await admitStream(deps, request.tenant, request.params.id);
    return view(await streams.putSettings({ tenant: request.tenant, name: request.params.id }, settings, registeredModel({ model })));
  });

  app.delete('/v1/streams/:id', {
    schema: {
      summary: 'Remove a stream: its settings, ingest tokens, stored detections and counters',
      description: 'Its tokens stop working within about 2 s; frames still pushed after that are dead-lettered.',
      tags: ['streams'], security, params: StreamParams, response: { 204: { type: 'null', description: 'Removed' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const record = await owned(request.tenant, request.params.id);
    await deps.streamTokens.revokeAll(record);
    await streams.remove(record);
    return reply.status(204).send(null);
  });

  app.get('/v1/streams/:id/detections', {
    schema: {
      summary: 'A stream\'s detections in a time range, in sequence order, paged',
      tags: ['streams'], security, params: StreamParams, querystring: FramesQuery, response: { 200: FramesPage, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const record = await owned(request.tenant, request.params.id);
    return streams.frames.page(record, request.query);
  });

  app.get('/v1/streams/:id/zones', {
    schema: {
      summary: 'What the stream\'s zones and lines counted so far',
      description: 'Per zone (setting `zones`) and label: objects that `entered` it and their `dwellMs` (summed) and `maxDwellMs`; '
        + 'per line (setting `lines`) and label: crossings `in` and `out`. Counted from when they were first set, over '
        + 'tracked objects at their box\'s bottom centre; live, each result (`vdet.results`, `GET /v1/streams/{id}/events`) '
        + 'carries the `entered`, `left` and `crossed` events of its frame. A stream without zones or lines answers empty lists.',
      tags: ['streams'], security, params: StreamParams, response: { 200: StreamZonesSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const record = await owned(request.tenant, request.params.id);
    const report = await countedSoFar(zoneSettingsOf(record.settings), async () => (await streams.tracking.record(streamKey(record)))?.zones);
    return { id: record.name, ...report };
  });

  app.get('/v1/streams/:id/events', {
    schema: {
      summary: 'Live detections as server-sent events (`event: result`, one per frame)',
      tags: ['streams'], security, params: StreamParams, produces: ['text/event-stream'],
      response: { 200: { type: 'string', description: 'text/event-stream' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const record = await owned(request.tenant, request.params.id);
    const lease = await deps.quotas.openEventStream(request.tenant);
    const stream = openEventStream(reply);
    stream.onEnd(() => void lease.release());
    const stop = await deps.events.watchStream(record, (result) => stream.send('result', result));
    stream.onEnd(() => void stop());
  });
};

/** A tenant's stream, or VDET_STREAM_NOT_FOUND exactly as if it did not exist. */
export async function ownedStream(deps: Pick<ApiDeps, 'streams'>, tenant: string, id: string): Promise<StreamRecord> {
  const record = await deps.streams.findForTenant(tenant, id);
  if (!record) throw new VdetError('VDET_STREAM_NOT_FOUND', 'There is no stream with this id.');
  return record;
}

/** A new stream counts against the tenant's VDET_TENANT_MAX_STREAMS; changing one it has never does. */
export async function admitStream(deps: Pick<ApiDeps, 'streams'> & { quotas: TenantQuotas }, tenant: string, id: string): Promise<void> {
  const isNew = !(await deps.streams.findForTenant(tenant, id));
  await deps.quotas.admitStream(tenant, isNew, () => deps.streams.countForTenant(tenant, deps.quotas.maxStreams));
}
