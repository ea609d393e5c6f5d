/**
 * Every Kafka topic and consumer group vdet uses, derived from one prefix (VDET_TOPIC_PREFIX, default `vdet.`) so
 * that several deployments, or several test runs, can share a broker. docs/topics.md describes each contract (its
 * table and field lists are generated from here and from the schemas: npm run docs:topics). The names; what travels
 * on each, and who writes and reads it, is {@link TOPIC_CONTRACTS}.
 */
export interface TopicNames {
  readonly jobs: string;
  readonly chunks: string;
  readonly detections: string;
  readonly dlq: string;
  readonly frames: string;
  readonly results: string;
}

/** What travels on a topic, who writes it and who reads it: docs/topics.md's table is made from this (scripts/topics-doc.ts). */
export interface TopicContract {
  readonly key: string;
  /** The value's contract: a JSON contract's name (its fields are listed from its schema), or a sentence. */
  readonly value: string;
  readonly producers: string;
  /** The consumer and its group (`groupId`), or who else reads it. */
  readonly consumers: string;
}

export const TOPIC_CONTRACTS: { readonly [K in keyof TopicNames]: TopicContract } = {
  jobs: { key: 'job id', value: 'JobMessage', producers: 'api', consumers: 'processor (`vdet.processor`)' },
  chunks: {
    key: '`<job id>/<chunk index>`; a stream\'s: `<tenant>/<stream id>`', value: 'a binary chunk: `ChunkHeader` and its frames',
    producers: 'processor', consumers: 'detector (`vdet.detector`)',
  },
  detections: { key: 'job id; a stream\'s: its stream id', value: 'ChunkOutcome', producers: 'detector, processor (plans), merger (`track`)', consumers: 'merger (`vdet.merger`)' },
  dlq: { key: 'the source key', value: 'the source value, unchanged; headers say where it came from and why', producers: 'any consumer', consumers: 'people and tools' },
  frames: { key: 'stream id', value: 'one encoded image (JPEG, PNG, WebP)', producers: 'cameras, apps', consumers: 'processor (`vdet.processor-streams`)' },
  results: { key: 'stream id', value: 'StreamResult', producers: 'merger', consumers: 'anyone (the operator\'s consumers)' },
};

export function topicNames(prefix: string): TopicNames {
  return {
    jobs: `${prefix}jobs`,
    chunks: `${prefix}chunks`,
    detections: `${prefix}detections`,
    dlq: `${prefix}dlq`,
    frames: `${prefix}frames`,
    results: `${prefix}results`,
  };
}

export type Role = 'api' | 'processor' | 'detector' | 'merger';

export function groupId(prefix: string, role: Exclude<Role, 'api'> | 'processor-streams'): string {
  return `${prefix}${role}`;
}
