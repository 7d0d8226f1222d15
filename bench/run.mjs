// `pnpm bench`: kv-server on a temporary SQLite file next to a bare node:http server answering from memory
// (bench/bare-server.mjs, the ceiling for any Node HTTP server here), both driven by autocannon with the
// same load: GET, PUT and 90/10 mixed, 32 connections, 100-byte values over 10,000 keys. Prints ops/s,
// p50/p99 latency, server RSS and the ratio to the bare server. docs/performance.md records the figures.
//
// Needs the built server (pnpm build). Options (all optional):
//   --duration <s>        seconds per scenario (default 10)
//   --connections <n>     concurrent connections (default 32)
//   --keys <n>            distinct keys (default 10000)
//   --value-bytes <n>     value size (default 100)
//   --scenarios <list>    comma list of get,put,mixed (default all)
//   --log-level <level>   kv-server --log-level (default info: no per-request log line; debug logs each)
//   --synchronous <mode>  kv-server --synchronous normal|full (default normal)
//   --storage <kind>      kv-server --storage sqlite|memory (default sqlite; memory isolates the storage cost)
//   --cpu-prof            run kv-server under node --cpu-prof (profiles in bench/profiles/)
//   --rate <n>            fixed total request rate (autocannon overallRate; default: as fast as possible).
//                         At a rate the server sustains, the CPU-per-request column is the least noisy measure.
//   --json <file>         also write the results as JSON
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuMs, rssMb, startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const MAIN = join(root, 'apps/server/dist/main.js');
const BARE = join(here, 'bare-server.mjs');

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    keys: { type: 'string', default: '10000' },
    'value-bytes': { type: 'string', default: '100' },
    scenarios: { type: 'string', default: 'get,put,mixed' },
    'log-level': { type: 'string', default: 'info' },
    synchronous: { type: 'string', default: 'normal' },
    storage: { type: 'string', default: 'sqlite' },
    'cpu-prof': { type: 'boolean', default: false },
    json: { type: 'string' },
    rate: { type: 'string' },
  },
});
const duration = Number(opts.duration);
const connections = Number(opts.connections);
const keyCount = Number(opts.keys);
const valueBytes = Number(opts['value-bytes']);
const scenarios = opts.scenarios.split(',').map((s) => s.trim());
const VALUE = Buffer.alloc(valueBytes, 'v');
const ENTRY = '/v1/stores/bench/entries/';
const keyAt = (i) => `bench.k${i}`;
const randomKey = () => keyAt(Math.floor(Math.random() * keyCount));
// kv-server needs a bearer token (docs/security.md): the child gets it as KV_ADMIN_TOKEN. The bare server
// receives the same header, so both parse the same requests.
const TOKEN = 'kv_bench-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Starts a server on a free port and waits until /healthz answers (works at any log level). */
async function start(name, args) {
  const { child, url } = await startServer(args, { name, env: { KV_ADMIN_TOKEN: TOKEN } });
  return { name, child, url };
}

const stop = (server) => stopProcess(server.child);

async function preload(server) {
  if (server.name === 'kv-server') {
    const res = await fetch(`${server.url}/v1/stores`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    });
    if (res.status !== 201) throw new Error(`create store: ${res.status} ${await res.text()}`);
    for (let i = 0; i < keyCount; i += 5000) {
      const items = [];
      for (let j = i; j < Math.min(keyCount, i + 5000); j++) {
        items.push({
          key: keyAt(j),
          value: VALUE.toString('base64'),
          contentType: 'application/octet-stream',
        });
      }
      const bulk = await fetch(`${server.url}/v1/stores/bench/bulk/set`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      if (bulk.status !== 200) throw new Error(`preload: ${bulk.status} ${await bulk.text()}`);
    }
  } else {
    for (let i = 0; i < keyCount; i++) {
      await fetch(`${server.url}${ENTRY}${keyAt(i)}`, { method: 'PUT', headers: AUTH, body: VALUE });
    }
  }
}

