#!/usr/bin/env node
import path from 'node:path';
import { startApi } from './api/main.js';
import { startDetector } from './detector/main.js';
import { startMerger } from './merger/main.js';
import { runDetectCommand } from './detect/command.js';
import { processIo, runClient } from './client/client-io.js';
import { runJobs, runResults, runSubmit } from './client/job-commands.js';
import { runPush } from './client/push.js';
import { runStreams } from './client/stream-commands.js';
import { startProcessor } from './processor/main.js';
import { loadConfig, type Config } from './platform/config.js';
import { ApiKeyStore } from './store/api-keys.js';
import { isVdetError } from './platform/errors.js';
import { connectStore } from './store/mongo.js';
import { ModelRegistryStore } from './store/model-registry-store.js';
import { modelSummary, type RegistrySettings } from './vision/model-registry.js';
import { readLabelsFile } from './vision/labels.js';
import { MODEL_FORMATS, PAD_PLACEMENTS } from './platform/model-settings.js';
import { readFile } from 'node:fs/promises';
import { openInfra, type Infra } from './runtime/infra.js';
import { createLogger } from './platform/logger.js';
import { fetchModel } from './vision/model-fetch.js';
import { describeModelFile } from './vision/model-file.js';
import type { Service } from './platform/service.js';
import { metrics } from './platform/metrics.js';
import { startOpsServer } from './runtime/ops-server.js';
import { groupId } from './contracts/topics.js';
import closeWithGrace from 'close-with-grace';

const ROLES = {
  api: startApi,
  processor: startProcessor,
  detector: startDetector,
  merger: startMerger,
} as const satisfies Record<string, (infra: Infra) => Promise<Service>>;
type RoleName = keyof typeof ROLES;

const USAGE = `usage: vdet <command>

  vdet all                      run api, processor, detector and merger in one process
  vdet api|processor|detector|merger
                                run one role (scale each out on many machines)
  vdet detect <video|image|folder> [--out results.jsonl] [--annotate out.mp4] [--fps n] [--min-score s] [--classes a,b]
                                detect in this process, no services needed (vdet detect --help)

  vdet submit FILE… [--wait] [--out results.jsonl] [--export coco|csv|jsonl] [--fps n] [--options JSON]
                                upload to a running vdet (VDET_API_URL, VDET_API_KEY), follow it, get its results
  vdet jobs [--status S]        list your jobs; vdet jobs get|cancel ID
  vdet results ID [--out FILE]  a job's detections as JSON Lines, every page
  vdet streams [token|tokens|revoke|remove ID]
                                your streams; mint an ingest token (registering the stream), list or revoke tokens
  vdet push FILE --stream ID [--fps n] [--loop] [--token T]
                                play a video into Kafka as a live camera, print each frame's results and latency

  vdet model fetch <url|path> [--sha256 HEX] [--out PATH]
                                fetch a model file and check its sha256
  vdet model describe <file>    how vdet reads a model: its layout, input, letterbox and labels (VDET_MODEL_*)
  vdet models add NAME FILE [--format yolox|ultralytics|end2end] [--pad top-left|center] [--labels FILE] [--input-size N]
                                register a model (or a new version of NAME) for every detector: jobs name it
                                in options.model; the file is checked, then stored in MongoDB with its sha256
  vdet models list              the registered models (name, version, sha256, layout, input, letterbox)
  vdet models remove NAME       unregister a model (refused while queued or running jobs use it)
  vdet keys create --tenant T --name N
                                create an API key (printed once)
  vdet keys list                list API keys (never their secrets)
  vdet keys revoke <id>         revoke an API key
  vdet keys secret --tenant T [--rotate [--overlap-hours 24]]
                                print the tenant's webhook signing secret; --rotate makes a new one (the old one
                                signs beside it for the overlap)

Configuration comes from environment variables: see docs/configuration.md.`;

const SHUTDOWN_LIMIT_MS = 30_000;

