import type { Infra } from '../runtime/infra.js';
import type { DescribedModel } from '../vision/model-file.js';

/**
 * The api's share of the process's clients (see Infra): the stores behind their ports, never the MongoDB collections
 * themselves (of the store it sees only its ping, for /readyz); and the default model's labels (job options name
 * classes) and, where the api can read VDET_MODEL, its description.
 */
export type ApiDeps = Omit<Infra, 'close' | 'store'> & {
  store: Pick<Infra['store'], 'ping'>;
  labels: readonly string[];
  defaultModel?: DescribedModel | undefined;
};