const GET = (req) => ({ ...req, method: 'GET', path: ENTRY + randomKey(), headers: AUTH, body: undefined });
const PUT = (req) => ({
  ...req,
  method: 'PUT',
  path: ENTRY + randomKey(),
  headers: { ...AUTH, 'content-type': 'application/octet-stream' },
  body: VALUE,
});
const SETUP = { get: GET, put: PUT, mixed: (req) => (Math.random() < 0.1 ? PUT(req) : GET(req)) };

function load(url, scenario, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        requests: [{ setupRequest: SETUP[scenario] }],
        ...(opts.rate === undefined ? {} : { overallRate: Number(opts.rate) }),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function measure(server) {
  await preload(server);
  // Warm up the JIT and caches (not measured).
  await load(server.url, 'mixed', Math.min(3, duration));
  const out = {};
  for (const scenario of scenarios) {
    const cpuBefore = cpuMs(server.child.pid);
    const r = await load(server.url, scenario, duration);
    const cpuUsPerOp = ((cpuMs(server.child.pid) - cpuBefore) * 1000) / r.requests.total;
    const mem = rssMb(server.child.pid);
    out[scenario] = {
      opsPerSec: r.requests.average,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      cpuUsPerOp,
      rssMb: mem.rss,
      peakRssMb: mem.peak,
      errors: r.errors + r.timeouts,
      non2xx: r.non2xx,
      total: r.requests.total,
    };
    process.stderr.write(
      `  ${server.name.padEnd(9)} ${scenario.padEnd(5)} ${Math.round(r.requests.average)} ops/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${cpuUsPerOp.toFixed(0)} µs CPU/op, RSS ${mem.rss.toFixed(0)} MB\n`,
    );
  }
  return out;
}

const cpuModel = (() => {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  } catch {
    return cpus()[0]?.model;
  }
})();
const machine = {
  nproc: cpus().length,
  cpu: cpuModel,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
process.stderr.write(
  `bench: ${machine.nproc} CPUs (${machine.cpu}), node ${machine.node}; ${connections} connections, ` +
    `${valueBytes}-byte values over ${keyCount} keys, ${duration} s per scenario\n`,
);

const dir = mkdtempSync(join(tmpdir(), 'kv-bench-'));
const results = {
  machine,
  settings: {
    duration,
    connections,
    keyCount,
    valueBytes,
    logLevel: opts['log-level'],
    synchronous: opts.synchronous,
  },
  bare: {},
  kv: {},
};
try {
  const bare = await start('bare', [BARE]);
  try {
    results.bare = await measure(bare);
  } finally {
    await stop(bare);
  }
  const profDir = join(here, 'profiles');
  if (opts['cpu-prof']) mkdirSync(profDir, { recursive: true });
  const kv = await start('kv-server', [
    ...(opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    MAIN,
    '--data',
    join(dir, 'bench.sqlite'),
    '--log-level',
    opts['log-level'],
    '--synchronous',
    opts.synchronous,
    '--storage',
    opts.storage,
  ]);
  try {
    results.kv = await measure(kv);
  } finally {
    await stop(kv);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows = [
  '| scenario | server | ops/s | p50 ms | p99 ms | server CPU µs/op | RSS MB | ratio to bare |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const s of scenarios) {
  const b = results.bare[s];
  const k = results.kv[s];
  rows.push(
    `| ${s} | bare node:http | ${Math.round(b.opsPerSec)} | ${b.p50Ms} | ${b.p99Ms} | ${b.cpuUsPerOp.toFixed(0)} | ${b.rssMb.toFixed(0)} | 1.00 |`,
  );
  rows.push(
    `| ${s} | kv-server (${opts.storage === 'memory' ? 'memory' : 'SQLite'}) | ${Math.round(k.opsPerSec)} | ${k.p50Ms} | ${k.p99Ms} | ${k.cpuUsPerOp.toFixed(0)} | ${k.rssMb.toFixed(0)} | ${(k.opsPerSec / b.opsPerSec).toFixed(2)} |`,
  );
}
process.stdout.write(`\n${rows.join('\n')}\n`);
const errors = Object.values(results.kv).reduce((n, r) => n + r.errors + r.non2xx, 0);
if (errors > 0) process.stdout.write(`\nkv-server: ${errors} errors or non-2xx responses\n`);
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
