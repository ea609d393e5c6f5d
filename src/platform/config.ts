import os from 'node:os';
import path from 'node:path';
import { VdetError } from './errors.js';
import { EnvReader, deepFreeze, type Env } from './env-reader.js';
import { readKafkaSecurity, type KafkaSecurity } from './kafka-security.js';
import { MODEL_FORMATS, PAD_PLACEMENTS, type ModelFormat, type PadPlacement } from './model-settings.js';
import { secretProblem } from './secrets.js';

/**
 * The whole configuration of a vdet process, read once from the environment at start-up and frozen.
 * Nothing else in vdet reads `process.env`. docs/configuration.md lists every variable.
 */
export interface Config {
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly topicPrefix: string;
    readonly partitions: number;
    readonly maxMessageBytes: number;
    /**
     * How long one send may wait for the brokers' acknowledgement, kafkajs' own retries included, before the
     * producer is taken for stuck: the send fails as an outage (retried) and the next one gets a new producer.
     */
    readonly sendTimeoutMs: number;
    /** How every client authenticates to the brokers (KAFKA_SECURITY_PROTOCOL and friends); plaintext when absent. */
    readonly security: KafkaSecurity;
  };
  readonly mongo: { readonly url: string; readonly database: string };
  readonly redis: { readonly url: string; readonly keyPrefix: string };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly uploadMaxBytes: number;
    /** A key made to exist at start-up (first use, demos, tests); never logged. */
    readonly bootstrapKey: string | undefined;
    readonly bootstrapTenant: string;
    /** Requests per key per minute. */
    readonly rateLimitPerMinute: number;
    /** Hosts or CIDRs a job's `url` may name beyond public addresses (VDET_FETCH_ALLOW_HOSTS). */
    readonly fetchAllowHosts: readonly string[];
    /** A job's `url`: seconds for each request to answer, and for the whole file. */
    readonly fetchAnswerTimeoutS: number;
    readonly fetchTimeoutS: number;
    /** Requests a minute per client address, before authentication. */
    readonly rateLimitPerAddressPerMinute: number;
    /** Invalid API keys a minute per client address before it gets 429 without a key lookup. */
    readonly authFailuresPerMinute: number;
    /** Fastify's trustProxy: whose X-Forwarded-For names the client (false, true, a hop count, or addresses/CIDRs). */
    readonly trustProxy: boolean | number | string;
    /** Whether job callbacks may target loopback and private addresses (tests, single-network installs). */
    readonly webhookAllowPrivate: boolean;
    /** Host names and CIDRs job callbacks may target although they are not public (VDET_WEBHOOK_ALLOW_HOSTS). */
    readonly webhookAllowHosts: readonly string[];
    /** Signs media tokens (signed source URLs); undefined: a key generated once and kept in MongoDB. Never logged. */
    readonly mediaTokenKey: string | undefined;
    /** Bearer token that shows /readyz's dependency detail (VDET_OPS_TOKEN); undefined: nobody sees it over HTTP. */
    readonly opsToken: string | undefined;
  };
  readonly model: {
    readonly path: string;
    readonly labelsPath: string | undefined;
    /** The input size where the file declares none (a dynamic input without imgsz), and the processor's when it has no model file. */
    readonly inputSize: number;
    /** The output layout (VDET_MODEL_FORMAT): `auto` reads it from the file's shapes and metadata. */
    readonly format: ModelFormat | 'auto';
    /** Where the letterboxed image sits in the input (VDET_MODEL_PAD): `auto` is top-left for yolox, centred otherwise. */
    readonly pad: PadPlacement | 'auto';
  };
  readonly processor: {
    readonly workDir: string;
    readonly chunkFrames: number;
    readonly maxWidth: number;
    readonly maxHeight: number;
    readonly maxDurationS: number;
    readonly maxFrames: number;
    readonly ffmpegTimeoutS: number;
    /**
     * How a job's frames travel on vdet.chunks: `video`, whole GOPs of the upload, remuxed, which the detector decodes
     * (where segment-plan.ts accepts the upload; others go raw); raw pixels; or JPEG files.
     */
    readonly wireFormat: 'video' | 'jpeg' | 'raw';
    /** `video` chunks gather whole GOPs until they hold at least this many frames for the model. */
    readonly videoChunkFrames: number;
    /** ffmpeg decoder threads; 0: ffmpeg's own choice (one a core). */
    readonly ffmpegThreads: number;
  };
  readonly detector: {
    readonly devices: string;
    /** CUDA_VISIBLE_DEVICES as the process got it (undefined when unset). */
    readonly cudaVisibleDevices: string | undefined;
    readonly batchMax: number;
    /** Largest batch a CPU session runs (VDET_CPU_BATCH_MAX): batches buy a CPU nothing but wait (docs/benchmarks.md). */
    readonly cpuBatchMax: number;
    readonly batchWaitMs: number;
    readonly chunksInFlight: number;
    /** ffmpeg decoder threads for each `video` chunk the detector decodes (chunks in flight decode side by side). */
    readonly decodeThreads: number;
    readonly minScore: number;
    /** Registered models a detector keeps loaded beside its default (VDET_DETECTOR_MODELS_MAX): each holds a session per device. */
    readonly modelsMax: number;
    /** Where a detector keeps the registered model files it fetched from the store (VDET_MODEL_CACHE_DIR). */
    readonly modelCacheDir: string;
  };
  readonly streams: {
    /** Largest pushed frame accepted (bytes). */
    readonly frameMaxBytes: number;
    /** Most frames of one stream in a chunk. */
    readonly chunkFrames: number;
    /** How pushed frames travel to the detector: `image`, the file as pushed (decoded once, there); `raw`, decoded pixels. */
    readonly wireFormat: 'image' | 'raw';
    /**
     * Whether each pushed frame must carry its stream's ingest token (`vdet-token`). Off only for a single-tenant
     * deployment that secures Kafka itself: every stream then belongs to `defaultTenant`.
     */
    readonly tokens: boolean;
    /** With tokens off: the tenant of every stream, registered on its first frame. */
    readonly defaultTenant: string;
  };
  /** Cameras a processor pulls itself (`PUT /v1/streams/{id}/source`). */
  readonly cameras: {
    /** Whether this processor takes camera sources at all (VDET_CAMERAS=off: pushed frames and jobs only). */
    readonly enabled: boolean;
    /** How long a processor's lease on a source lasts unless renewed (renewed every third of it). */
    readonly leaseMs: number;
    /** Most sources one processor pulls at once. */
    readonly maxPerProcessor: number;
    /** Hosts or CIDRs a camera URL may name beyond public addresses (VDET_CAMERA_ALLOW_HOSTS; cameras mostly sit on private networks). */
    readonly allowHosts: readonly string[];
  };
  /** Per-tenant caps (429 VDET_QUOTA_EXCEEDED beyond), shared by every api replica. */
  readonly quotas: {
    readonly jobsInFlight: number;
    readonly eventStreams: number;
    readonly renders: number;
    /** Streams a tenant may register. */
    readonly streams: number;
    /** Bytes of uploads a tenant may keep stored (its jobs' uploads until retention or DELETE); 0: no cap. */
    readonly storedUploadBytes: number;
  };
  readonly merger: {
    readonly jobStallS: number;
    readonly reaperIntervalS: number;
  };
  readonly retention: {
    /** Jobs finished (and stream frames captured) longer ago than this are removed; undefined: kept for ever. */
    readonly days: number | undefined;
    /** How often the merger's retention pass runs, and how many jobs / stream frames one batch removes. */
    readonly intervalS: number;
    readonly batch: number;
  };
  readonly logLevel: string;
  /** Port of /healthz, /readyz and /metrics for roles without the api (undefined: 9101 processor, 9102 detector, 9103 merger). */
  readonly metricsPort: number | undefined;
}

