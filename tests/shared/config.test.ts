import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/shared/config.js';

test('defaults point at the local stack', () => {
  const config = loadConfig({});
  assert.deepEqual(config.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(config.mongo.url, 'mongodb://127.0.0.1:27017/');
  assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(config.http.port, 8080);
  assert.match(config.model.path, /yolox_nano\.onnx$/);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.kafka));
});

test('every bad variable is named in one error', () => {
  assert.throws(
    () => loadConfig({ VDET_HTTP_PORT: 'eighty', KAFKA_BROKERS: 'nohost', VDET_DEVICES: 'gpu', REDIS_URL: 'http://x' }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'VDET_CONFIG_INVALID');
      for (const name of ['VDET_HTTP_PORT', 'KAFKA_BROKERS', 'VDET_DEVICES', 'REDIS_URL']) assert.match(error.message, new RegExp(name));
      return true;
    },
  );
});

test('a chunk must fit a Kafka message', () => {
  assert.throws(() => loadConfig({ VDET_CHUNK_FRAMES: '64', VDET_KAFKA_MAX_MESSAGE_BYTES: String(2 * 1024 * 1024) }), /VDET_CHUNK_FRAMES/);
});
