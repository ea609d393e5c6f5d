import { STREAM_NAME } from '../contracts/stream.js';
import { alignedTable } from '../results/summary-table.js';
import { parse, UsageError, type ClientIo } from './client-io.js';
import { CONNECTION, client, usage } from './job-commands.js';

export const STREAMS_USAGE = `usage: vdet streams                      your streams: frames in, processed, dropped, fps, last seen
       vdet streams token ID [--settings JSON]
                                         register the stream if it is new, mint an ingest token, print it (once)
       vdet streams tokens ID            the stream's tokens (ids and last use, never the secrets)
       vdet streams revoke ID TOKEN_ID   revoke a token (frames with it are refused within about 2 s)
       vdet streams remove ID            remove the stream, its tokens, stored detections and counters
       vdet streams camera ID URL [--fps N]
                                         pull a camera into the stream (rtsp://, rtsps://, srt://, http(s):// HLS)
       vdet streams camera ID            the camera's state: connected, reconnecting or failed, last error, frames
       vdet streams camera ID --stop     stop pulling it (the stream stays)

A camera puts its token in each frame's vdet-token header (vdet push: --token or VDET_STREAM_TOKEN).
Api: VDET_API_URL (default http://127.0.0.1:8080), VDET_API_KEY; or --api URL, --key KEY.`;

interface StreamView {
  id: string;
  stats: { framesIn: number; processed: number; dropped: number; failed: number; fps: number; lastSeen: number | null };
}

/** `vdet streams`: register streams, mint and revoke their ingest tokens, from a terminal. */
export async function runStreams(argv: readonly string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...CONNECTION, settings: { type: 'string' }, fps: { type: 'string' }, stop: { type: 'boolean' } });
  if (values.help) return usage(io, STREAMS_USAGE);
  const [sub, id, tokenId, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`too many arguments\n\n${STREAMS_USAGE}`);
  const api = client(values, io);
  if (sub === undefined || sub === 'list') {
    const { items } = await api.json<{ items: StreamView[] }>('GET', '/v1/streams');
    const rows = items.map((s) => [s.id, String(s.stats.framesIn), String(s.stats.processed), String(s.stats.dropped), String(s.stats.failed),
      s.stats.fps.toFixed(1), s.stats.lastSeen === null ? '-' : new Date(s.stats.lastSeen).toISOString()]);
    io.stdout.write(rows.length === 0 ? 'no streams\n' : `${alignedTable(['id', 'in', 'processed', 'dropped', 'failed', 'fps', 'last seen'], rows, 1)}\n`);
    return 0;
  }
  if (!id || !STREAM_NAME.test(id)) throw new UsageError(`vdet streams ${sub} ID: the stream id (letters, digits, . _ : -, at most 128)\n\n${STREAMS_USAGE}`);
  const path = `/v1/streams/${id}`;
  switch (sub) {
    case 'token': {
      const settings = values.settings === undefined ? undefined : jsonObject(values.settings);
      const known = settings === undefined && (await api.json<StreamView>('GET', path).then(() => true, () => false));
      if (!known) await api.json('PUT', `${path}/settings`, settings ?? {});
      const minted = await api.json<{ token: string; id: string }>('POST', `${path}/tokens`);
      io.stdout.write(`${minted.token}\n`);
      io.stderr.write(`minted token ${minted.id} for stream ${id}${known ? '' : ' (registered)'}; it is shown only this once\n`);
      return 0;
    }
    case 'tokens': {
      const { items } = await api.json<{ items: { id: string; createdAt: string; lastUsedAt: string | null }[] }>('GET', `${path}/tokens`);
      io.stdout.write(items.length === 0 ? 'no tokens\n' : `${alignedTable(['id', 'created', 'last used'], items.map((t) => [t.id, t.createdAt, t.lastUsedAt ?? '-']), 3)}\n`);
      return 0;
    }
    case 'revoke':
      if (!tokenId) throw new UsageError(`vdet streams revoke ID TOKEN_ID\n\n${STREAMS_USAGE}`);
      await api.json('DELETE', `${path}/tokens/${encodeURIComponent(tokenId)}`);
      io.stdout.write(`revoked token ${tokenId} of stream ${id}\n`);
      return 0;
    case 'remove':
      await api.json('DELETE', path);
      io.stdout.write(`removed stream ${id}\n`);
      return 0;
    case 'camera':
      return camera(api, io, id, tokenId, values);
    default:
      throw new UsageError(`unknown streams command "${sub}"\n\n${STREAMS_USAGE}`);
  }
}

interface CameraView { url: string; fps: number; state: string; lastError: string | null; reconnects: number; framesPulled: number; processor: string | null }

/** `vdet streams camera ID [URL] [--fps N] [--stop]`: set, show or stop the camera a processor pulls for the stream. */
async function camera(api: ReturnType<typeof client>, io: ClientIo, id: string, url: string | undefined, values: { fps?: string; stop?: boolean }): Promise<number> {
  const path = `/v1/streams/${id}/source`;
  if (values.stop) {
    if (url !== undefined) throw new UsageError(`vdet streams camera ID --stop takes no URL\n\n${STREAMS_USAGE}`);
    await api.json('DELETE', path);
    io.stdout.write(`stopped pulling the camera of stream ${id}\n`);
    return 0;
  }
  let view: CameraView;
  if (url === undefined) {
    view = await api.json<CameraView>('GET', path);
  } else {
    const fps = values.fps === undefined ? undefined : Number(values.fps);
    if (fps !== undefined && !(fps > 0)) throw new UsageError('--fps must be a number of frames a second, e.g. 5');
    view = await api.json<CameraView>('PUT', path, { url, ...(fps !== undefined ? { fps } : {}) });
  }
  const rows = [['camera', view.url], ['fps', String(view.fps)], ['state', view.state], ['last error', view.lastError ?? '-'],
    ['frames pulled', String(view.framesPulled)], ['reconnects', String(view.reconnects)], ['processor', view.processor ?? '-']];
  io.stdout.write(`${alignedTable(['stream', id], rows, 2)}\n`);
  return 0;
}

function jsonObject(raw: string): object {
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // the sentence below
  }
  throw new UsageError('--settings must be a JSON object, e.g. \'{"policy":"drop-oldest","maxLagMs":500}\'');
}
