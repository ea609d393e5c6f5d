import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { insertOnce } from '../../src/store/documents.js';
import { createTestEnv } from '../helpers/stack.js';

const env = createTestEnv();
after(() => env.cleanup());

test('insertOnce writes what is new, keeps what is there, and a full replay changes nothing', async () => {
  const client = await new MongoClient(env.config.mongo.url).connect();
  try {
    const frames = client.db(env.config.mongo.database).collection<{ _id: string; jobId: string; frame: number; run: number }>('frames');
    await frames.createIndex({ jobId: 1, frame: 1 }, { unique: true });
    const run = (from: number, to: number, n: number) => Array.from({ length: to - from }, (_, i) => ({ _id: `j:${from + i}`, jobId: 'j', frame: from + i, run: n }));
    await insertOnce(frames, run(2, 5, 1)); // a chunk's frames 2-4 were written, then the merger died
    await insertOnce(frames, run(0, 8, 2)); // the redelivered, larger write
    await insertOnce(frames, run(0, 8, 3)); // a full replay
    await insertOnce(frames, []);
    const stored = await frames.find().sort({ frame: 1 }).toArray();
    assert.deepEqual(stored.map((f) => [f.frame, f.run]), [[0, 2], [1, 2], [2, 1], [3, 1], [4, 1], [5, 2], [6, 2], [7, 2]]);
  } finally {
    await client.close();
  }
});
