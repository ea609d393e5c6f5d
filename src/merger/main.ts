import type { Infra } from '../runtime/infra.js';
import type { Service } from '../platform/service.js';
import { retentionStore } from '../store/job-data.js';
import { mongoJobMergeStore } from '../store/job-merge-store.js';
import { mongoTrackingStore } from '../store/track-store.js';
import { WebhookOutboxStore } from '../store/webhook-outbox.js';
import { createMerger } from './app.js';

export async function startMerger(infra: Infra): Promise<Service> {
  const { store, streams } = infra;
  const merger = createMerger({
    ...infra,
    log: infra.log.child({ role: 'merger' }),
    merges: mongoJobMergeStore(store),
    tracking: mongoTrackingStore(store),
    webhookOutbox: new WebhookOutboxStore(store.db, store.jobs),
    retention: retentionStore(store, streams.frames, streams.streams),
  });
  await merger.start();
  return { name: 'merger', close: () => merger.close() };
}
