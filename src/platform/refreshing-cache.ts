/**
 * A small read-through cache for lookups on a hot path (a stream's settings, an ingest token), per process.
 * A known value past its time is still answered at once and reloaded in the background (a failed reload keeps it:
 * the store is away, the last answer stands), so no frame waits for the store once its key is known. A `null`
 * (not found) past its time is loaded again before answering, so a key registered a moment ago is seen on its next
 * use. At most `maxEntries` keys are held, the oldest dropped first: junk keys cannot grow it without bound.
 */
export class RefreshingCache<V> {
  private readonly entries = new Map<string, { value: V | null; until: number; refreshing: boolean }>();

  constructor(
    private readonly load: (key: string) => Promise<V | null>,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string): Promise<V | null> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    if (hit && hit.value !== null) {
      if (!hit.refreshing) {
        hit.refreshing = true;
        void this.fill(key).catch(() => {
          hit.refreshing = false; // try again on the next use
        });
      }
      return hit.value;
    }
    return this.fill(key);
  }

  /** Forgets a key, so its next use loads it (after a change made by this process). */
  delete(key: string): void {
    this.entries.delete(key);
  }

  private async fill(key: string): Promise<V | null> {
    const value = await this.load(key);
    this.entries.delete(key); // re-inserted last: the Map's order is the eviction order
    this.entries.set(key, { value, until: Date.now() + this.ttlMs, refreshing: false });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}
