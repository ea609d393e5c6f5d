import assert from 'node:assert/strict';

/**
 * Polls `check` until it holds, failing with "timed out waiting for <what>" after `timeoutMs`; resolves with the
 * time it waited. `what` may be a function, for a message that says how far things got.
 */
export async function until(what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    assert.ok(Date.now() - started < timeoutMs, `timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}
