import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Infra } from './infra.js';
import { registry } from '../platform/metrics.js';

const CHECK_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, { ok: boolean; error?: string }>;
}

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([probe(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS); })]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** What a role of this process adds to /readyz beside the backing services (a detector: its models). */
const roleChecks = new Map<string, () => { ok: boolean; error?: string }>();

/**
 * Adds a check of this process's own to /readyz (on the api and the ops server alike); a failing one makes the
 * process `degraded`, not unavailable: it still serves what does not need the failed part. Returns its removal.
 */
export function addReadinessCheck(name: string, probe: () => { ok: boolean; error?: string }): () => void {
  roleChecks.set(name, probe);
  return () => {
    if (roleChecks.get(name) === probe) roleChecks.delete(name);
  };
}

/** Kafka and MongoDB are required; Redis holds only derivable state, so without it a role is `degraded`, not down. */
export async function readiness(infra: Pick<Infra, 'bus' | 'progress'> & { store: Pick<Infra['store'], 'ping'> }): Promise<ReadinessReport> {
  const [kafka, mongo, redis] = await Promise.all([check(() => infra.bus.ping()), check(() => infra.store.ping()), check(() => infra.progress.ping())]);
  const own = Object.fromEntries([...roleChecks].map(([name, probe]) => [name, probe()]));
  const checks = { kafka, mongo, redis, ...own };
  if (!kafka.ok || !mongo.ok) return { status: 'unavailable', checks };
  return { status: redis.ok && Object.values(own).every((c) => c.ok) ? 'ok' : 'degraded', checks };
}

/**
 * Whether a request's `Authorization: Bearer <token>` is the operator's VDET_OPS_TOKEN (compared in constant time);
 * never when no token is configured.
 */
export function isOperator(authorization: string | undefined, opsToken: string | undefined): boolean {
  if (!opsToken || !authorization?.startsWith('Bearer ')) return false;
  const given = Buffer.from(authorization.slice('Bearer '.length).trim());
  const expected = Buffer.from(opsToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * What /readyz tells a caller: the status to anyone (probes need no more), the checks with their error text (which
 * names hosts and ports of the backing services) only to an operator.
 */
export function readinessFor(report: ReadinessReport, operator: boolean): ReadinessReport | Pick<ReadinessReport, 'status'> {
  return operator ? report : { status: report.status };
}

/**
 * /healthz, /readyz and /metrics for a role that has no api of its own (processor, detector, merger), on
 * VDET_METRICS_PORT. Kubernetes probes and Prometheus scrape it.
 */
export async function startOpsServer(infra: Infra, port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    void (async () => {
      if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (path === '/readyz') {
        const report = await readiness(infra);
        const shown = readinessFor(report, isOperator(request.headers.authorization, infra.config.http.opsToken));
        response.writeHead(report.status === 'unavailable' ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(shown));
      } else if (path === '/metrics') {
        response.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      } else {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"VDET_NOT_FOUND"}');
      }
    })().catch(() => response.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // e.g. the port is taken: start-up fails with the reason, not a crash later
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
