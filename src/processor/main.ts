import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { createProcessor } from './app.js';

export async function startProcessor(infra: Infra): Promise<Service> {
  const processor = createProcessor({ ...infra, log: infra.log.child({ role: 'processor' }) });
  await processor.start();
  return { name: 'processor', close: () => processor.close() };
}
