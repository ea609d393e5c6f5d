import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { VdetError } from '../platform/errors.js';

/** A typed JSON message contract: one schema gives the TypeScript type, the runtime check and the docs. */
export interface JsonContract<S extends TSchema> {
  readonly name: string;
  readonly schema: S;
  encode(value: Static<S>): Buffer;
  /** Parses and checks a message; throws VDET_MESSAGE_INVALID saying what is wrong. */
  decode(bytes: Buffer | null): Static<S>;
}

export function jsonContract<S extends TSchema>(name: string, schema: S): JsonContract<S> {
  const check = TypeCompiler.Compile(schema);
  return {
    name,
    schema,
    encode: (value) => Buffer.from(JSON.stringify(value)),
    decode(bytes) {
      if (!bytes || bytes.length === 0) throw new VdetError('VDET_MESSAGE_INVALID', `${name}: empty message`);
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch (cause) {
        throw new VdetError('VDET_MESSAGE_INVALID', `${name}: not JSON`, { cause });
      }
      if (!check.Check(value)) {
        const first = check.Errors(value).First();
        const where = first ? `${first.path || '/'}: ${first.message}` : 'does not match';
        throw new VdetError('VDET_MESSAGE_INVALID', `${name}: ${where}`);
      }
      return value;
    },
  };
}
