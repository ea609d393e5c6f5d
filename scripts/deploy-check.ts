/**
 * The checks behind scripts/validate-deploy.sh that need a program (run with `node --import tsx`):
 *
 *   compose <compose-spec.json> <compose.yaml>       the Compose Specification schema, after interpolating ${VAR:-default}
 *                                                     with defaults only, plus what `docker compose up` would refuse
 *                                                     (unknown depends_on targets, service_healthy without a
 *                                                     healthcheck) and what `--scale` needs (no container_name or
 *                                                     fixed host port on the scaled roles)
 *   k8s-schemas <local-strict-dir> <out-dir> <manifests.yaml>...
 *                                                     writes a standalone JSON schema into out-dir for each kind the
 *                                                     manifests use, from kubernetes-validate's "local-strict" schemas
 *                                                     (whose $refs point into one shared _definitions.json)
 *   crd <crd.yaml> <out-dir>                         a CustomResourceDefinition's openAPIV3Schema as a strict JSON
 *                                                     schema named as kubeconform looks it up (what kubeconform's
 *                                                     openapi2jsonschema.py does, with root additionalProperties denied)
 *   k8s-refs <manifests.yaml>...                     what a schema cannot see: references between objects (ConfigMaps,
 *                                                     Secrets, volumes, ports, scale targets, selectors), KEDA's Kafka
 *                                                     triggers against vdet's topics and consumer groups (one trigger
 *                                                     for each group of the scaled role), and each role's probes and
 *                                                     Prometheus annotations against the port it serves HTTP on
 *   dashboard <dashboard.json> <metrics.ts>          a Grafana dashboard: it parses, uses the ${datasource} variable,
 *                                                     and every vdet_… metric its queries name is one metrics.ts
 *                                                     defines (its `name: 'vdet_…'` strings, with _bucket/_sum/_count
 *                                                     for histograms, and prom-client's default metrics under the
 *                                                     prefix metrics.ts gives them), grouped by labels that exist
 *
 * Every command prints one line per problem and exits 1 when there is any.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Writes through a temporary name, so that a concurrent run never reads half a schema from the shared cache. */
function writeAtomically(file: string, text: string): void {
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, file);
}

const problems: string[] = [];
const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);

// ------------------------------------------------------------------------------------------------ compose

/** Secrets the operator creates outside the manifests, so that no credential ships in them (docs/deployment.md). */
const EXTERNAL_SECRETS = new Set(['vdet-secrets']);

/** Compose interpolation (${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR:+a}, $VAR, $$) with every optional variable unset. */
function interpolate(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (whole, _name: string | undefined, op: string | undefined, arg: string | undefined) => {
        if (whole === '$$') return '$';
        if (op === '-' || op === ':-') return String(interpolate(arg ?? ''));
        // A required variable (compose refuses to start without it, e.g. VDET_BOOTSTRAP_KEY): checked as if set.
        if (op === '?' || op === ':?') return `${_name ?? 'VAR'}-set-by-the-operator`;
        return ''; // unset, or ${VAR:+alt} with VAR unset
      });
  }
  if (Array.isArray(value)) return value.map(interpolate);
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v)]));
  return value;
}

/** Go's time.ParseDuration syntax, which Compose uses for intervals and timeouts. */
const GO_DURATION = /^[-+]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;
const SCALED_ROLES = ['processor', 'detector', 'merger', 'detector-gpu'];
/** The port each role without the api serves /healthz, /readyz and /metrics on unless VDET_METRICS_PORT says (src/cli.ts). */
const METRICS_PORTS: Record<string, number> = { processor: 9101, detector: 9102, merger: 9103 };
/** Addresses the ops server and api must listen on for the kubelet and Prometheus to reach them on the pod's IP. */
const ALL_INTERFACES = ['0.0.0.0', '::'];

