import { parseAllowEntry } from './address-policy.js';

/** The environment, as vdet reads it: nothing else in vdet reads `process.env` (config.ts and client-config.ts do). */
export type Env = Record<string, string | undefined>;

/** Reads variables with their defaults and bounds, collecting every problem, so start-up names all of them at once. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    if (value === undefined || value === '') return fallback;
    return value.trim();
  }

  optionalString(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    return this.number(name, fallback, min, max, true);
  }

  number(name: string, fallback: number, min: number, max: number, integer = false): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  /** A comma-separated list of host names or CIDRs (an address allowlist); `example` goes into the complaint. */
  hostList(name: string, example: string): string[] {
    const entries = this.string(name, '').split(',').map((h) => h.trim()).filter(Boolean);
    const bad = entries.filter((entry) => parseAllowEntry(entry) === undefined);
    this.check(bad.length === 0, `${name} must list host names or CIDRs (e.g. ${example}); not: ${bad.join(', ')}`);
    return entries;
  }

  check(ok: boolean, problem: string): void {
    if (!ok) this.problems.push(problem);
  }
}

/** Freezes a configuration all the way down: nothing changes it after start-up. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
