import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cursorInteger, pageCursor } from '../../src/platform/page-cursor.js';
import { VdetError } from '../../src/platform/errors.js';

const invalid = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof VdetError && e.code === 'VDET_CURSOR_INVALID');

test('a cursor round-trips its parts and is opaque (base64url)', () => {
  const cursor = pageCursor('c', 2);
  const written = cursor.encode(12, 7);
  assert.match(written, /^[\w-]+$/);
  assert.deepEqual(cursor.decode(written), ['12', '7']);
  assert.deepEqual(pageCursor('', 2).decode(pageCursor('', 2).encode(1700000000000, 'job-1')), ['1700000000000', 'job-1']);
});

test('one listing’s cursor is not taken for another’s, nor one of another shape', () => {
  const frames = pageCursor('f', 1);
  invalid(() => frames.decode(pageCursor('t', 1).encode(5)));
  invalid(() => frames.decode(pageCursor('f', 2).encode(5, 6)));
  assert.equal(pageCursor('c', 2).tryDecode(pageCursor('c', 1).encode('start')), undefined);
});

test('forged cursors are VDET_CURSOR_INVALID, never a query', () => {
  const frames = pageCursor('f', 1);
  for (const text of ['f:', 'f:{"$gt":1}', 'f:1:2', 'x', '', 'f:' + 'a'.repeat(200)]) invalid(() => frames.decode(Buffer.from(text).toString('base64url')));
  invalid(() => frames.decode('a'.repeat(600)));
  invalid(() => cursorInteger('12a'));
  invalid(() => cursorInteger('12345678901', 10));
  assert.equal(cursorInteger('0042'), 42);
});