/** VDET_TRUST_PROXY: false (the socket's address), true (any proxy), a hop count, or comma-separated addresses/CIDRs. */
function trustProxy(raw: string): boolean | number | string {
  if (raw === 'false' || raw === '') return false;
  if (raw === 'true') return true;
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  return raw;
}

const DEFAULT_MODEL = path.resolve('../shared/models/yolox_nano.onnx');

/** Reads and validates the environment; throws VDET_CONFIG_INVALID naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(env);
  const brokers = r.string('KAFKA_BROKERS', '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  r.check(brokers.length > 0 && brokers.every((b) => /^[\w.-]+:\d{1,5}$/.test(b)),
    'KAFKA_BROKERS must be a comma-separated list of host:port');
  const mongoUrl = r.string('MONGO_URL', 'mongodb://127.0.0.1:27017/');
  r.check(/^mongodb(\+srv)?:\/\//.test(mongoUrl), 'MONGO_URL must start with mongodb:// or mongodb+srv://');
  const redisUrl = r.string('REDIS_URL', 'redis://127.0.0.1:6379');
  r.check(/^rediss?:\/\//.test(redisUrl), 'REDIS_URL must start with redis:// or rediss://');
  const topicPrefix = r.string('VDET_TOPIC_PREFIX', 'vdet.');
  r.check(/^[a-zA-Z0-9._-]*$/.test(topicPrefix), 'VDET_TOPIC_PREFIX may hold only letters, digits, ".", "_" and "-"');
  const devices = r.string('VDET_DEVICES', 'auto');
  r.check(/^(auto|cpu(:\d+)?|cuda:\d+(,cuda:\d+)*)$/.test(devices),
    'VDET_DEVICES must be auto, cpu, cpu:N or cuda:0,cuda:1,…');

  const config: Config = {
    kafka: {
      brokers,
      clientId: r.string('KAFKA_CLIENT_ID', 'vdet'),
      topicPrefix,
      partitions: r.int('VDET_TOPIC_PARTITIONS', 4, 1, 1024),
      maxMessageBytes: r.int('VDET_KAFKA_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024),
      sendTimeoutMs: r.int('VDET_KAFKA_SEND_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
      security: readKafkaSecurity(r),
    },
    mongo: { url: mongoUrl, database: r.string('VDET_MONGO_DB', 'vdet') },
    redis: { url: redisUrl, keyPrefix: r.string('VDET_REDIS_PREFIX', 'vdet:') },
    http: {
      host: r.string('VDET_HTTP_HOST', '127.0.0.1'),
      port: r.int('VDET_HTTP_PORT', 8080, 0, 65535),
      uploadMaxBytes: r.int('VDET_MAX_UPLOAD_BYTES', 2 * 1024 ** 3, 1, 64 * 1024 ** 3),
      bootstrapKey: r.optionalString('VDET_BOOTSTRAP_KEY'),
      bootstrapTenant: r.string('VDET_BOOTSTRAP_TENANT', 'default'),
      rateLimitPerMinute: r.int('VDET_RATE_LIMIT_PER_MIN', 600, 1, 10_000_000),
      rateLimitPerAddressPerMinute: r.int('VDET_RATE_LIMIT_PER_ADDRESS_PER_MIN', 1200, 1, 10_000_000),
      authFailuresPerMinute: r.int('VDET_AUTH_FAILURES_PER_MIN', 30, 1, 10_000_000),
      trustProxy: trustProxy(r.string('VDET_TRUST_PROXY', 'false')),
      webhookAllowPrivate: r.oneOf('VDET_WEBHOOK_ALLOW_PRIVATE', 'false', ['true', 'false']) === 'true',
      webhookAllowHosts: r.hostList('VDET_WEBHOOK_ALLOW_HOSTS', 'hooks.internal,10.1.0.0/16'),
      fetchAllowHosts: r.hostList('VDET_FETCH_ALLOW_HOSTS', 'media.internal,10.2.0.0/16'),
      fetchAnswerTimeoutS: r.int('VDET_FETCH_ANSWER_TIMEOUT_S', 15, 1, 600),
      fetchTimeoutS: r.int('VDET_FETCH_TIMEOUT_S', 1800, 1, 24 * 3600),
      mediaTokenKey: r.optionalString('VDET_MEDIA_TOKEN_KEY'),
      opsToken: r.optionalString('VDET_OPS_TOKEN'),
    },
    model: {
      path: path.resolve(r.string('VDET_MODEL', DEFAULT_MODEL)),
      labelsPath: r.optionalString('VDET_LABELS'),
      inputSize: r.int('VDET_MODEL_INPUT_SIZE', 416, 32, 4096),
      format: r.oneOf<ModelFormat | 'auto'>('VDET_MODEL_FORMAT', 'auto', ['auto', ...MODEL_FORMATS]),
      pad: r.oneOf<PadPlacement | 'auto'>('VDET_MODEL_PAD', 'auto', ['auto', ...PAD_PLACEMENTS]),
    },
    processor: {
      workDir: path.resolve(r.string('VDET_WORK_DIR', path.join(os.tmpdir(), 'vdet'))),
      chunkFrames: r.int('VDET_CHUNK_FRAMES', 16, 1, 256),
      maxWidth: r.int('VDET_MAX_WIDTH', 7680, 16, 32768),
      maxHeight: r.int('VDET_MAX_HEIGHT', 4320, 16, 32768),
      maxDurationS: r.number('VDET_MAX_DURATION_S', 4 * 3600, 1, 7 * 24 * 3600),
      maxFrames: r.int('VDET_MAX_FRAMES', 500_000, 1, 100_000_000),
      ffmpegTimeoutS: r.int('VDET_FFMPEG_TIMEOUT_S', 3600, 1, 7 * 24 * 3600),
      wireFormat: r.oneOf('VDET_WIRE_FORMAT', 'video', ['video', 'raw', 'jpeg']),
      videoChunkFrames: r.int('VDET_VIDEO_CHUNK_FRAMES', 96, 1, 10_000),
      ffmpegThreads: r.int('VDET_FFMPEG_THREADS', 0, 0, 64),
    },
    detector: {
      devices,
      cudaVisibleDevices: env['CUDA_VISIBLE_DEVICES'],
      batchMax: r.int('VDET_BATCH_MAX', 8, 1, 256),
      cpuBatchMax: r.int('VDET_CPU_BATCH_MAX', 1, 1, 256),
      batchWaitMs: r.int('VDET_BATCH_WAIT_MS', 5, 0, 10_000),
      chunksInFlight: r.int('VDET_CHUNKS_IN_FLIGHT', 4, 1, 256),
      decodeThreads: r.int('VDET_DETECTOR_DECODE_THREADS', 1, 1, 64),
      minScore: r.number('VDET_MIN_SCORE', 0.3, 0, 1),
      modelsMax: r.int('VDET_DETECTOR_MODELS_MAX', 2, 1, 32),
      modelCacheDir: path.resolve(r.string('VDET_MODEL_CACHE_DIR', path.join(os.tmpdir(), 'vdet-models'))),
    },
    streams: {
      frameMaxBytes: r.int('VDET_FRAME_MAX_BYTES', 10 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      chunkFrames: r.int('VDET_STREAM_CHUNK_FRAMES', 4, 1, 64),
      wireFormat: r.oneOf('VDET_STREAM_WIRE_FORMAT', 'image', ['image', 'raw']),
      tokens: r.oneOf('VDET_STREAM_TOKENS', 'on', ['on', 'off']) === 'on',
      defaultTenant: r.string('VDET_STREAM_TENANT', 'default'),
    },
    cameras: {
      enabled: r.oneOf('VDET_CAMERAS', 'on', ['on', 'off']) === 'on',
      leaseMs: r.int('VDET_CAMERA_LEASE_MS', 6_000, 1_000, 600_000),
      maxPerProcessor: r.int('VDET_CAMERA_MAX_PER_PROCESSOR', 16, 1, 1000),
      allowHosts: r.hostList('VDET_CAMERA_ALLOW_HOSTS', 'cameras.internal,192.168.1.0/24'),
    },
    quotas: {
      jobsInFlight: r.int('VDET_TENANT_MAX_JOBS_IN_FLIGHT', 100, 1, 1_000_000),
      eventStreams: r.int('VDET_TENANT_MAX_EVENT_STREAMS', 100, 1, 1_000_000),
      renders: r.int('VDET_TENANT_MAX_RENDERS', 2, 1, 1000),
      streams: r.int('VDET_TENANT_MAX_STREAMS', 1000, 1, 1_000_000),
      storedUploadBytes: r.int('VDET_TENANT_MAX_STORED_BYTES', 500 * 1024 ** 3, 0, Number.MAX_SAFE_INTEGER),
    },
    merger: {
      jobStallS: r.int('VDET_JOB_STALL_S', 600, 5, 7 * 24 * 3600),
      reaperIntervalS: r.int('VDET_REAPER_INTERVAL_S', 30, 1, 3600),
    },
    retention: {
      days: env['VDET_RETENTION_DAYS'] ? r.number('VDET_RETENTION_DAYS', 0, 0.001, 100 * 365) : undefined,
      intervalS: r.int('VDET_RETENTION_INTERVAL_S', 600, 1, 7 * 24 * 3600),
      batch: r.int('VDET_RETENTION_BATCH', 100, 1, 10_000),
    },
    metricsPort: env['VDET_METRICS_PORT'] ? r.int('VDET_METRICS_PORT', 0, 0, 65535) : undefined,
    logLevel: r.oneOf('VDET_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
  for (const [name, value] of [
    ['VDET_BOOTSTRAP_KEY', config.http.bootstrapKey], ['VDET_MEDIA_TOKEN_KEY', config.http.mediaTokenKey], ['VDET_OPS_TOKEN', config.http.opsToken],
  ] as const) {
    const problem = value === undefined ? undefined : secretProblem(name, value);
    if (problem) r.check(false, problem);
  }
  const chunkBytes = chunkMessageBytes(config.processor.chunkFrames, config.model.inputSize, config.model.inputSize);
  r.check(chunkBytes <= config.kafka.maxMessageBytes,
    `VDET_CHUNK_FRAMES × frame size (${chunkBytes} bytes) must fit VDET_KAFKA_MAX_MESSAGE_BYTES`);
  if (r.problems.length > 0) {
    throw new VdetError('VDET_CONFIG_INVALID', `Invalid configuration: ${r.problems.join('; ')}`);
  }
  return deepFreeze(config);
}

/** Bytes a chunk of `frames` frames of a `width × height` model input may take on Kafka (its header allowed for). */
export function chunkMessageBytes(frames: number, width: number, height: number): number {
  return frames * width * height * 3 + 64 * 1024;
}

