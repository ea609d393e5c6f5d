import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The viewer: `npm run build` writes it to dist/web (the api serves index.html at `/` and the assets under
 * `/app/`). `npx vite web` serves it with hot reload, proxying the api (VDET_API_URL, default :8080).
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'app',
    sourcemap: true,
  },
  server: {
    proxy: { '/v1': { target: process.env['VDET_API_URL'] ?? 'http://127.0.0.1:8080', changeOrigin: true } },
  },
});
