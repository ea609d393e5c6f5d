import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import kafkajs, { Kafka, logLevel, type Admin, type AclEntry } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { ChunkOutcome, JobMessage } from '../../src/contracts/messages.js';
import { StreamResult } from '../../src/contracts/stream.js';
import { connectStore } from '../../src/store/mongo.js';
import type { JobRecord } from '../../src/store/job-record.js';
import { topicNames } from '../../src/contracts/topics.js';
import { allDetections, registerStream, submitJob, waitForJob } from '../helpers/client.js';
import { imagePath } from '../helpers/paths.js';
import { compareToReference, loadReference } from '../helpers/reference.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv, KAFKA_SECURE } from '../helpers/stack.js';

// kafkajs is CommonJS: Node finds these enums only on its default export.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
type AclOperationTypes = kafkajs.AclOperationTypes;
type AclResourceTypes = kafkajs.AclResourceTypes;
type ResourcePatternTypes = kafkajs.ResourcePatternTypes;

/**
 * The ACLs docs/security.md gives, for a deployment's topic prefix: the roles' principal reads, writes, describes and
 * creates the prefix's topics and uses the prefix's consumer groups; a camera may only write the frames topic.
 */
function documentedAcls(prefix: string): AclEntry[] {
  const allow = (principal: string, resourceType: AclResourceTypes, resourceName: string, pattern: ResourcePatternTypes, operation: AclOperationTypes): AclEntry => ({
    resourceType, resourceName, resourcePatternType: pattern, principal, host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
  });
  const role = `User:${KAFKA_SECURE.role.username}`;
  return [
    ...[AclOperationTypes.READ, AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE, AclOperationTypes.CREATE]
      .map((op) => allow(role, AclResourceTypes.TOPIC, prefix, ResourcePatternTypes.PREFIXED, op)),
    ...[AclOperationTypes.READ, AclOperationTypes.DESCRIBE, AclOperationTypes.DELETE]
      .map((op) => allow(role, AclResourceTypes.GROUP, prefix, ResourcePatternTypes.PREFIXED, op)),
    allow(`User:${KAFKA_SECURE.camera.username}`, AclResourceTypes.TOPIC, `${prefix}frames`, ResourcePatternTypes.LITERAL, AclOperationTypes.WRITE),
  ];
}