function checkCompose(schemaPath: string, file: string): void {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Obj;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addFormat('duration', GO_DURATION); // compose-go registers it too, for schema versions that use it
  const validate = ajv.compile(schema);
  const raw: unknown = parseYaml(readFileSync(file, 'utf8'), { merge: true });
  const doc = interpolate(raw);
  if (!validate(doc)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const params = e.params as Record<string, unknown>;
      const property = params['additionalProperty'] ?? params['unevaluatedProperty'];
      const line = `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${property === undefined ? '' : ` (${String(property)})`}`;
      if (!seen.has(line)) problem(file, line);
      seen.add(line);
    }
    return; // the checks below assume the shape the schema guarantees
  }
  const services = asObj(asObj(doc)['services']);
  for (const [name, svcRaw] of Object.entries(services)) {
    const svc = asObj(svcRaw);
    const where = `${file}: services.${name}`;
    const deps = svc['depends_on'];
    const entries: [string, Obj][] = Array.isArray(deps)
      ? deps.map((d) => [String(d), {}])
      : Object.entries(asObj(deps)).map(([d, c]) => [d, asObj(c)]);
    for (const [dep, cond] of entries) {
      const target = services[dep];
      if (!isObj(target)) {
        problem(where, `depends_on "${dep}", which is no service`);
        continue;
      }
      if (cond['condition'] === 'service_healthy' && !isObj(target['healthcheck'])) {
        problem(where, `waits for "${dep}" to be healthy, but "${dep}" has no healthcheck`);
      }
      if (!svc['profiles'] && target['profiles']) problem(where, `depends on "${dep}", which only runs in a profile`);
    }
    // The schema takes any string here; Compose parses these as Go durations when it loads the file.
    const durations: [string, unknown][] = [['stop_grace_period', svc['stop_grace_period']],
      ...['interval', 'timeout', 'start_period', 'start_interval'].map((k): [string, unknown] => [`healthcheck.${k}`, asObj(svc['healthcheck'])[k]])];
    for (const [key, value] of durations) {
      if (typeof value === 'string' && !GO_DURATION.test(value)) problem(where, `${key} "${value}" is not a duration (e.g. 10s, 1m30s)`);
    }
    if (SCALED_ROLES.includes(name)) {
      if (svc['container_name'] !== undefined) problem(where, 'has a container_name, so `--scale` cannot run two');
      // The role's /readyz is on its ops server: VDET_METRICS_PORT, else the role's default (src/cli.ts).
      const role = str(asArr(svc['command'])[0]) ?? '';
      const env = asObj(svc['environment']);
      const metricsPort = Number(env['VDET_METRICS_PORT'] ?? METRICS_PORTS[role]);
      const url = asArr(asObj(svc['healthcheck'])['test']).map(String).find((a) => /^https?:\/\//.test(a));
      if (url === undefined) problem(where, `healthcheck is not docker/probe.mjs on the ${role}'s /readyz (http://127.0.0.1:${metricsPort}/readyz)`);
      else {
        const u = new URL(url);
        if (Number(u.port) !== metricsPort || u.pathname !== '/readyz') problem(where, `healthcheck probes ${url}, but the ${role} serves /readyz on port ${metricsPort}`);
      }
      const host = str(env['VDET_HTTP_HOST']);
      if (host !== undefined && !['0.0.0.0', '::', '127.0.0.1', 'localhost'].includes(host)) {
        problem(where, `VDET_HTTP_HOST ${host}: the ops server would not answer the healthcheck on 127.0.0.1`);
      }
      for (const port of asArr(svc['ports'])) {
        const published = isObj(port) ? port['published'] : /^(?:[^:]*:)?(\d+):\d+/.exec(String(port))?.[1];
        if (published !== undefined && published !== '') problem(where, `publishes host port ${String(published)}, so \`--scale\` cannot run two`);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ k8s manifests

interface Manifest { file: string; doc: Obj; kind: string; name: string; namespace: string }

function loadManifests(files: string[]): Manifest[] {
  const out: Manifest[] = [];
  for (const file of files) {
    for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (d.errors.length > 0) {
        for (const e of d.errors) problem(file, e.message);
        continue;
      }
      const doc: unknown = d.toJS();
      if (!isObj(doc)) continue;
      const meta = asObj(doc['metadata']);
      out.push({ file, doc, kind: str(doc['kind']) ?? '?', name: str(meta['name']) ?? '?', namespace: str(meta['namespace']) ?? '' });
    }
  }
  return out;
}

/** The schema file name kubeconform looks up with {{.ResourceKind}}{{.KindSuffix}}.json (e.g. deployment-apps-v1). */
function schemaFileName(doc: Obj): string | undefined {
  const kind = str(doc['kind']);
  const apiVersion = str(doc['apiVersion']);
  if (!kind || !apiVersion) return undefined;
  const [groupOrVersion, version] = apiVersion.split('/');
  const suffix = version === undefined ? `-${groupOrVersion!}` : `-${groupOrVersion!.split('.')[0]!}-${version}`;
  return `${kind}${suffix}`.toLowerCase() + '.json';
}

const SHARED_DEFS = '/api/_definitions.json#';

function standaloneSchemas(localStrictDir: string, outDir: string, files: string[]): void {
  mkdirSync(outDir, { recursive: true });
  let defs: Obj | undefined;
  for (const m of loadManifests(files)) {
    const name = schemaFileName(m.doc);
    if (!name || existsSync(path.join(outDir, name))) continue;
    const source = path.join(localStrictDir, name);
    if (!existsSync(source)) continue; // not a built-in kind: a CRD schema, or kubeconform reports it missing
    defs ??= asObj((JSON.parse(readFileSync(path.join(localStrictDir, '_definitions.json'), 'utf8')) as Obj)['$defs']);
    const schema = JSON.parse(readFileSync(source, 'utf8')) as Obj;
    const needed = new Set<string>();
    // Point every $ref at this file's own $defs and copy in the definitions it reaches.
    const rewrite = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rewrite);
      if (!isObj(node)) return node;
      const copy: Obj = {};
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string') {
          const ref = v.startsWith(SHARED_DEFS) ? `#${v.slice(SHARED_DEFS.length)}` : v;
          const def = /^#\/\$defs\/(.+)$/.exec(ref)?.[1];
          if (def && !needed.has(def)) {
            needed.add(def);
            if (!(def in defs!)) throw new Error(`${name}: $ref to unknown definition ${def}`);
          }
          copy[k] = ref;
        } else {
          copy[k] = rewrite(v);
        }
      }
      return copy;
    };
    const out = rewrite(schema) as Obj;
    delete out['$id'];
    const closure: Obj = {};
    for (let pending = [...needed]; pending.length > 0;) {
      const def = pending.pop()!;
      if (def in closure) continue;
      const before = new Set(needed);
      closure[def] = rewrite(defs![def]);
      pending.push(...[...needed].filter((d) => !before.has(d)));
    }
    out['$defs'] = closure;
    writeAtomically(path.join(outDir, name), JSON.stringify(out));
  }
}

