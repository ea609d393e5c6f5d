#!/usr/bin/env node
// Container probes for vdet's roles, in plain Node (no curl, no dependencies):
//   node docker/probe.mjs http://127.0.0.1:8080/readyz   0 when the URL answers 2xx: the roles' healthchecks in
//                                                        compose.yaml, on the api's port or on processor, detector
//                                                        and merger's VDET_METRICS_PORT (9101, 9102, 9103)
//   node docker/probe.mjs deps                           0 when Kafka, MongoDB and Redis (KAFKA_BROKERS, MONGO_URL,
//                                                        REDIS_URL) each accept a TCP connection
//   node docker/probe.mjs alive                          0 when the vdet process in this container is running
// `deps` and `alive` are for running without the HTTP endpoints (e.g. to tell a network problem from a vdet one).
// Every check gives up after PROBE_TIMEOUT_MS (default 3000).
import { readdirSync, readFileSync } from 'node:fs';
import { resolveSrv } from 'node:dns/promises';
import { connect } from 'node:net';

const TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 3000);
const [what] = process.argv.slice(2);

function tcp(host, port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: TIMEOUT_MS });
    socket.once('connect', () => { socket.destroy(); resolve(); });
    socket.once('timeout', () => { socket.destroy(); reject(new Error(`${host}:${port} timed out`)); });
    socket.once('error', (error) => reject(new Error(`${host}:${port} ${error.message}`)));
  });
}

/** host:port pairs from "h1:p1,h2:p2" (brackets allowed around IPv6 hosts). */
function hostPorts(list, defaultPort) {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry);
    if (!match) throw new Error(`cannot read "${entry}"`);
    return { host: match[1], port: Number(match[2] ?? defaultPort) };
  });
}

/** MongoDB's URL may list several hosts (mongodb://u:p@h1:27017,h2/db) or name an SRV record (mongodb+srv://). */
async function mongoHosts(url) {
  const match = /^mongodb(\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url);
  if (!match) throw new Error('MONGO_URL is not a mongodb:// or mongodb+srv:// URL');
  if (!match[1]) return hostPorts(match[2], 27017);
  const records = await resolveSrv(`_mongodb._tcp.${match[2]}`);
  return records.map((r) => ({ host: r.name, port: r.port }));
}

async function deps() {
  const env = process.env;
  const redis = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const targets = {
    kafka: hostPorts(env.KAFKA_BROKERS ?? '127.0.0.1:9092', 9092),
    mongo: await mongoHosts(env.MONGO_URL ?? 'mongodb://127.0.0.1:27017/'),
    redis: [{ host: redis.hostname.replace(/^\[|\]$/g, ''), port: Number(redis.port || 6379) }],
  };
  // A service is up when any one of its hosts accepts a connection (the clients fail over between them).
  const failures = [];
  await Promise.all(Object.entries(targets).map(async ([name, hosts]) => {
    const results = await Promise.allSettled(hosts.map((h) => tcp(h.host, h.port)));
    if (!results.some((r) => r.status === 'fulfilled')) {
      failures.push(`${name}: ${results.map((r) => r.reason?.message).join('; ')}`);
    }
  }));
  if (failures.length > 0) throw new Error(failures.join(' | '));
}

/** The vdet node process (`…/dist/src/cli.js <role>`) exists and is neither stopped nor a zombie. */
function alive() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    let cmdline;
    let stat;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!cmdline.some((arg) => arg.endsWith('dist/src/cli.js'))) continue;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'T' || state === 't') throw new Error(`vdet (pid ${pid}) is in state ${state}`);
    return;
  }
  throw new Error('no vdet process (dist/src/cli.js) in this container');
}

async function http(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
}

try {
  if (what === 'deps') await deps();
  else if (what === 'alive') alive();
  else if (what && /^https?:\/\//.test(what)) await http(what);
  else {
    console.error('usage: probe.mjs deps | alive | http(s)://URL');
    process.exit(2);
  }
} catch (error) {
  console.error(`probe ${what}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
