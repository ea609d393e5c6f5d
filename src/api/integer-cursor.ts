import { VdetError } from '../platform/errors.js';

/**
 * An opaque page cursor holding one integer (the last frame or track id of a page): base64url of `<tag>:<n>`, the
 * tag keeping one route's cursors from being taken for another's. A cursor this api did not write is VDET_CURSOR_INVALID.
 */
export function integerCursor(tag: string) {
  const pattern = new RegExp(`^${tag}:(\\d{1,10})$`);
  return {
    encode: (n: number): string => Buffer.from(`${tag}:${n}`).toString('base64url'),
    decode(cursor: string): number {
      const match = pattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!match) throw new VdetError('VDET_CURSOR_INVALID', 'The cursor is not one this api returned.');
      return Number(match[1]);
    },
  };
}