async function runRoles(roles: RoleName[], config: Config): Promise<void> {
  const log = createLogger(config.logLevel, roles.length === 1 ? roles[0]! : 'all');
  const infra = await openInfra(config, log);
  const services: Service[] = [];
  // Ordered shutdown on SIGTERM/SIGINT (and on a crash: an uncaught error closes what it can, then exits 1):
  // roles close in reverse start order (the api stops taking uploads first), then the shared clients, within
  // SHUTDOWN_LIMIT_MS or the process exits 1. A second signal exits at once.
  closeWithGrace({
    delay: SHUTDOWN_LIMIT_MS,
    logger: { error: (what: unknown) => log.error(what instanceof Error ? { err: what } : { detail: String(what) }, 'shutdown') },
    onTimeout: () => log.error('shutdown took too long; exiting'),
  }, async ({ signal, err }) => {
    if (err) log.fatal({ err }, 'crashed; shutting down');
    else log.info({ signal }, 'shutting down');
    for (const service of [...services].reverse()) {
      try {
        await service.close();
      } catch (error) {
        log.warn({ err: error, service: service.name }, 'close failed');
      }
    }
    await infra.close();
  });
  // Consumers first, api last: an upload is only accepted once something can process it.
  for (const role of [...roles].sort((a, b) => Number(a === 'api') - Number(b === 'api'))) {
    const service = await ROLES[role](infra);
    services.push(service);
    if ('url' in service) log.info({ url: service.url }, 'api listening');
  }
  if (!roles.includes('api')) {
    const defaults: Record<string, number> = { processor: 9101, detector: 9102, merger: 9103 };
    const ops = await startOpsServer(infra, config.metricsPort ?? defaults[roles[0]!] ?? 9100, config.http.host);
    services.unshift({ name: 'ops', close: ops.close });
    log.info({ url: ops.url }, 'metrics listening');
  }
  services.push(watchConsumerLag(infra, roles));
  log.info({ roles }, 'vdet started');
}

/** Every 5 s, the consumer lag of this process's groups, for /metrics (KEDA reads the same from Kafka). */
function watchConsumerLag(infra: Infra, roles: RoleName[]): Service {
  const prefix = infra.config.kafka.topicPrefix;
  const watched: [string, string][] = [];
  if (roles.includes('processor')) watched.push([groupId(prefix, 'processor'), infra.topics.jobs], [groupId(prefix, 'processor-streams'), infra.topics.frames]);
  if (roles.includes('detector')) watched.push([groupId(prefix, 'detector'), infra.topics.chunks]);
  if (roles.includes('merger')) watched.push([groupId(prefix, 'merger'), infra.topics.detections]);
  const poll = async () => {
    for (const [group, topic] of watched) {
      for (const { partition, lag } of await infra.bus.lag(group, topic)) metrics.consumerLag.set({ group, topic, partition: String(partition) }, lag);
    }
  };
  const timer = setInterval(() => void poll().catch(() => undefined), 5_000);
  timer.unref();
  void poll().catch(() => undefined);
  return { name: 'lag', close: async () => clearInterval(timer) };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  if (command === 'detect') {
    process.exitCode = await runDetectCommand(rest);
    return;
  }
  const client = CLIENT_COMMANDS[command];
  if (client) {
    process.exitCode = await runClient(client, rest, processIo());
    return;
  }
  if (command === 'model') {
    const [sub, source, ...flags] = rest;
    if (sub === 'describe' && source) {
      const { path: file, sha256, bytes, spec } = await describeModelFile(loadConfig().model, path.resolve(source));
      console.log(JSON.stringify({ path: file, sha256, bytes, ...spec, labels: spec.labels.join(', ') || '(class ids)' }, null, 2));
      return;
    }
    if (sub !== 'fetch' || !source) throw new UsageError('vdet model fetch <url|path> [--sha256 HEX] [--out PATH] | vdet model describe <file>');
    const result = await fetchModel(source, { sha256: flag(flags, '--sha256'), out: flag(flags, '--out') ?? 'models/model.onnx' });
    console.log(`${result.path}  sha256 ${result.sha256}  ${result.bytes} bytes`);
    return;
  }
  const config = loadConfig();
  if (command === 'keys') return runKeys(rest, config);
  if (command === 'models') return runModels(rest, config);
  if (command === 'all') return runRoles(['api', 'processor', 'detector', 'merger'], config);
  if (command in ROLES) return runRoles([command as RoleName], config);
  throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
}

const CLIENT_COMMANDS: Record<string, Parameters<typeof runClient>[0]> = {
  submit: runSubmit, jobs: runJobs, results: runResults, push: runPush, streams: runStreams,
};