/** openapi2jsonschema's rules: int-or-string as oneOf, and additionalProperties denied wherever properties are listed. */
function crdToJsonSchema(crdFile: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const strict = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strict);
    if (!isObj(node)) return node;
    if (node['format'] === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) {
      const { format: _f, 'x-kubernetes-int-or-string': _x, type: _t, ...rest } = node;
      return { ...strict(rest) as Obj, oneOf: [{ type: 'string' }, { type: 'integer' }] };
    }
    const copy = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, strict(v)]));
    if ('properties' in copy && !('additionalProperties' in copy) && copy['x-kubernetes-preserve-unknown-fields'] !== true) {
      copy['additionalProperties'] = false;
    }
    return copy;
  };
  let written = 0;
  for (const d of parseAllDocuments(readFileSync(crdFile, 'utf8'))) {
    const crd: unknown = d.toJS();
    if (!isObj(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
    const spec = asObj(crd['spec']);
    const kind = str(asObj(spec['names'])['kind']) ?? '';
    const group = str(spec['group']) ?? '';
    for (const version of asArr(spec['versions']).map(asObj)) {
      const schema = asObj(asObj(version['schema'])['openAPIV3Schema']);
      if (Object.keys(schema).length === 0) continue;
      const name = schemaFileName({ kind, apiVersion: `${group}/${String(version['name'])}` })!;
      writeAtomically(path.join(outDir, name), JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...strict(schema) as Obj }));
      written += 1;
    }
  }
  if (written === 0) problem(crdFile, 'no CustomResourceDefinition with an openAPIV3Schema');
}

