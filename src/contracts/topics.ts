/**
 * Every Kafka topic and consumer group vdet uses, derived from one prefix (VDET_TOPIC_PREFIX, default `vdet.`) so
 * that several deployments, or several test runs, can share a broker. docs/topics.md describes each contract.
 */
export interface TopicNames {
  /** key = job id; value = {@link JobMessage} JSON. Producer: api. Consumer: processor. */
  readonly jobs: string;
  /** key = `<job id>/<chunk>` (a stream's: its id); value = a binary chunk of frames. Producer: processor. Consumer: detector. */
  readonly chunks: string;
  /** key = job id; value = {@link ChunkOutcome} JSON. Producers: detector, processor. Consumer: merger. */
  readonly detections: string;
  /** key = the source key; headers say the source topic, partition, offset, error code and attempts. */
  readonly dlq: string;
  /** key = stream id; value = one encoded image (JPEG, PNG, WebP). Producers: cameras, apps. Consumer: processor. */
  readonly frames: string;
  /** key = stream id; value = {@link StreamResult} JSON. Producer: merger. Consumers: anyone. */
  readonly results: string;
}

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
