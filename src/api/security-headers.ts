import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The Content-Security-Policy of every response, which is the viewer's (`/`, built by Vite into dist/web): its own
 * module scripts and stylesheet under /app/, the api on the same origin (fetch, server-sent events), the job's
 * video from a signed same-origin URL, canvases and blob: downloads; nothing inline, no frames, no plugins.
 */
export const VIEWER_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'object-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'media-src': ["'self'", 'blob:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'worker-src': ["'self'", 'blob:'],
} as const;

/**
 * Swagger UI at /docs: its bundle and initializer are files of its own (no inline script), but it writes inline
 * styles and shows data: images (icons); "Try it out" calls the api on the same origin.
 */
export const DOCS_CSP = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "
  + "script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
  + "font-src 'self' data:; connect-src 'self'";

/** Served media and downloads (an upload, an annotated video, an export) are never a document that runs anything. */
export const MEDIA_CSP = 'sandbox';

/**
 * Security headers on every response (@fastify/helmet): the CSP above, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` beside `frame-ancestors 'none'`, and helmet's other
 * defaults. No `upgrade-insecure-requests`: vdet is often reached over plain http on a private network.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { ...VIEWER_CSP } },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
  });
}

/** The headers every served file carries on top of those: it is what its Content-Type says, and inert. */
export function mediaHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('x-content-type-options', 'nosniff').header('content-security-policy', MEDIA_CSP);
}
