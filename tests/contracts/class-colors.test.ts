import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLASS_COLORS, classColorOf, contrastRatio } from '../../src/contracts/class-colors.js';
import { classColor } from '../../src/media/annotate.js';

test('every class has a distinct fill with text readable on it (WCAG AA, contrast ≥ 4.5)', () => {
  assert.equal(new Set(CLASS_COLORS.map((c) => c.fill)).size, CLASS_COLORS.length);
  for (const { fill, text } of CLASS_COLORS) {
    const ratio = contrastRatio(fill, text === '#000' ? '#000000' : '#ffffff');
    assert.ok(ratio >= 4.5, `${text} on ${fill}: contrast ${ratio.toFixed(2)}`);
  }
});

test('contrast is computed as WCAG does', () => {
  assert.ok(Math.abs(contrastRatio('#000000', '#ffffff') - 21) < 1e-9);
  assert.ok(Math.abs(contrastRatio('#ffffff', '#777777') - 4.48) < 0.01);
});

test('the palette repeats for any class id, negative ones included', () => {
  assert.deepEqual(classColorOf(0), classColorOf(CLASS_COLORS.length));
  assert.deepEqual(classColorOf(-1), classColorOf(CLASS_COLORS.length - 1));
});

test('the annotated video draws with the same palette', () => {
  for (let id = 0; id < 80; id++) {
    const { fill, text } = classColorOf(id);
    assert.deepEqual(classColor(id), [`0x${fill.slice(1).toUpperCase()}`, text === '#fff' ? 'white' : 'black']);
  }
});