/** Every role over SASL/SCRAM on TLS, as the documented ACLs allow and no more; cameras with their own credentials. */
describe('Kafka authentication and TLS: every role over SASL_SSL with the documented ACLs', () => {
  const KEY = `vdet_kafka_security_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({ VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY });
  const prefix = stack.env['VDET_TOPIC_PREFIX']!;
  const topics = topicNames(prefix);
  const secure = {
    KAFKA_BROKERS: KAFKA_SECURE.saslTls, KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: KAFKA_SECURE.role.username, KAFKA_SASL_PASSWORD: KAFKA_SECURE.role.password, KAFKA_TLS_CA_FILE: KAFKA_SECURE.caFile,
  };
  const camera = new Kafka({
    brokers: [KAFKA_SECURE.saslPlaintext], logLevel: logLevel.NOTHING, retry: { retries: 1 },
    sasl: { mechanism: 'plain', username: KAFKA_SECURE.camera.username, password: KAFKA_SECURE.camera.password },
  });
  const acls = documentedAcls(prefix);
  let operator: Admin;
  let service: RunningRole | undefined;

  before(async () => {
    operator = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).admin(); // the loopback super user
    await operator.connect();
    await operator.createAcls({ acl: acls });
  });

  after(async () => {
    await service?.stop();
    await operator.deleteAcls({ filters: acls });
    await operator.disconnect();
    await stack.cleanup();
  });

  test('vdet all over SASL_SSL (SCRAM-SHA-512, the stack\'s CA): a job is done with the reference detections', async () => {
    service = startRole('all', { ...stack.env, ...secure });
    await waitStarted([service]);
    const api = { base: await apiUrl(service), key: KEY };
    const id = await submitJob(api, imagePath('dog'));
    const job = await waitForJob(api, id);
    assert.equal(job.status, 'done', JSON.stringify(job));
    const [frame] = await allDetections(api, id);
    assert.deepEqual(compareToReference(frame!.detections, loadReference('dog').detections), []);
    const owned = await operator.fetchTopicMetadata({ topics: [topics.jobs] });
    assert.equal(owned.topics[0]!.name, topics.jobs, 'the role created its topics under the documented ACLs');
  });

  test('a camera with its own SASL credentials may write the frames topic, and nothing else', async () => {
    const api = { base: await apiUrl(service!), key: KEY };
    const token = await registerStream(api, 'secure-cam');
    const results = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).consumer({ groupId: `${stack.id}-results` });
    const seen: StreamResult[] = [];
    await results.connect();
    await results.subscribe({ topic: topics.results, fromBeginning: true });
    await results.run({ eachMessage: async ({ message }) => void seen.push(StreamResult.decode(message.value)) });
    const producer = camera.producer();
    await producer.connect();
    try {
      await producer.send({ topic: topics.frames, messages: [{ key: 'secure-cam', value: readFileSync(imagePath('dog')), headers: { 'vdet-token': token, 'vdet-seq': '0' } }] });
      for (const deadline = Date.now() + 60_000; seen.length === 0;) {
        assert.ok(Date.now() < deadline, 'no result within 60 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(compareToReference(seen[0]!.detections, loadReference('dog').detections), []);
      // The roles' own topics refuse it: a camera cannot forge a chunk or a detector's outcome.
      for (const topic of [topics.chunks, topics.detections, topics.results]) {
        await assert.rejects(producer.send({ topic, messages: [{ key: 'x', value: Buffer.from('forged') }] }), /not authorized|TOPIC_AUTHORIZATION_FAILED/i, topic);
      }
    } finally {
      await producer.disconnect();
      await results.disconnect();
    }
    // Nor can it read what others' cameras saw: the results topic is not even visible to it.
    const admin = camera.admin();
    await admin.connect();
    try {
      await assert.rejects(admin.fetchTopicMetadata({ topics: [topics.results] }), /not authorized|TOPIC_AUTHORIZATION_FAILED/i);
    } finally {
      await admin.disconnect();
    }
  });

  test('a forged job message cannot point a job at another tenant\'s upload: the stored job\'s tenant and upload win', async () => {
    const api = { base: await apiUrl(service!), key: KEY };
    const store = await connectStore(stack.config.mongo);
    try {
      const victim = await waitForJob(api, await submitJob(api, imagePath('dog')));
      const own = await waitForJob(api, await submitJob(api, imagePath('horses')));
      const [victimRecord, ownRecord] = await Promise.all([store.jobs.findOne({ _id: victim.id }), store.jobs.findOne({ _id: own.id })]);
      // The attacker's own queued job, whose message it rewrites to name the victim's upload and tenant.
      const id = randomUUID();
      const now = new Date();
      await store.jobs.insertOne({ ...ownRecord!, _id: id, tenant: 'attacker', status: 'queued', progress: { framesDone: 0, framesTotal: 0 }, createdAt: now, updatedAt: now } as JobRecord);
      const producer = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic: topics.jobs, messages: [{ key: id, value: JobMessage.encode({ v: 1, jobId: id, tenant: victimRecord!.tenant, uploadId: victimRecord!.uploadId, options: {} }) }] });
      await producer.disconnect();
      for (const deadline = Date.now() + 60_000; (await store.jobs.findOne({ _id: id }))?.status !== 'done';) {
        assert.ok(Date.now() < deadline, 'the job did not end within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      const frames = await store.frames.find({ jobId: id }).toArray();
      assert.ok(frames.length > 0 && frames.every((f) => f.tenant === 'attacker'), 'stored under the job\'s own tenant');
      const forged = await store.jobs.findOne({ _id: id });
      assert.ok((ownRecord!.counts?.['horse'] ?? 0) > 0 && (victimRecord!.counts?.['dog'] ?? 0) > 0);
      assert.deepEqual(forged!.counts, ownRecord!.counts, 'its own upload (horses) was processed, not the victim\'s (dog)');
      assert.ok(!('dog' in (forged!.counts ?? {})));
      assert.match(service!.output(), /job message disagrees with the stored job; the stored job wins/);
    } finally {
      await store.close();
    }
  });

  test('a forged chunk outcome naming another tenant is stored under its job\'s own tenant, never the one it names', async () => {
    const store = await connectStore(stack.config.mongo);
    try {
      const api = { base: await apiUrl(service!), key: KEY };
      const victim = await store.jobs.findOne({ _id: (await waitForJob(api, await submitJob(api, imagePath('dog')))).id });
      const own = await store.jobs.findOne({ tenant: { $ne: 'attacker' }, status: 'done' });
      const id = randomUUID();
      const now = new Date();
      await store.jobs.insertOne({ ...own!, _id: id, tenant: 'attacker', status: 'running', progress: { framesDone: 0, framesTotal: 2 }, createdAt: now, updatedAt: now } as JobRecord);
      const producer = new Kafka({ brokers: [...stack.config.kafka.brokers], logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      const frames = [{ frame: 0, ptsMs: 0, detections: [{ label: 'dog', classId: 16, score: 0.9, box: [1, 2, 3, 4] as [number, number, number, number] }] }];
      await producer.send({ topic: topics.detections, messages: [{ key: id, value: ChunkOutcome.encode({ v: 1, kind: 'chunk', jobId: id, tenant: victim!.tenant, chunk: 0, frames }) }] });
      await producer.disconnect();
      for (const deadline = Date.now() + 60_000; (await store.frames.countDocuments({ jobId: id })) === 0;) {
        assert.ok(Date.now() < deadline, 'the forged chunk was not merged within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      const stored = await store.frames.find({ jobId: id }).toArray();
      assert.ok(stored.every((f) => f.tenant === 'attacker'), `stored under the job's tenant: ${stored.map((f) => f.tenant).join(', ')}`);
      assert.equal(await store.frames.countDocuments({ jobId: id, tenant: victim!.tenant }), 0, 'nothing reaches the tenant it names');
      assert.match(service!.output(), /chunk outcome disagrees with the stored job; the stored job wins/);
    } finally {
      await store.close();
    }
  });

  test('a wrong password stops start-up with an error that names the cause', async (t) => {
    const wrong = startRole('processor', { ...stack.env, ...secure, KAFKA_SASL_PASSWORD: 'not-the-password' });
    const code = await new Promise<number | null>((resolve) => wrong.child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(wrong.output(), /SASL SCRAM SHA512 authentication failed|Authentication failed/i);
    t.diagnostic(wrong.output().split('\n').filter((l) => /authentication/i.test(l)).slice(-1)[0]?.slice(0, 400) ?? '');
  });
});
