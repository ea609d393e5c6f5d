import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyCache } from '../../src/api/auth.js';

test('a flood of junk keys cannot push a tenant\'s key out of the cache, and each junk key is looked up once', async () => {
  const lookups: string[] = [];
  const cache = new KeyCache({
    verify: async (key: string) => {
      lookups.push(key);
      return key === 'vdet_good' ? { keyId: 'k1', tenant: 't1' } : undefined;
    },
  });
  assert.deepEqual(await cache.identify('vdet_good'), { keyId: 'k1', tenant: 't1' });
  for (let i = 0; i < 20_000; i++) assert.equal(await cache.identify(`vdet_junk_${i}`), undefined);
  assert.equal(await cache.identify('vdet_junk_19999'), undefined);
  lookups.length = 0;
  assert.deepEqual(await cache.identify('vdet_good'), { keyId: 'k1', tenant: 't1' });
  assert.deepEqual(cache.known('vdet_good'), { keyId: 'k1', tenant: 't1' });
  await cache.identify('vdet_junk_19999');
  assert.deepEqual(lookups, [], 'the good key and a recent junk key were answered from the cache');
});
