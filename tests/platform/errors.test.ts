import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, VdetError } from '../../src/platform/errors.js';

test('every error code is documented in docs/errors.md, and the doc lists no unknown code', () => {
  const doc = readFileSync('docs/errors.md', 'utf8');
  const documented = new Set(doc.match(/VDET_[A-Z_]+/g));
  for (const code of Object.keys(ERROR_CODES)) assert.ok(documented.has(code), `${code} is not in docs/errors.md`);
  for (const code of documented) assert.ok(code in ERROR_CODES || code === 'VDET_NOT_FOUND', `docs/errors.md lists unknown ${code}`);
});

test('codes carry their HTTP status and retriable flag', () => {
  const error = new VdetError('VDET_DEPENDENCY_UNAVAILABLE', 'Kafka is down.');
  assert.equal(error.status, 503);
  assert.equal(error.retriable, true);
  assert.equal(new VdetError('VDET_JOB_NOT_FOUND', 'x').status, 404);
});