class UsageError extends Error {}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function runKeys(args: string[], config: Config): Promise<void> {
  const [sub, ...rest] = args;
  const store = await connectStore(config.mongo);
  try {
    const keys = new ApiKeyStore(store.db);
    await keys.ensureIndexes();
    if (sub === 'create') {
      const tenant = flag(rest, '--tenant');
      const name = flag(rest, '--name');
      if (!tenant || !name || !/^[\w.-]{1,64}$/.test(tenant)) {
        throw new UsageError('vdet keys create --tenant <tenant: letters, digits, . _ -> --name <name>');
      }
      const created = await keys.create(tenant, name);
      console.log(`id      ${created.id}\ntenant  ${created.tenant}\nname    ${created.name}\nkey     ${created.key}\n\nThe key is shown only now; store it safely.`);
    } else if (sub === 'list') {
      for (const k of await keys.list()) {
        console.log([k._id, k.tenant, k.name, k.createdAt.toISOString(), k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'].join('\t'));
      }
    } else if (sub === 'secret' && flag(rest, '--tenant')) {
      const tenant = flag(rest, '--tenant')!;
      if (!rest.includes('--rotate')) console.log(await keys.webhookSecret(tenant));
      else {
        const hours = Number(flag(rest, '--overlap-hours') ?? 24);
        if (!Number.isFinite(hours) || hours < 0 || hours > 24 * 30) throw new UsageError('--overlap-hours must be a number from 0 to 720');
        console.log(await keys.rotateWebhookSecret(tenant, hours * 3600_000));
        console.error(`The previous secret signs beside this one for ${hours} h: move the receivers to it meanwhile.`);
      }
    } else if (sub === 'revoke' && rest[0]) {
      if (!(await keys.revoke(rest[0]))) throw new UsageError(`no active key with id ${rest[0]}`);
      console.log(`revoked ${rest[0]}`);
    } else {
      throw new UsageError('vdet keys create --tenant T --name N | vdet keys list | vdet keys revoke <id> | vdet keys secret --tenant T [--rotate [--overlap-hours H]]');
    }
  } finally {
    await store.close();
  }
}

const MODELS_USAGE = 'vdet models add NAME FILE [--format yolox|ultralytics|end2end] [--pad top-left|center] [--labels FILE] [--input-size N] | vdet models list | vdet models remove NAME';

/** The model registry, as the operator manages it: straight in MongoDB, like `vdet keys`. */
async function runModels(args: string[], config: Config): Promise<void> {
  const [sub, name, ...rest] = args;
  const settings = sub === 'add' ? await registrySettings(rest) : undefined;
  const store = await connectStore(config.mongo);
  try {
    const registry = new ModelRegistryStore(store.db, store.jobs);
    await registry.ensureIndexes();
    const line = (m: ReturnType<typeof modelSummary>) => [m.name, `v${m.version}`, m.sha256, m.format, `${m.inputWidth}x${m.inputHeight}`, m.pad, `${m.labels.length} labels`, m.addedAt ?? ''].join('\t');
    if (sub === 'add' && name && rest[0] && !rest[0].startsWith('--') && settings) {
      const file = path.resolve(rest[0]);
      const bytes = await readFile(file).catch((cause: unknown) => {
        throw new UsageError(`cannot read ${file}: ${(cause as Error).message}`);
      });
      console.log(line(modelSummary(await registry.add(name, bytes, settings))));
    } else if (sub === 'list' && !name) {
      for (const model of await registry.list()) console.log(line(modelSummary(model)));
    } else if (sub === 'remove' && name) {
      if (!(await registry.remove(name))) throw new UsageError(`no model named "${name}" is registered`);
      console.log(`removed ${name}`);
    } else {
      throw new UsageError(MODELS_USAGE);
    }
  } finally {
    await store.close();
  }
}

async function registrySettings(flags: string[]): Promise<RegistrySettings> {
  const format = flag(flags, '--format') ?? 'auto';
  const pad = flag(flags, '--pad') ?? 'auto';
  if (!(['auto', ...MODEL_FORMATS] as string[]).includes(format)) throw new UsageError(`--format must be auto, ${MODEL_FORMATS.join(', ')}`);
  if (!(['auto', ...PAD_PLACEMENTS] as string[]).includes(pad)) throw new UsageError(`--pad must be auto, ${PAD_PLACEMENTS.join(', ')}`);
  const labelsFile = flag(flags, '--labels');
  const labels = labelsFile ? await readLabelsFile(path.resolve(labelsFile)) : undefined;
  const size = flag(flags, '--input-size');
  const inputSize = size === undefined ? undefined : Number(size);
  if (inputSize !== undefined && !(Number.isInteger(inputSize) && inputSize >= 32 && inputSize <= 4096)) throw new UsageError('--input-size must be a whole number from 32 to 4096');
  return { format: format as RegistrySettings['format'], pad: pad as RegistrySettings['pad'], ...(labels ? { labels } : {}), ...(inputSize ? { inputSize } : {}) };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) console.error(error.message);
  else if (isVdetError(error)) console.error(`vdet: ${error.code}: ${error.message}`);
  else console.error('vdet:', error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
