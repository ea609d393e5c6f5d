import type { Infra } from '../runtime/infra.js';
import type { DescribedModel } from '../vision/model-file.js';

/**
 * The api's share of the process's clients (see Infra), and the default model's labels (job options name classes)
 * and, where the api can read VDET_MODEL, its description.
 */
export type ApiDeps = Omit<Infra, 'close'> & { labels: readonly string[]; defaultModel?: DescribedModel | undefined };
