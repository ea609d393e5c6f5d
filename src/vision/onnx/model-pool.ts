import { modelKey, type ModelRef } from '../../contracts/chunk.js';
import { VdetError, isVdetError } from '../../platform/errors.js';

/** A model a detector can run: whatever the pool's loader makes (sessions on every device and their batches). */
export interface Closable {
  close(): Promise<void>;
}

export interface ModelPoolOptions<M extends Closable> {
  /** Registered models kept loaded beside the default one (VDET_DETECTOR_MODELS_MAX). */
  maxLoaded: number;
  /** Loads a registered model version; throws when it cannot (a permanent failure is a non-retriable VdetError). */
  load(ref: ModelRef): Promise<M>;
  /** How long a model that failed to load for good is refused at once before it is tried again. */
  retryAfterMs: number;
  loaded?(ref: ModelRef, ms: number): void;
  failed?(ref: ModelRef, error: unknown): void;
  evicted?(ref: ModelRef): void;
  now?(): number;
}

interface Entry<M> {
  readonly ref: ModelRef;
  readonly loading: Promise<M>;
  ready: boolean;
  inUse: number;
  lastUsed: number;
}

export { modelKey }; // batches never mix keys

/**
 * The models one detector runs, side by side: its default (VDET_MODEL, loaded at start-up, always there) and the
 * registered versions chunks ask for, each loaded on first need and kept while used. At most `maxLoaded` registered
 * ones are loaded at once: a new one evicts the least recently used idle one, or waits until one is idle (chunks in
 * flight are bounded, so one always ends). A load is all or nothing; one that failed for good is refused with
 * VDET_MODEL_UNAVAILABLE for `retryAfterMs` (and listed by {@link failures} for /readyz) instead of being retried
 * for every chunk. Pure: the loader is injected, so the rules are tested with fakes.
 */
export class ModelPool<M extends Closable> {
  private readonly entries = new Map<string, Entry<M>>();
  private readonly failed = new Map<string, { ref: ModelRef; error: VdetError; until: number }>();
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly defaultModel: M, private readonly options: ModelPoolOptions<M>) {
    if (options.maxLoaded < 1) throw new RangeError('ModelPool needs room for at least one registered model');
    this.now = options.now ?? Date.now;
  }

  /** Runs `work` on a chunk's model (undefined: the default), which stays loaded until `work` settles. */
  async use<T>(ref: ModelRef | undefined, work: (model: M) => Promise<T>): Promise<T> {
    if (!ref) return work(this.defaultModel);
    const key = modelKey(ref);
    for (;;) {
      if (this.closed) throw new VdetError('VDET_INTERNAL', 'The detector is closing.');
      const failure = this.failed.get(key);
      if (failure && failure.until > this.now()) throw failure.error;
      const entry = this.entries.get(key) ?? (this.entries.size < this.options.maxLoaded || this.evictOne() ? this.startLoad(key, ref) : undefined);
      if (entry) return this.run(entry, work);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The registered versions loaded (or loading) now. */
  loaded(): ModelRef[] {
    return [...this.entries.values()].map((e) => e.ref);
  }

  /** Versions that failed to load and are refused for now: /readyz reports them. */
  failures(): { ref: ModelRef; error: VdetError }[] {
    const now = this.now();
    return [...this.failed.values()].filter((f) => f.until > now).map(({ ref, error }) => ({ ref, error }));
  }

  /** Closes every registered model (the caller closes the default); waiting uses fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) await entry.loading.then((m) => m.close(), () => undefined).catch(() => undefined);
  }

  private startLoad(key: string, ref: ModelRef): Entry<M> {
    const started = this.now();
    const entry: Entry<M> = {
      ref, ready: false, inUse: 0, lastUsed: started,
      loading: this.options.load(ref).then((model) => {
        entry.ready = true;
        this.options.loaded?.(ref, this.now() - started);
        return model;
      }, (error: unknown) => {
        this.entries.delete(key);
        const permanent = isVdetError(error) && !error.retriable;
        if (permanent) {
          const refused = error.code === 'VDET_MODEL_UNAVAILABLE' ? error
            : new VdetError('VDET_MODEL_UNAVAILABLE', `The model "${ref.name}" version ${ref.version} cannot be loaded: ${error.message}`, { cause: error });
          this.failed.set(key, { ref, error: refused, until: this.now() + this.options.retryAfterMs });
          this.options.failed?.(ref, refused);
          this.wake();
          throw refused;
        }
        this.options.failed?.(ref, error);
        this.wake();
        throw error; // a passing failure (the store away): the chunk is retried
      }),
    };
    entry.loading.catch(() => undefined); // every user awaits it; this only keeps a lone failure handled
    this.failed.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  private async run<T>(entry: Entry<M>, work: (model: M) => Promise<T>): Promise<T> {
    entry.inUse++;
    try {
      return await work(await entry.loading);
    } finally {
      entry.inUse--;
      entry.lastUsed = this.now();
      if (entry.inUse === 0) this.wake();
    }
  }

  /** Evicts the least recently used loaded model nobody uses; false when every one is in use (or loading). */
  private evictOne(): boolean {
    let oldest: [string, Entry<M>] | undefined;
    for (const pair of this.entries) {
      const [, entry] = pair;
      if (entry.ready && entry.inUse === 0 && (!oldest || entry.lastUsed < oldest[1].lastUsed)) oldest = pair;
    }
    if (!oldest) return false;
    const [key, entry] = oldest;
    this.entries.delete(key);
    this.options.evicted?.(entry.ref);
    void entry.loading.then((m) => m.close()).catch(() => undefined);
    return true;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
