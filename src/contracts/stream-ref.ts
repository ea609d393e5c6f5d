/**
 * A stream lives in its tenant's namespace: two tenants may each have a `cam-1`. Everything kept per stream is keyed
 * by both (record, counters, events channel, stored frames).
 */
export interface StreamRef {
  tenant: string;
  /** The stream's id as its tenant names it (the Kafka key of its frames). */
  name: string;
}

/** The one string that names a stream across tenants (tenant ids have no `/`). */
export function streamKey(ref: StreamRef): string {
  return `${ref.tenant}/${ref.name}`;
}
