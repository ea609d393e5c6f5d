import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The built viewer (`npm run build` puts it in dist/web): from dist/src/api that is ../../web, from src/api (tsx)
 * ../../dist/web. Undefined when it has not been built.
 */
export function viewerDir(): string | undefined {
  return [path.resolve(here, '../../dist/web'), path.resolve(here, '../../web')]
    .find((dir) => existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'app')));
}

/** Serves the viewer: its page at `/`, its assets under `/app/` (no key needed; the page asks for one). */
export const webUiRoutes: FastifyPluginAsync = async (app) => {
  const dir = viewerDir();
  let page: string | undefined;
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!dir) return reply.type('text/html; charset=utf-8').send('<!doctype html><title>vdet</title><p>The viewer is not built: run <code>npm run build</code>. The API is documented at <a href="/docs">/docs</a>.</p>');
    page ??= readFileSync(path.join(dir, 'index.html'), 'utf8');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page);
  });
  if (dir) {
    await app.register(fastifyStatic, {
      root: path.join(dir, 'app'), prefix: '/app/', decorateReply: false, schemaHide: true, index: false,
      maxAge: '1h',
    });
  }
};
