import { Type, type Static } from '@sinclair/typebox';
import ipaddr from 'ipaddr.js';
import { addressProblem, normalHost, type AddressPolicy } from '../platform/address-policy.js';

/**
 * Cameras vdet pulls itself: a stream's `source` (`PUT /v1/streams/{id}/source`). RTSP (TCP, or RTSP over TLS) and
 * SRT: one connection to the checked address carries the whole stream. HLS (http, https): vdet fetches the playlists
 * and segments itself, each request checked (a playlist may name other hosts), and hands ffmpeg the segments' bytes.
 */
export const CAMERA_SCHEMES = ['rtsp:', 'rtsps:', 'srt:', 'http:', 'https:'] as const;

/** Frames a second pulled from a camera when its source names none. */
export const DEFAULT_CAMERA_FPS = 5;

export const CameraSourceSchema = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'rtsp://, rtsps:// or srt:// (user:password@ allowed; never shown back), or an http(s):// HLS playlist (MPEG-TS segments). The host must be public, or allowed by the operator (VDET_CAMERA_ALLOW_HOSTS).' }),
  fps: Type.Optional(Type.Number({ minimum: 0.1, maximum: 30, description: `Frames a second pulled from the camera (default ${DEFAULT_CAMERA_FPS}); the stream's own fpsCap still applies.` })),
}, { additionalProperties: false, $id: 'CameraSource' });
export type CameraSource = Static<typeof CameraSourceSchema>;

export const CAMERA_STATES = ['waiting', 'connecting', 'connected', 'reconnecting', 'failed'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

/** A source as the api shows it: the URL without its password, and where its puller stands. */
export const CameraSourceViewSchema = Type.Object({
  url: Type.String({ description: 'The URL, its password replaced by ***' }),
  fps: Type.Number(),
  state: Type.Unsafe<CameraState>(Type.String({
    enum: [...CAMERA_STATES],
    description: '`waiting`: no processor holds it yet; `connecting`; `connected` (frames arrive); `reconnecting` (the camera dropped or refused; retried with backoff); `failed` (refused by the address rules, or 10 attempts in a row without a frame; still retried every 30 s)',
  })),
  lastError: Type.Union([Type.String(), Type.Null()]),
  since: Type.Union([Type.Integer(), Type.Null()], { description: 'When the state began (ms since the epoch)' }),
  reconnects: Type.Integer({ description: 'Connections lost or refused since the current processor took the source' }),
  framesPulled: Type.Integer({ description: 'Frames pulled by the current processor' }),
  processor: Type.Union([Type.String(), Type.Null()], { description: 'The processor instance that holds the source' }),
});
export type CameraSourceView = Static<typeof CameraSourceViewSchema>;

/** Why a camera URL may not be pulled as it is written (scheme, host, a literal address the rules refuse); undefined when it may, subject to what its name resolves to. */
export function cameraUrlProblem(url: string, policy: AddressPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (!(CAMERA_SCHEMES as readonly string[]).includes(parsed.protocol)) return 'must be an rtsp://, rtsps://, srt:// or http(s):// (HLS) URL';
  if ((parsed.protocol === 'http:' || parsed.protocol === 'https:') && (parsed.username || parsed.password)) return 'must not carry credentials for HLS (put a token in its path or query)';
  const host = normalHost(parsed.hostname.replace(/^\[|\]$/g, ''));
  if (host === '') return 'must name a host';
  if (parsed.protocol === 'srt:' && parsed.search) return 'must not carry SRT options (vdet sets them)';
  if (/(^|\.)(localhost|localdomain)$/.test(host) && !policy.hosts.has(host) && !policy.allowPrivate) {
    return 'must not point at a loopback, private or otherwise non-public address';
  }
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host, policy, host);
    if (problem) return `must not point at a loopback, private or otherwise non-public address (${host} ${problem.replace(/^resolves to/, 'is')})`;
  }
  return undefined;
}

/** The URL with its password (if any) replaced by `***`: what logs and the api show. */
export function redactedCameraUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
