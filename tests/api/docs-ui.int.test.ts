import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** A person's first look: Swagger UI at /docs, authorised with a key, runs "list jobs" and gets a 200. */
describe('Swagger UI', () => {
  const KEY = `vdet_docs_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY });
  let api: RunningRole;
  let browser: Browser;
  let base = '';

  before(async () => {
    assert.ok(CHROMIUM, "Debian's chromium is needed (.ci/run installs it)");
    api = startRole('api', stack.env);
    await waitStarted([api]);
    base = await apiUrl(api);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await stack.cleanup();
  });

  test('/docs: authorize with a key, try "list jobs", see 200', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
    });
    const response = await page.goto(`${base}/docs/`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script runs on /docs');
    assert.match(csp, /frame-ancestors 'none'/);
    await page.locator('.auth-wrapper button.authorize').first().click();
    const bearer = page.locator('.auth-container').filter({ hasText: 'bearer' });
    await bearer.locator('input').first().fill(KEY);
    await bearer.locator('button.authorize').click();
    await page.locator('.modal-ux button.btn-done').first().click();
    const operation = page.locator('#operations-jobs-get_v1_jobs');
    await operation.locator('.opblock-summary').first().click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    assert.equal((await status.innerText()).trim(), '200');
    assert.deepEqual(violations, [], 'Swagger UI works under its Content-Security-Policy');
    await page.screenshot({ path: `${process.env['TMPDIR'] ?? '/tmp'}/vdet-docs.png` });
    await page.close();
  });
});
