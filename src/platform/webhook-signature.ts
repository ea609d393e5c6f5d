import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How a job callback is signed (docs/security.md): `X-Vdet-Timestamp` (Unix seconds of this attempt),
 * `X-Vdet-Key-Id` (which of the tenant's secrets signed it) and
 * `X-Vdet-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. A receiver recomputes the HMAC over the
 * raw body and rejects a timestamp more than {@link WEBHOOK_TOLERANCE_S} away from its clock, so a captured delivery
 * cannot be replayed later.
 */
export const WEBHOOK_TOLERANCE_S = 300;

/** A public name of a secret: the first 16 hex digits of its SHA-256 (says which secret, reveals nothing of it). */
export function webhookKeyId(secret: string): string {
  return `whk_${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
}

export function signWebhook(secret: string, timestampS: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/**
 * The signature headers of one delivery attempt of `body`, signed at `nowMs` by each of `secrets` (the current one
 * first; during a rotation's overlap the previous one too): `X-Vdet-Key-Id` and `X-Vdet-Signature` then list one
 * entry per secret, comma-separated, in the same order, so a receiver that holds either secret verifies it.
 */
export function webhookHeaders(secrets: string | readonly string[], body: string, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return {
    'x-vdet-timestamp': String(timestamp),
    'x-vdet-key-id': list.map(webhookKeyId).join(', '),
    'x-vdet-signature': list.map((secret) => signWebhook(secret, timestamp, body)).join(', '),
  };
}

/** A receiver's check: one of the signatures matches the raw body and the timestamp is recent. */
export function verifyWebhook(
  secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: string, nowMs = Date.now(),
  toleranceS = WEBHOOK_TOLERANCE_S,
): boolean {
  if (!headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp) || !headers.signature) return false;
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  return headers.signature.split(',').map((entry) => Buffer.from(entry.trim()))
    .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
}
