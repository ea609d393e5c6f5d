import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/platform/config.js';

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

test('a bootstrap key that is short or a documented placeholder stops start-up with a sentence saying why', () => {
  for (const [key, why] of [
    ['change-me-bootstrap-key', /placeholder/], ['CHANGE-ME', /placeholder/], ['changeme-please-0123456789abcdefghij', /placeholder/],
    ['vdet_short_key_0123', /at least 32 characters \(it has 19\)/],
  ] as const) {
    assert.throws(() => loadConfig({ VDET_BOOTSTRAP_KEY: key }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'VDET_CONFIG_INVALID');
      assert.match(error.message, /VDET_BOOTSTRAP_KEY/);
      assert.match(error.message, why, key);
      assert.ok(!error.message.includes(key), 'the key itself is not repeated in the error');
      return true;
    });
  }
  assert.equal(loadConfig({ VDET_BOOTSTRAP_KEY: 'vdet_0123456789abcdef0123456789abcdef' }).http.bootstrapKey, 'vdet_0123456789abcdef0123456789abcdef');
  assert.equal(loadConfig({}).http.bootstrapKey, undefined, 'no bootstrap key at all is fine');
});

test('media signing key, ops token and webhook allow-list are checked too', () => {
  assert.throws(() => loadConfig({ VDET_MEDIA_TOKEN_KEY: 'short' }), /VDET_MEDIA_TOKEN_KEY must be at least 32/);
  assert.throws(() => loadConfig({ VDET_OPS_TOKEN: 'change-me' }), /VDET_OPS_TOKEN is a documented placeholder/);
  assert.throws(() => loadConfig({ VDET_WEBHOOK_ALLOW_HOSTS: 'hooks.internal, not a host' }), /VDET_WEBHOOK_ALLOW_HOSTS.*not a host/);
  assert.deepEqual(loadConfig({ VDET_WEBHOOK_ALLOW_HOSTS: 'hooks.internal, 10.0.0.0/8' }).http.webhookAllowHosts, ['hooks.internal', '10.0.0.0/8']);
});

test('Kafka security: SASL and TLS settings are read and checked at start-up, files included', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp(`${(await import('node:os')).tmpdir()}/vdet-kafka-config-`);
  await writeFile(`${dir}/ca.pem`, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  await writeFile(`${dir}/password`, 'from-a-mounted-secret\n');
  assert.deepEqual(loadConfig({}).kafka.security, { protocol: 'plaintext' });
  const secure = loadConfig({
    KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'vdet',
    KAFKA_SASL_PASSWORD_FILE: `${dir}/password`, KAFKA_TLS_CA_FILE: `${dir}/ca.pem`,
  }).kafka.security;
  assert.deepEqual(secure.sasl, { mechanism: 'scram-sha-512', username: 'vdet', password: 'from-a-mounted-secret' });
  assert.match(secure.tls?.ca ?? '', /BEGIN CERTIFICATE/);
  const refusals: [Record<string, string>, RegExp][] = [
    [{ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_USERNAME: 'vdet', KAFKA_SASL_PASSWORD: 'p' }, /needs KAFKA_SASL_MECHANISM, one of plain, scram-sha-256, scram-sha-512/],
    [{ KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'vdet' }, /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/],
    [{ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_TLS_CA_FILE: `${dir}/missing.pem` }, /KAFKA_TLS_CA_FILE=".*missing.pem" cannot be read \(ENOENT\)/],
    [{ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_TLS_CERT_FILE: `${dir}/ca.pem` }, /KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together/],
    [{ KAFKA_TLS_CA_FILE: `${dir}/ca.pem` }, /KAFKA_TLS_CA_FILE is set but KAFKA_SECURITY_PROTOCOL=plaintext uses no TLS/],
    [{ KAFKA_SASL_USERNAME: 'vdet' }, /KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL=plaintext uses no SASL/],
    [{ KAFKA_SECURITY_PROTOCOL: 'tls' }, /KAFKA_SECURITY_PROTOCOL="tls" must be one of plaintext, ssl, sasl_plaintext, sasl_ssl/],
  ];
  for (const [env, problem] of refusals) assert.throws(() => loadConfig(env), problem, JSON.stringify(env));
});
