// `node bench/counters.mjs`: `increment` throughput of kv-server on a temporary SQLite file, with 32
// concurrent clients (@kv/node, each with its own keep-alive connection pool, the default retry policy and
// so an Idempotency-Key on every call) on ONE key (every commit serializes on the same row) and spread
// over 10,000 keys. Each phase is bounded in count (--requests) and time (--max-seconds); at its end the
// stored counters are read back and must add up to the acknowledged increments exactly (else the bench
// fails). Prints increments/s, client latency p50/p99 and the server's CPU time per increment.
// docs/performance.md "Counters" records the figures.
//
// Needs the built server and client (pnpm build). Options (all optional):
//   --requests <n>      increments per phase (default 20000)
//   --clients <n>       concurrent clients (default 32)
//   --max-seconds <s>   time bound per phase (default 60)
//   --json <file>       also write the results as JSON
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { createClient } = await import(join(root, 'packages/node/dist/index.js'));

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '32' },
    'max-seconds': { type: 'string', default: '60' },
    json: { type: 'string' },
  },
});
const requests = Math.max(100, Math.min(1_000_000, Number(opts.requests)));
const clientCount = Math.max(1, Math.min(256, Number(opts.clients)));
const maxMs = Math.max(1, Math.min(600, Number(opts['max-seconds']))) * 1000;
const TOKEN = 'kv_bench-admin-token-0123456789';
const KEYS = 10_000;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs one phase: `requests` increments (or fewer when `maxMs` runs out) by `clientCount` clients; with
 * `asSet`, `set(key, n)` calls instead (the baseline: a plain write of the same size, no read of the value).
 */
async function phase(url, pid, store, keyOf, asSet = false) {
  const clients = Array.from({ length: clientCount }, () =>
    createClient({ url, token: TOKEN, env: {} }).store(store),
  );
  const latencies = [];
  const perKey = new Map();
  let next = 0;
  const deadline = performance.now() + maxMs;
  const cpuBefore = cpuMs(pid);
  const began = performance.now();
  await Promise.all(
    clients.map(async (h) => {
      while (next < requests && performance.now() < deadline) {
        const key = keyOf(next++);
        const t0 = performance.now();
        const count = (perKey.get(key) ?? 0) + 1;
        perKey.set(key, count);
        if (asSet) await h.set(key, count);
        else await h.increment(key);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - began;
  const serverCpuMs = cpuMs(pid) - cpuBefore;
  // Every acknowledged increment is in the store, once.
  // (Concurrent sets of one key land in any order: the baseline is not checked.)
  const reader = clients[0];
  const keys = [...perKey.keys()];
  const checked = asSet ? [] : keys;
  for (let i = 0; i < checked.length; i += 10_000) {
    const got = await reader.getMany(checked.slice(i, i + 10_000));
    for (const [key, entry] of got) {
      if (entry?.value !== perKey.get(key)) {
        throw new Error(`${store}/${key}: stored ${entry?.value}, acknowledged ${perKey.get(key)}`);
      }
    }
  }
  latencies.sort((a, b) => a - b);
  const done = latencies.length;
  return {
    increments: done,
    keys: keys.length,
    seconds: +(elapsedMs / 1000).toFixed(2),
    perSecond: Math.round(done / (elapsedMs / 1000)),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
    serverCpuUsPerIncrement: Math.round((serverCpuMs * 1000) / done),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'kv-bench-counters-'));
const { child, url } = await startServer(
  [
    join(root, 'apps/server/dist/main.js'),
    '--host',
    '127.0.0.1',
    '--data',
    join(dir, 'kv.sqlite'),
    '--log-level',
    'warn',
  ],
  { name: 'kv-server', env: { KV_ADMIN_TOKEN: TOKEN } },
);
try {
  const admin = createClient({ url, token: TOKEN, env: {} });
  await admin.stores.create('one');
  await admin.stores.create('spread');
  // A short warm-up (JIT, SQLite page cache), not measured.
  await Promise.all(Array.from({ length: 200 }, (_, i) => admin.store('spread').increment(`warm${i % 10}`)));
  const oneKey = await phase(url, child.pid, 'one', () => 'counter');
  const spread = await phase(url, child.pid, 'spread', (i) => `k${(i * 7919) % KEYS}`);
  await admin.stores.create('baseline');
  const baseline = await phase(url, child.pid, 'baseline', (i) => `k${(i * 7919) % KEYS}`, true);
  const results = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    clients: clientCount,
    storage: 'sqlite',
    oneKey,
    tenThousandKeys: spread,
    setBaselineTenThousandKeys: baseline,
  };
  console.log(JSON.stringify(results, null, 2));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
} finally {
  await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
}
