import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * scripts/validate-deploy.sh is the only check the deployment files get without a Docker engine or a cluster, so it
 * must pass on the real files and fail on broken ones. The first run fetches its tools and schemas into
 * ${VDET_CACHE:-~/.cache/vdet}/deploy; later runs work offline.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');

function validate(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('bash', ['scripts/validate-deploy.sh', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 540_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}${run.error ? String(run.error) : ''}` };
}

/** A scratch copy of a file or folder of the repository, removed after the test. */
function scratchCopy(t: { after: (fn: () => void) => void }, relative: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vdet-deploy-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, path.basename(relative));
  cpSync(path.join(ROOT, relative), copy, { recursive: true });
  return copy;
}

/** Replaces exactly one occurrence, so that a test breaks the file where it means to. */
function replaceOnce(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  assert.equal(text.split(from).length, 2, `${path.basename(file)} should contain ${JSON.stringify(from)} once`);
  writeFileSync(file, text.replace(from, to));
}

test('compose.yaml, deploy/k8s (CPU and GPU), docker/Dockerfile\'s build and the Grafana dashboard pass scripts/validate-deploy.sh', () => {
  const { status, output } = validate();
  assert.equal(status, 0, output);
  assert.match(output, /all passed: compose k8s docker dashboard/);
});

test('a compose file whose depends_on has the wrong type fails validation', (t) => {
  const compose = scratchCopy(t, 'compose.yaml');
  replaceOnce(compose, '    command: ["api"]\n', '    command: ["api"]\n    depends_on: 42\n');
  const { status, output } = validate('compose', '--compose-file', compose);
  assert.equal(status, 1, output);
  assert.match(output, /\/services\/api\/depends_on must be/);
});

test('a Kubernetes Deployment with a wrongly typed and a misspelt field fails validation', (t) => {
  const k8s = scratchCopy(t, 'deploy/k8s');
  const api = path.join(k8s, 'base/api.yaml');
  replaceOnce(api, '  replicas: 2\n', '  replicas: "2"\n');
  replaceOnce(api, '      automountServiceAccountToken: false\n', '      automountServiceAccountTokens: false\n');
  const { status, output } = validate('k8s', '--k8s-dir', k8s);
  assert.equal(status, 1, output);
  assert.match(output, /Deployment api is invalid/);
  assert.match(output, /\/spec\/replicas/);
  assert.match(output, /automountServiceAccountTokens/);
});

test('a KEDA ScaledObject that watches another group than its role\'s, with a numeric lagThreshold, fails validation', (t) => {
  const k8s = scratchCopy(t, 'deploy/k8s');
  const merger = path.join(k8s, 'base/merger.yaml');
  replaceOnce(merger, 'consumerGroup: vdet.merger', 'consumerGroup: vdet.detector');
  replaceOnce(merger, 'lagThreshold: "200"', 'lagThreshold: 200');
  const { status, output } = validate('k8s', '--k8s-dir', k8s);
  assert.equal(status, 1, output);
  assert.match(output, /ScaledObject merger is invalid.*lagThreshold/);
  assert.match(output, /consumerGroup "vdet\.detector" is not the merger's group "vdet\.merger"/);
});

test('a processor ScaledObject without the live streams\' trigger, and an exec readiness probe, fail validation', (t) => {
  const k8s = scratchCopy(t, 'deploy/k8s');
  const processor = path.join(k8s, 'base/processor.yaml');
  replaceOnce(processor, 'consumerGroup: vdet.processor-streams\n        topic: vdet.frames', 'consumerGroup: vdet.processor\n        topic: vdet.jobs');
  replaceOnce(processor, '            httpGet:\n              path: /readyz\n              port: metrics\n',
    '            exec:\n              command: ["node", "/app/docker/probe.mjs", "deps"]\n');
  const { status, output } = validate('k8s', '--k8s-dir', k8s);
  assert.equal(status, 1, output);
  assert.match(output, /ScaledObject\/processor: no kafka trigger for the processor's consumer group "vdet\.processor-streams"/);
  assert.match(output, /Deployment\/processor container processor: readinessProbe is not httpGet \/readyz on port 9101/);
});

test('network policies: one that opens a port no pod exposes, and pods left without a default deny, fail validation', (t) => {
  const k8s = scratchCopy(t, 'deploy/k8s');
  const policies = path.join(k8s, 'base/networkpolicy.yaml');
  replaceOnce(policies, '        - port: 9103\n', '        - port: 9999\n');
  replaceOnce(policies, '  policyTypes: [Ingress, Egress]\n', '  policyTypes: [Ingress]\n');
  const { status, output } = validate('k8s', '--k8s-dir', k8s);
  assert.equal(status, 1, output);
  assert.match(output, /NetworkPolicy\/vdet-metrics-ingress: ingress opens port 9999, which no selected pod exposes/);
  assert.match(output, /Deployment\/api: no NetworkPolicy selects its pods for both Ingress and Egress/);
});

test('a Grafana dashboard that queries a metric vdet does not define fails validation', (t) => {
  const dashboard = scratchCopy(t, 'deploy/grafana/vdet-dashboard.json');
  replaceOnce(dashboard, 'rate(vdet_errors_total[', 'rate(vdet_errors_count_total[');
  const { status, output } = validate('dashboard', '--dashboard', dashboard);
  assert.equal(status, 1, output);
  assert.match(output, /panel "Errors \/s" query A: uses vdet_errors_count_total, which metrics\.ts does not define/);
});
