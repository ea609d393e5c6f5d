import type { ApiLiveState } from '../live/api-live.js';
import type { Infra } from '../runtime/infra.js';
import type { DescribedModel } from '../vision/model-file.js';

/**
 * The api's share of the process's clients (see Infra), each store behind its port: never the MongoDB collections
 * (of the store it sees only its ping, for /readyz) nor the Redis client (live state through `live`); and the default
 * model's labels (job options name classes) and, where the api can read VDET_MODEL, its description.
 */
export type ApiDeps = Omit<Infra, 'close' | 'store' | 'redis'> & {
  store: Pick<Infra['store'], 'ping'>;
  live: ApiLiveState;
  labels: readonly string[];
  defaultModel?: DescribedModel | undefined;
};
