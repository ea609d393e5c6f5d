import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addReadinessCheck, isOperator, readiness, readinessFor, type ReadinessReport } from '../../src/runtime/ops-server.js';

test('/readyz detail (the dependencies\' error text) is for the operator\'s VDET_OPS_TOKEN only', () => {
  const token = 'ops_0123456789abcdef0123456789abcdef';
  const report: ReadinessReport = { status: 'unavailable', checks: { kafka: { ok: false, error: 'connect ECONNREFUSED 10.0.3.4:9092' } } };
  assert.deepEqual(readinessFor(report, false), { status: 'unavailable' });
  assert.deepEqual(readinessFor(report, true), report);
  assert.ok(isOperator(`Bearer ${token}`, token));
  for (const header of [undefined, token, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, 'Bearer ']) assert.ok(!isOperator(header, token), String(header));
  assert.ok(!isOperator('Bearer ', undefined), 'no token configured: nobody');
  assert.ok(!isOperator('Bearer anything', undefined));
});

test('a role\'s own check (a detector\'s models) degrades /readyz with its detail, and leaves with its removal', async () => {
  const up = { ping: async () => undefined };
  const infra = { bus: up, store: up, progress: up } as unknown as Parameters<typeof readiness>[0];
  const remove = addReadinessCheck('models', () => ({ ok: false, error: 'm@1: the file is no longer stored' }));
  const report = await readiness(infra);
  assert.equal(report.status, 'degraded');
  assert.deepEqual(report.checks['models'], { ok: false, error: 'm@1: the file is no longer stored' });
  remove();
  assert.deepEqual(await readiness(infra), { status: 'ok', checks: { kafka: { ok: true }, mongo: { ok: true }, redis: { ok: true } } });
});
