import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { buildAddressPolicy } from '../../platform/address-policy.js';
import { cameraAddress } from '../../contracts/camera-address.js';
import { CameraSourceSchema, CameraSourceViewSchema, type CameraSource } from '../../contracts/camera.js';
import { VdetError } from '../../platform/errors.js';
import { systemResolver } from '../../platform/guarded-http.js';
import type { StreamRecord } from '../../store/stream-store.js';
import type { ApiDeps } from '../deps.js';
import { cameraSourceView } from '../camera-source-view.js';
import { problems } from '../problem.js';
import type { TenantQuotas } from '../tenant-quotas.js';
import { StreamParams, admitStream, ownedStream, security } from './streams.js';

const withSource = (record: StreamRecord): record is StreamRecord & { source: CameraSource } => record.source !== undefined;

/**
 * Cameras vdet pulls itself: a processor takes each source by lease, pulls it with ffmpeg at its fps and feeds the
 * stream's usual path (policy, detections, results on `vdet.results`); no ingest token is involved, the source is
 * the tenant's own registration.
 */
export const streamSourceRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'streams' | 'cameras' | 'config'> & { quotas: TenantQuotas }> = async (app, deps) => {
  const policy = buildAddressPolicy(false, deps.config.cameras.allowHosts).policy;
  /** The rules the processor applies again at each connection: refused here already when they refuse now. */
  const checkUrl = async (url: string) => {
    // A name only the cameras' network resolves is let through: the processor checks it at every connection.
    const checked = await cameraAddress(url, policy, systemResolver).catch(() => undefined);
    if (checked && 'refused' in checked) {
      throw new VdetError('VDET_CAMERA_REFUSED', `${checked.refused} The operator may allow a host with VDET_CAMERA_ALLOW_HOSTS.`);
    }
  };


  app.put('/v1/streams/:id/source', {
    schema: {
      summary: 'Pull a camera into the stream (RTSP over TCP, RTSP over TLS, SRT, HLS), registering the stream when it is new',
      description: 'A processor takes the source within a few seconds and keeps it while it lives; when that processor dies another '
        + 'takes it over. Frames go the stream\'s usual way (settings, detections, `vdet.results`, events). Putting a new URL or fps '
        + 'restarts the pull. The URL\'s password is never shown back.',
      tags: ['streams'], security, params: StreamParams, body: CameraSourceSchema,
      response: { 200: CameraSourceViewSchema, ...problems(400, 401, 422, 429) },
    },
  }, async (request) => {
    const source: CameraSource = { url: request.body.url, ...(request.body.fps !== undefined ? { fps: request.body.fps } : {}) };
    await checkUrl(source.url);
    await admitStream(deps, request.tenant, request.params.id);
    const record = await deps.streams.putSource({ tenant: request.tenant, name: request.params.id }, source);
    return cameraSourceView(deps.cameras, { ...record, source: record.source! }); // putSource's answer holds it
  });

  app.get('/v1/streams/:id/source', {
    schema: {
      summary: "The stream's camera: connected, reconnecting or failed (with the last error), frames pulled, which processor pulls it",
      tags: ['streams'], security, params: StreamParams, response: { 200: CameraSourceViewSchema, ...problems(400, 401, 404, 429) },
    },
  }, async (request) => {
    const record = await ownedStream(deps, request.tenant, request.params.id);
    if (!withSource(record)) throw new VdetError('VDET_CAMERA_SOURCE_NOT_FOUND', 'The stream has no camera source.');
    return cameraSourceView(deps.cameras, record);
  });

  app.delete('/v1/streams/:id/source', {
    schema: {
      summary: 'Stop pulling the camera (within a few seconds); the stream, its settings and detections stay',
      tags: ['streams'], security, params: StreamParams, response: { 204: { type: 'null', description: 'Stopped' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const record = await ownedStream(deps, request.tenant, request.params.id);
    if (!(await deps.streams.removeSource(record))) throw new VdetError('VDET_CAMERA_SOURCE_NOT_FOUND', 'The stream has no camera source.');
    return reply.status(204).send(null);
  });
};