/** The consumer groups of each vdet role and the topic each reads (docs/topics.md), without VDET_TOPIC_PREFIX. */
const CONSUMES: Record<string, Record<string, string>> = {
  processor: { processor: 'jobs', 'processor-streams': 'frames' },
  detector: { detector: 'chunks' },
  merger: { merger: 'detections' },
};

/** A container's environment as the kubelet builds it: envFrom ConfigMaps of the manifests, then env (which wins). */
function containerEnv(container: Obj, config: Obj | undefined): Obj {
  const env: Obj = {};
  for (const ref of asArr(container['envFrom']).map(asObj)) {
    if (str(asObj(ref['configMapRef'])['name']) === 'vdet-config' && config) Object.assign(env, config);
  }
  for (const e of asArr(container['env']).map(asObj)) {
    const name = str(e['name']);
    if (name && 'value' in e) env[name] = e['value'];
  }
  return env;
}

/**
 * A role's HTTP endpoints as its probes and Prometheus use them: the api on VDET_HTTP_PORT, the other roles' ops
 * server on VDET_METRICS_PORT (src/cli.ts), both on VDET_HTTP_HOST, which must be every interface. Liveness is
 * httpGet /healthz and readiness httpGet /readyz on that port; the pod template's prometheus.io annotations name it.
 */
function checkRoleHttp(where: string, deployment: Manifest, container: Obj, role: string, config: Obj | undefined): void {
  const env = containerEnv(container, config);
  const variable = role === 'api' ? 'VDET_HTTP_PORT' : 'VDET_METRICS_PORT';
  const port = Number(env[variable] ?? (role === 'api' ? 8080 : METRICS_PORTS[role]));
  const cw = `${where} container ${String(container['name'])}`;
  const host = str(env['VDET_HTTP_HOST']) ?? '127.0.0.1';
  if (!ALL_INTERFACES.includes(host)) problem(cw, `VDET_HTTP_HOST is "${host}": the ${role} would serve ${variable} ${port} only there, out of the kubelet's and Prometheus's reach (set 0.0.0.0)`);
  const named = new Map(asArr(container['ports']).map(asObj).map((p) => [str(p['name']), Number(p['containerPort'])]));
  if (![...named.values()].includes(port)) problem(cw, `no containerPort ${port}, the port the ${role} serves HTTP on (${variable})`);
  const portOf = (value: unknown) => (typeof value === 'string' ? named.get(value) : Number(value));
  for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
    const get = asObj(container[probe])['httpGet'];
    if (!isObj(get)) {
      problem(cw, `${probe} is not httpGet ${path} on port ${port}`);
      continue;
    }
    if (get['path'] !== path) problem(cw, `${probe} gets "${String(get['path'])}", not ${path}`);
    const probed = portOf(get['port']);
    if (probed !== undefined && probed !== port) problem(cw, `${probe} probes port ${String(get['port'])} (${probed}), but the ${role} serves HTTP on ${port} (${variable})`);
  }
  const startup = asObj(asObj(container['startupProbe'])['httpGet']);
  if (Object.keys(startup).length > 0 && portOf(startup['port']) !== port) problem(cw, `startupProbe probes port ${String(startup['port'])}, not ${port}`);
  const annotations = asObj(asObj(asObj(asObj(deployment.doc['spec'])['template'])['metadata'])['annotations']);
  if (annotations['prometheus.io/scrape'] !== 'true') problem(where, 'the pod template has no prometheus.io/scrape: "true" annotation');
  if (annotations['prometheus.io/port'] !== String(port)) problem(where, `prometheus.io/port is ${JSON.stringify(annotations['prometheus.io/port'])}, but the ${role} serves /metrics on ${port}`);
  if ((annotations['prometheus.io/path'] ?? '/metrics') !== '/metrics') problem(where, `prometheus.io/path is "${String(annotations['prometheus.io/path'])}", not /metrics`);
}

