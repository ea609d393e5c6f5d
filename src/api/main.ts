import type { Infra } from '../runtime/infra.js';
import type { Service } from '../platform/service.js';
import { modelGeometry } from '../vision/model-file.js';
import { redisApiLiveState } from '../live/api-live.js';
import { buildApi } from './app.js';

export async function startApi(infra: Infra): Promise<Service & { url: string }> {
  const { labels, described } = await modelGeometry(infra.config.model);
  const { close: _close, redis, ...clients } = infra;
  const live = redisApiLiveState(redis, infra.config.redis);
  const app = await buildApi({ ...clients, live, labels, defaultModel: described, log: infra.log.child({ role: 'api' }) });
  const url = await app.listen({ host: infra.config.http.host, port: infra.config.http.port });
  return { name: 'api', url, close: () => app.close() };
}
