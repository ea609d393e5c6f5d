import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { createProcessor } from './app.js';
import { createStreamProcessor } from './stream-app.js';

/** Both sides of the processor: uploaded files (vdet.jobs) and pushed frames (vdet.frames). */
export async function startProcessor(infra: Infra): Promise<Service> {
  const log = infra.log.child({ role: 'processor' });
  const processor = createProcessor({ ...infra, log });
  const streams = createStreamProcessor({ ...infra, log });
  await processor.start();
  await streams.start();
  return {
    name: 'processor',
    close: async () => {
      await streams.close();
      await processor.close();
    },
  };
}