/** A label selector (matchLabels and In/NotIn/Exists/DoesNotExist expressions) against a pod's labels. */
function selects(selector: Obj, labels: Obj): boolean {
  const byLabel = Object.entries(asObj(selector['matchLabels'])).every(([k, v]) => labels[k] === v);
  const byExpression = asArr(selector['matchExpressions']).map(asObj).every((e) => {
    const value = labels[String(e['key'])];
    const values = asArr(e['values']);
    switch (e['operator']) {
      case 'In': return values.includes(value);
      case 'NotIn': return !values.includes(value);
      case 'Exists': return value !== undefined;
      case 'DoesNotExist': return value === undefined;
      default: return false;
    }
  });
  return byLabel && byExpression;
}

/** A NetworkPolicy selects pods of the manifests, and every port its ingress rules open is one those pods expose. */
function checkNetworkPolicy(where: string, spec: Obj, workloads: Manifest[], podLabels: (m: Manifest) => Obj): void {
  const selected = workloads.filter((w) => selects(asObj(spec['podSelector']), podLabels(w)));
  if (selected.length === 0) {
    problem(where, 'podSelector selects no pod of the manifests');
    return;
  }
  const exposed = new Set<string | number>();
  for (const w of selected) {
    for (const c of asArr(asObj(asObj(asObj(w.doc['spec'])['template'])['spec'])['containers']).map(asObj)) {
      for (const p of asArr(c['ports']).map(asObj)) {
        if (typeof p['containerPort'] === 'number') exposed.add(p['containerPort']);
        if (typeof p['name'] === 'string') exposed.add(p['name']);
      }
    }
  }
  for (const rule of asArr(spec['ingress']).map(asObj)) {
    for (const port of asArr(rule['ports']).map((p) => asObj(p)['port'])) {
      if ((typeof port === 'number' || typeof port === 'string') && !exposed.has(port)) {
        problem(where, `ingress opens port ${String(port)}, which no selected pod exposes`);
      }
    }
  }
}

