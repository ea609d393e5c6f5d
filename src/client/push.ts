import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadClientConfig } from '../platform/client-config.js';
import { loadConfig } from '../platform/config.js';
import { FRAME_HEADERS, STREAM_NAME, StreamResult } from '../contracts/stream.js';
import { createKafkaBus } from '../kafka/kafka.js';
import { createLogger } from '../platform/logger.js';
import { topicNames } from '../contracts/topics.js';
import { mediaLimits, probeMedia } from '../media/ffmpeg.js';
import { encodeJpegFrames } from '../media/jpeg-frames.js';
import { parse, UsageError, type ClientIo } from './client-io.js';

export const PUSH_USAGE = `usage: vdet push FILE --stream ID [options]

Plays a video file as a live camera: JPEG frames into Kafka's vdet.frames (key = the stream id) at the video's frame
rate, and prints each frame's detections as they come back on vdet.results, with their latency. Kafka: KAFKA_BROKERS
(default 127.0.0.1:9092) and VDET_TOPIC_PREFIX (default vdet.).

  --stream ID        the stream (camera) id: letters, digits, . _ : -
  --fps N            frames a second (default: the video's own)
  --loop             start over at the end, until Ctrl-C (or --frames)
  --frames N         stop after N frames
  --quality Q        JPEG quality, 2 (best) to 31 (default 3)
  --token T          the stream's ingest token (default VDET_STREAM_TOKEN), sent as each frame's vdet-token header;
                     mint one with POST /v1/streams/{id}/tokens (needed unless the service runs VDET_STREAM_TOKENS=off)
  --wait-ms MS       after the last frame, wait this long at most for its results (default 10000)
  --brokers LIST     instead of KAFKA_BROKERS
Results go to stdout: one line a frame (JSON Lines when stdout is not a terminal); the closing summary to stderr.`;

interface PushArgs {
  file: string;
  stream: string;
  fps: number | undefined;
  loop: boolean;
  frames: number | undefined;
  quality: number;
  token: string | undefined;
  waitMs: number;
  brokers: string | undefined;
}

