import type { Infra } from '../runtime/infra.js';
import type { Service } from '../platform/service.js';
import { createMerger } from './app.js';

export async function startMerger(infra: Infra): Promise<Service> {
  const merger = createMerger({ ...infra, log: infra.log.child({ role: 'merger' }) });
  await merger.start();
  return { name: 'merger', close: () => merger.close() };
}
