import { VdetError } from './errors.js';

/**
 * vdet's one page-cursor codec. A cursor is opaque to clients: base64url of `<tag>:<part>:<part>…`, the tag keeping
 * one listing's cursors from being taken for another's, each part letters, digits, `_` or `-`. Decoding checks the
 * tag and the number of parts; a cursor this service did not write is VDET_CURSOR_INVALID, never a query error.
 */
export interface PageCursor {
  encode(...parts: readonly (string | number)[]): string;
  /** The parts of a cursor of this kind, or VDET_CURSOR_INVALID. */
  decode(cursor: string): string[];
  /** The parts, or undefined when the cursor is not of this kind (to try another kind). */
  tryDecode(cursor: string): string[] | undefined;
}

const PART = /^[\w-]{1,128}$/;

export function invalidCursor(): VdetError {
  return new VdetError('VDET_CURSOR_INVALID', 'The cursor is not one this api returned.');
}

/** A cursor of `parts` parts after `tag` (an empty tag writes the parts alone, as the jobs listing always has). */
export function pageCursor(tag: string, parts: number): PageCursor {
  const prefix = tag === '' ? '' : `${tag}:`;
  const tryDecode = (cursor: string): string[] | undefined => {
    if (cursor.length > 512) return undefined;
    const text = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!text.startsWith(prefix)) return undefined;
    const values = text.slice(prefix.length).split(':');
    return values.length === parts && values.every((v) => PART.test(v)) ? values : undefined;
  };
  return {
    encode: (...values) => Buffer.from(prefix + values.join(':')).toString('base64url'),
    tryDecode,
    decode(cursor) {
      const values = tryDecode(cursor);
      if (!values) throw invalidCursor();
      return values;
    },
  };
}

/** A cursor part that must be a whole number of at most `digits` digits, or VDET_CURSOR_INVALID. */
export function cursorInteger(part: string, digits = 15): number {
  if (part.length > digits || !/^\d+$/.test(part)) throw invalidCursor();
  return Number(part);
}
