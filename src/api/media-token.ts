import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Media tokens: what a signed source URL carries instead of an API key (a <video> element or a new tab cannot send
 * one). A token grants reading one job's media (its original upload and its annotated video) until it expires, and
 * nothing else. It is signed with the server's media key (VDET_MEDIA_TOKEN_KEY, or one generated once and kept in
 * MongoDB so that every api replica shares it), never with a tenant's webhook secret, which tenants can read.
 *
 * Format: base64url(expiry ms) "." base64url(HMAC-SHA256(key, "vdet-media-v1\n" purpose "\n" job id "\n" expiry)).
 */
export type MediaPurpose = 'job-media';

/** How long a signed source URL lasts unless the client asks for another time. */
export const MEDIA_TOKEN_DEFAULT_TTL_MS = 15 * 60_000;
/** The longest a token may last, whatever the client asks: a token that claims more is refused. */
export const MEDIA_TOKEN_MAX_TTL_MS = 24 * 3600_000;
/** The shortest a client may ask for. */
export const MEDIA_TOKEN_MIN_TTL_MS = 60_000;

export interface MediaGrant {
  purpose: MediaPurpose;
  jobId: string;
  expiresAtMs: number;
}

function mac(grant: MediaGrant, key: string): Buffer {
  return createHmac('sha256', key).update(`vdet-media-v1\n${grant.purpose}\n${grant.jobId}\n${grant.expiresAtMs}`).digest();
}

/** The expiry a request for `requestedMs` of validity gets: clamped to [MIN, MAX] from `now`. */
export function mediaTokenExpiry(requestedMs: number | undefined, now = Date.now()): number {
  const ttl = Math.min(MEDIA_TOKEN_MAX_TTL_MS, Math.max(MEDIA_TOKEN_MIN_TTL_MS, requestedMs ?? MEDIA_TOKEN_DEFAULT_TTL_MS));
  return now + ttl;
}

export function signMediaToken(grant: MediaGrant, key: string): string {
  return `${Buffer.from(String(grant.expiresAtMs)).toString('base64url')}.${mac(grant, key).toString('base64url')}`;
}

/**
 * Whether `token` grants `purpose` on `jobId`: signed with `key`, not expired, and not claiming to last longer than
 * {@link MEDIA_TOKEN_MAX_TTL_MS} from now (so a token minted with a far-future expiry is worthless).
 */
export function verifyMediaToken(purpose: MediaPurpose, jobId: string, token: string, key: string, now = Date.now()): boolean {
  const [head, signature, ...rest] = token.split('.');
  if (!head || !signature || rest.length > 0) return false;
  const expiry = Buffer.from(head, 'base64url').toString('utf8');
  if (!/^\d{1,15}$/.test(expiry)) return false;
  const expiresAtMs = Number(expiry);
  if (expiresAtMs <= now || expiresAtMs > now + MEDIA_TOKEN_MAX_TTL_MS) return false;
  const expected = mac({ purpose, jobId, expiresAtMs }, key);
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