function checkReferences(files: string[]): void {
  for (const file of files) {
    const all = loadManifests([file]);
    const find = (kind: string, name: string, ns: string) => all.find((m) => m.kind === kind && m.name === name && m.namespace === ns);
    const workloads = all.filter((m) => m.kind === 'Deployment');
    const podLabels = (m: Manifest) => asObj(asObj(asObj(asObj(m.doc['spec'])['template'])['metadata'])['labels']);
    const matches = (selector: Obj, labels: Obj) => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
    const scaled = new Map<string, string>();
    let config: Obj | undefined;
    for (const m of all) if (m.kind === 'ConfigMap' && m.name === 'vdet-config') config = asObj(m.doc['data']);
    const prefix = str(config?.['VDET_TOPIC_PREFIX']) ?? 'vdet.';
    const partitions = Number(config?.['VDET_TOPIC_PARTITIONS'] ?? 4);

    const policies = all.filter((m) => m.kind === 'NetworkPolicy');
    for (const w of workloads) {
      const denies = policies.some((p) => p.namespace === w.namespace && selects(asObj(asObj(p.doc['spec'])['podSelector']), podLabels(w))
        && ['Ingress', 'Egress'].every((t) => asArr(asObj(p.doc['spec'])['policyTypes']).includes(t)));
      if (policies.length > 0 && !denies) problem(`${file}: Deployment/${w.name}`, 'no NetworkPolicy selects its pods for both Ingress and Egress: it would accept any traffic');
    }
    for (const m of all) {
      const where = `${file}: ${m.kind}/${m.name}`;
      const spec = asObj(m.doc['spec']);
      if (m.kind === 'Deployment') {
        const selector = asObj(asObj(spec['selector'])['matchLabels']);
        if (!matches(selector, podLabels(m))) problem(where, 'spec.selector does not match the pod template labels');
        const pod = asObj(asObj(spec['template'])['spec']);
        const volumes = new Set(asArr(pod['volumes']).map((v) => str(asObj(v)['name'])));
        for (const c of [...asArr(pod['initContainers']), ...asArr(pod['containers'])].map(asObj)) {
          const cw = `${where} container ${String(c['name'])}`;
          for (const ref of asArr(c['envFrom']).map(asObj)) {
            const cm = str(asObj(ref['configMapRef'])['name']);
            const secret = str(asObj(ref['secretRef'])['name']);
            if (cm && !find('ConfigMap', cm, m.namespace)) problem(cw, `envFrom ConfigMap "${cm}" is not in the manifests`);
            if (secret && !EXTERNAL_SECRETS.has(secret) && !find('Secret', secret, m.namespace)) problem(cw, `envFrom Secret "${secret}" is not in the manifests`);
          }
          for (const mount of asArr(c['volumeMounts']).map(asObj)) {
            if (!volumes.has(str(mount['name']))) problem(cw, `mounts volume "${String(mount['name'])}", which the pod does not declare`);
          }
          const ports = new Set(asArr(c['ports']).map((p) => str(asObj(p)['name'])).filter(Boolean));
          for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
            const port = asObj(asObj(c[probe])['httpGet'])['port'] ?? asObj(asObj(c[probe])['tcpSocket'])['port'];
            if (typeof port === 'string' && !ports.has(port)) problem(cw, `${probe} uses port "${port}", which the container does not name`);
          }
        }
        const main = asObj(asArr(pod['containers'])[0]);
        const role = str(asArr(main['args'])[0]) ?? '';
        if (role in METRICS_PORTS || role === 'api') checkRoleHttp(where, m, main, role, config);
      }
      if (m.kind === 'Service' || m.kind === 'PodDisruptionBudget') {
        const selector = m.kind === 'Service' ? asObj(spec['selector']) : asObj(asObj(spec['selector'])['matchLabels']);
        if (!workloads.some((w) => w.namespace === m.namespace && matches(selector, podLabels(w)))) problem(where, 'selects no pod of the manifests');
      }
      if (m.kind === 'NetworkPolicy') checkNetworkPolicy(where, spec, workloads, podLabels);
      if (m.kind === 'HorizontalPodAutoscaler' || m.kind === 'ScaledObject') {
        const target = str(asObj(spec['scaleTargetRef'])['name']) ?? '';
        const deployment = find('Deployment', target, m.namespace);
        if (!deployment) {
          problem(where, `scales "${target}", which is no Deployment of the manifests`);
          continue;
        }
        if (scaled.has(target)) problem(where, `scales "${target}", which ${scaled.get(target)!} already scales`);
        scaled.set(target, `${m.kind}/${m.name}`);
        if (m.kind !== 'ScaledObject') continue;
        const containers = asArr(asObj(asObj(asObj(deployment.doc['spec'])['template'])['spec'])['containers']).map(asObj);
        const role = str(asArr(containers[0]?.['args'])[0]) ?? '';
        const max = Number(spec['maxReplicaCount'] ?? 100);
        if (max > partitions) problem(where, `maxReplicaCount ${max} > VDET_TOPIC_PARTITIONS ${partitions}: the extra consumers would idle`);
        const kafkaTriggers = asArr(spec['triggers']).map(asObj).filter((t) => t['type'] === 'kafka');
        // KEDA scales on the largest need of the triggers: a group without one is not scaled for.
        for (const [group, topic] of Object.entries(CONSUMES[role] ?? {})) {
          if (!kafkaTriggers.some((t) => asObj(t['metadata'])['consumerGroup'] === prefix + group)) {
            problem(where, `no kafka trigger for the ${role}'s consumer group "${prefix + group}" (topic "${prefix + topic}"): its lag would not scale "${target}"`);
          }
        }
        for (const trigger of kafkaTriggers) {
          const md = asObj(trigger['metadata']);
          for (const key of ['bootstrapServers', 'consumerGroup', 'topic', 'lagThreshold']) {
            if (typeof md[key] !== 'string' || md[key] === '') problem(where, `kafka trigger: metadata.${key} must be a non-empty string`);
          }
          if (config && md['bootstrapServers'] !== config['KAFKA_BROKERS']) {
            problem(where, `bootstrapServers "${String(md['bootstrapServers'])}" is not vdet-config's KAFKA_BROKERS "${String(config['KAFKA_BROKERS'])}"`);
          }
          const groups = CONSUMES[role];
          if (!groups) problem(where, `scales "${target}", whose role "${role}" consumes no topic`);
          else {
            const group = String(md['consumerGroup']);
            const topic = group.startsWith(prefix) ? groups[group.slice(prefix.length)] : undefined;
            if (topic === undefined) {
              problem(where, `consumerGroup "${group}" is not the ${role}'s group "${Object.keys(groups).map((g) => prefix + g).join('" or "')}"`);
            } else if (md['topic'] !== prefix + topic) {
              problem(where, `topic "${String(md['topic'])}" is not the one group ${group} reads, "${prefix + topic}"`);
            }
          }
          if (!/^[1-9]\d*$/.test(String(md['lagThreshold']))) problem(where, 'lagThreshold must be a positive integer (as a string)');
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ Grafana dashboard

interface MetricDef { type: string; labels: string[] }

/**
 * The metrics a process of vdet exposes, from metrics.ts's source: each `new Counter|Gauge|Histogram|Summary({ name:
 * 'vdet_…', labelNames: […] })`, and prom-client's default metrics under the prefix metrics.ts passes to
 * collectDefaultMetrics (their names come from prom-client itself, registered on a throwaway registry).
 */
async function definedMetrics(metricsFile: string): Promise<Map<string, MetricDef>> {
  const source = readFileSync(metricsFile, 'utf8');
  const defined = new Map<string, MetricDef>();
  for (const match of source.matchAll(/new\s+(Counter|Gauge|Histogram|Summary)\s*\(\s*\{([^}]*)\}/g)) {
    const name = /\bname:\s*'(vdet_[A-Za-z0-9_]*)'/.exec(match[2]!)?.[1];
    if (!name) continue;
    const labels = [.../labelNames:\s*\[([^\]]*)\]/.exec(match[2]!)?.[1]?.matchAll(/'([^']+)'/g) ?? []].map((l) => l[1]!);
    defined.set(name, { type: match[1]!.toLowerCase(), labels });
  }
  // Any other `name: 'vdet_…'` string (a metric made another way): known by name, labels unknown.
  for (const match of source.matchAll(/\bname:\s*'(vdet_[A-Za-z0-9_]*)'/g)) {
    if (!defined.has(match[1]!)) defined.set(match[1]!, { type: 'untyped', labels: [] });
  }
  const prefix = /collectDefaultMetrics\s*\(\s*\{[^}]*\bprefix:\s*'([^']*)'/.exec(source)?.[1];
  if (/collectDefaultMetrics\s*\(/.test(source)) {
    const prom = await import('prom-client');
    const scratch = new prom.Registry();
    prom.collectDefaultMetrics({ register: scratch, prefix: prefix ?? '' });
    for (const m of await scratch.getMetricsAsJSON()) {
      defined.set(m.name, { type: String(m.type), labels: [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))] });
    }
  }
  return defined;
}

/** Series names a metric's samples carry: histograms and summaries add _sum and _count, histograms _bucket. */
function seriesNames(name: string, def: MetricDef): [string, MetricDef][] {
  const out: [string, MetricDef][] = [[name, def]];
  if (def.type === 'histogram' || def.type === 'summary') {
    out.push([`${name}_sum`, def], [`${name}_count`, def]);
    if (def.type === 'histogram') out.push([`${name}_bucket`, { ...def, labels: [...def.labels, 'le'] }]);
  }
  if (def.type === 'summary') out.push([name, { ...def, labels: [...def.labels, 'quantile'] }]);
  return out;
}

/** Labels Prometheus itself adds to every scraped series (job, instance) and the usual Kubernetes relabelings. */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'node', 'service'];