export function parsePushArgs(argv: readonly string[]): PushArgs | 'help' {
  const { values, positionals } = parse(argv, {
    stream: { type: 'string' }, fps: { type: 'string' }, loop: { type: 'boolean' }, frames: { type: 'string' },
    quality: { type: 'string' }, token: { type: 'string' }, 'wait-ms': { type: 'string' }, brokers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError(`one video file to push\n\n${PUSH_USAGE}`);
  if (!values.stream || !STREAM_NAME.test(values.stream)) throw new UsageError('--stream ID is needed (letters, digits, . _ : -, at most 128)');
  const number = (flag: string, raw: string | undefined, min: number, max: number, integer: boolean) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
    return n;
  };
  return {
    file,
    stream: values.stream,
    fps: number('fps', values.fps, 0.01, 240, false),
    loop: values.loop === true,
    frames: number('frames', values.frames, 1, Number.MAX_SAFE_INTEGER, true),
    quality: number('quality', values.quality, 2, 31, true) ?? 3,
    token: values.token,
    waitMs: number('wait-ms', values['wait-ms'], 0, 600_000, true) ?? 10_000,
    brokers: values.brokers,
  };
}

/** Latency figures of a run: p50, p95, p99 and max, in ms. */
export function latencySummary(latencies: readonly number[]): string {
  if (latencies.length === 0) return 'no results';
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return `latency p50 ${at(0.5).toFixed(0)}, p95 ${at(0.95).toFixed(0)}, p99 ${at(0.99).toFixed(0)}, max ${sorted.at(-1)!.toFixed(0)} ms`;
}

/** A result as a person reads it: `seq 12  134 ms  3 objects: dog 0.91, car 0.55, car 0.41`. */
export function resultLine(result: StreamResult): string {
  const found = result.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ');
  return `seq ${result.seq}  ${result.latencyMs.toFixed(0)} ms  ${result.detections.length} object${result.detections.length === 1 ? '' : 's'}${found ? `: ${found}` : ''}`;
}

export async function runPush(argv: readonly string[], io: ClientIo): Promise<number> {
  const args = parsePushArgs(argv);
  if (args === 'help') {
    io.stdout.write(`${PUSH_USAGE}\n`);
    return 0;
  }
  const config = loadClientConfig(io.env, { brokers: args.brokers });
  const topics = topicNames(config.kafka.topicPrefix);
  const limits = mediaLimits(loadConfig(io.env).processor); // the processor's own limits: the same guards on this ffmpeg
  const probe = await probeMedia(args.file, limits);
  if (probe.isImage) throw new UsageError(`${args.file} is a still image; vdet push plays videos`);
  const fps = args.fps ?? (probe.fps > 0 ? probe.fps : 25);
  const token = args.token ?? io.env['VDET_STREAM_TOKEN'];
  const bus = createKafkaBus(config.kafka, createLogger('silent', 'push'));
  const human = io.stdout.isTTY === true;
  const latencies: number[] = [];
  const seen = new Set<number>();
  let lastResultAt = Date.now();
  let outOfOrder = 0;
  let lastSeq = -1;
  const groupId = `${config.kafka.topicPrefix}push-${randomBytes(6).toString('hex')}`;
  try {
    // Listen first, from the topic's end: every result of a frame sent below arrives after this.
    const watcher = await bus.consumeBatches({
      groupId, topics: [topics.results], concurrency: 4, startAt: 'latest',
      handleBatch: async (messages) => {
        for (const message of messages) {
          if (message.key !== args.stream) continue;
          let result: StreamResult;
          try {
            result = StreamResult.decode(message.value);
          } catch {
            continue; // not a result this vdet wrote; nothing to show
          }
          if (seen.has(result.seq)) continue;
          seen.add(result.seq);
          if (result.seq < lastSeq) outOfOrder++;
          lastSeq = Math.max(lastSeq, result.seq);
          latencies.push(result.latencyMs);
          lastResultAt = Date.now();
          io.stdout.write(`${human ? resultLine(result) : JSON.stringify(result)}\n`);
        }
      },
    });
    let started = Date.now();
    let sent = 0;
    await encodeJpegFrames({
      path: args.file, fps, loop: args.loop, quality: args.quality, limits,
      onFrame: async (jpeg, index) => {
        if (io.signal?.aborted) return false;
        if (index === 0) started = Date.now(); // the clock starts with the first frame, not with ffmpeg's start-up
        const due = started + (index * 1000) / fps;
        if (due > Date.now()) await sleep(due - Date.now());
        const headers: Record<string, string> = { [FRAME_HEADERS.ts]: String(Date.now()), [FRAME_HEADERS.seq]: String(index) };
        if (token) headers[FRAME_HEADERS.token] = token;
        await bus.send(topics.frames, [{ key: args.stream, value: jpeg, headers }]);
        sent++;
        return args.frames === undefined || sent < args.frames;
      },
    });
    const sentFor = (Date.now() - started) / 1000;
    // Results of the last frames: until each frame has one, or none came for a while (dropped frames never answer).
    const deadline = Date.now() + args.waitMs;
    lastResultAt = Date.now();
    while (seen.size < sent && Date.now() < deadline && Date.now() - lastResultAt < Math.min(args.waitMs, 5_000) && !io.signal?.aborted) await sleep(50);
    await watcher.stop();
    const missing = sent - seen.size;
    io.stderr.write(`pushed ${sent} frames of ${args.file} to stream ${args.stream} in ${sentFor.toFixed(1)} s (${fps} frames/s); `
      + `${seen.size} results${missing > 0 ? `, ${missing} without one (dropped by the stream's policy, or still on their way)` : ''}`
      + `${outOfOrder > 0 ? `, ${outOfOrder} out of order` : ''}; ${latencySummary(latencies)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof Error && error.name.startsWith('KafkaJS')) {
      throw new Error(`cannot reach Kafka at ${config.kafka.brokers.join(',')} (${error.message}); is vdet's broker running? (KAFKA_BROKERS or --brokers)`);
    }
    throw error;
  } finally {
    await bus.deleteGroup(groupId).catch(() => undefined);
    await bus.close();
  }
}