async function checkDashboard(file: string, metricsFile: string): Promise<void> {
  let dashboard: Obj;
  try {
    dashboard = asObj(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    problem(file, `does not parse as JSON: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  const series = new Map([...(await definedMetrics(metricsFile)).entries()].flatMap(([n, d]) => seriesNames(n, d)));
  if ([...series.keys()].filter((n) => !n.startsWith('vdet_process_')).length === 0) problem(metricsFile, 'defines no vdet_… metric');
  if (typeof dashboard['schemaVersion'] !== 'number') problem(file, 'has no numeric schemaVersion');
  if (typeof dashboard['title'] !== 'string' || typeof dashboard['uid'] !== 'string') problem(file, 'needs a title and a uid');
  const variables = asArr(asObj(dashboard['templating'])['list']).map(asObj);
  const datasource = variables.find((v) => v['name'] === 'datasource');
  if (!datasource || datasource['type'] !== 'datasource' || datasource['query'] !== 'prometheus') {
    problem(file, 'templating needs a variable "datasource" of type datasource, query prometheus');
  }
  const panels: Obj[] = [];
  const collect = (list: unknown) => {
    for (const p of asArr(list).map(asObj)) {
      panels.push(p);
      collect(p['panels']); // a collapsed row keeps its panels inside it
    }
  };
  collect(dashboard['panels']);
  const usesVariable = (d: unknown) => (isObj(d) ? d['uid'] === '${datasource}' : d === '${datasource}');
  let queries = 0;
  for (const panel of panels.filter((p) => p['type'] !== 'row')) {
    const where = `${file}: panel "${String(panel['title'])}"`;
    if (!usesVariable(panel['datasource'])) problem(where, 'datasource is not ${datasource}');
    const targets = asArr(panel['targets']).map(asObj);
    if (targets.length === 0) problem(where, 'has no query');
    for (const target of targets) {
      const expr = str(target['expr']);
      if (expr === undefined || expr.trim() === '') {
        problem(`${where} query ${String(target['refId'])}`, 'has no expr');
        continue;
      }
      if (target['datasource'] !== undefined && !usesVariable(target['datasource'])) problem(`${where} query ${String(target['refId'])}`, 'datasource is not ${datasource}');
      queries += 1;
      checkExpr(`${where} query ${String(target['refId'])}`, expr, series, metricsFile);
    }
  }
  for (const v of variables.filter((v) => v['type'] === 'query')) {
    const q = v['query'];
    const expr = str(q) ?? str(asObj(q)['query']);
    if (expr) checkExpr(`${file}: variable "${String(v['name'])}"`, expr, series, metricsFile);
  }
  if (queries === 0) problem(file, 'has no panel with a query');
}

/** Every vdet_… series the PromQL names is defined, and every `by (…)` label is one of those series' labels. */
function checkExpr(where: string, expr: string, series: Map<string, MetricDef>, metricsFile: string): void {
  // Label values and label matchers' strings are not metric names: drop quoted strings first.
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const used = [...new Set([...code.matchAll(/\b(vdet_[A-Za-z0-9_:]*)/g)].map((m) => m[1]!))];
  if (used.length === 0) problem(where, `names no vdet_… metric: ${expr}`);
  const labels = new Set(TARGET_LABELS);
  for (const name of used) {
    const def = series.get(name);
    if (!def) problem(where, `uses ${name}, which ${path.basename(metricsFile)} does not define`);
    else for (const l of def.labels) labels.add(l);
  }
  if (used.some((n) => !series.has(n))) return;
  for (const m of code.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of m[1]!.split(',').map((l) => l.trim()).filter(Boolean)) {
      if (!labels.has(label)) problem(where, `groups by "${label}", a label none of ${used.join(', ')} has`);
    }
  }
}

// ------------------------------------------------------------------------------------------------ main

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'compose' && args.length === 2) checkCompose(args[0]!, args[1]!);
  else if (command === 'k8s-schemas' && args.length >= 3) standaloneSchemas(args[0]!, args[1]!, args.slice(2));
  else if (command === 'crd' && args.length === 2) crdToJsonSchema(args[0]!, args[1]!);
  else if (command === 'k8s-refs' && args.length >= 1) checkReferences(args);
  else if (command === 'dashboard' && args.length === 2) await checkDashboard(args[0]!, args[1]!);
  else {
    console.error('usage: deploy-check.ts compose SCHEMA FILE | k8s-schemas LOCAL_STRICT_DIR OUT_DIR FILE... | crd CRD OUT_DIR | k8s-refs FILE... | dashboard DASHBOARD METRICS_TS');
    process.exit(2);
  }
} catch (error) {
  problem(command ?? '', error instanceof Error ? error.message : String(error));
}
for (const p of problems) console.error(p);
process.exit(problems.length > 0 ? 1 : 0);
