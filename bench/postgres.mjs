// `node bench/postgres.mjs`: kv-server on PostgreSQL with 1 and 2 instances, side by side with kv-server on
// SQLite, in the same run: GET, PUT and 90/10 mixed (autocannon; 100-byte values over 10,000 keys), then
// watch latency from a write acknowledged by instance A to the event on a watcher of instance B (p50/p99).
// docs/performance.md "PostgreSQL" records the figures. Loopback and unix sockets only.
//
// PostgreSQL: a throwaway cluster in a temp directory (initdb; as the `postgres` OS user when run as root;
// unix socket only), stopped by PID at the end; or an existing database with --url (its data is kept, the
// bench writes the store `bench`). Needs the built server (pnpm build).
//
// Two instances are driven by two autocannon runs at once, each with half the connections against its own
// instance (what a load balancer spreading connections does, without a proxy's cost in the figures); their
// requests add up and the p99 is the worse of the two.
//
// Options (all optional):
//   --duration <s>            seconds per scenario (default 5)
//   --connections <n>         concurrent connections in total (default 32)
//   --keys <n>                distinct keys (default 10000)
//   --scenarios <list>        comma list of get,put,mixed (default all)
//   --targets <list>          comma list of sqlite,pg1,pg2 (default all)
//   --watch-writes <n>        writes timed for watch latency (default 500; 0 skips)
//   --synchronous-commit <v>  PostgreSQL synchronous_commit of the throwaway cluster: off (default; like
//                             SQLite's synchronous=normal, a process crash loses nothing acknowledged, a
//                             power loss may lose the last commits) or on (fsync per commit, like full)
//   --url <libpq url>         an existing PostgreSQL database instead of the throwaway cluster
//   --json <file>             also write the results as JSON
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'apps/server/dist/main.js');

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    keys: { type: 'string', default: '10000' },
    scenarios: { type: 'string', default: 'get,put,mixed' },
    targets: { type: 'string', default: 'sqlite,pg1,pg2' },
    'watch-writes': { type: 'string', default: '500' },
    'synchronous-commit': { type: 'string', default: 'off' },
    url: { type: 'string' },
    json: { type: 'string' },
  },
});
const duration = Number(opts.duration);
const connections = Number(opts.connections);
const keyCount = Number(opts.keys);
const scenarios = opts.scenarios.split(',').map((s) => s.trim());
const targets = opts.targets.split(',').map((s) => s.trim());
const watchWrites = Math.min(Number(opts['watch-writes']), 10_000);
const VALUE = Buffer.alloc(100, 'v');
const ENTRY = '/v1/stores/bench/entries/';
const TOKEN = 'kv_bench-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const randomKey = () => `bench.k${Math.floor(Math.random() * keyCount)}`;
const GET = (req) => ({ ...req, method: 'GET', path: ENTRY + randomKey(), headers: AUTH, body: undefined });
const PUT = (req) => ({
  ...req,
  method: 'PUT',
  path: ENTRY + randomKey(),
  headers: { ...AUTH, 'content-type': 'application/octet-stream' },
  body: VALUE,
});
const SETUP = { get: GET, put: PUT, mixed: (req) => (Math.random() < 0.1 ? PUT(req) : GET(req)) };

/** A throwaway PostgreSQL cluster (see apps/server/test/postgres/cluster.ts, which the tests use). */
async function startCluster() {
  const candidates = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {}
  try {
    for (const v of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)))
      candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {}
  const bin = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
  if (!bin)
    throw new Error('PostgreSQL server binaries not found (apt-get install postgresql), or pass --url');
  const root = process.getuid?.() === 0;
  const ids = root
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
      }
    : {};
  const dir = mkdtempSync(join(tmpdir(), 'kv-pg-bench-'));
  if (root) chownSync(dir, ids.uid, ids.gid);
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  execFileSync(
    join(bin, 'initdb'),
    ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    {
      ...ids,
      env,
      cwd: dir,
      stdio: 'ignore',
    },
  );
  const child = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      join(dir, 'data'),
      '-k',
      dir,
      '-c',
      'listen_addresses=',
      '-c',
      `synchronous_commit=${opts['synchronous-commit']}`,
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=128MB',
    ],
    { ...ids, env, cwd: dir, stdio: 'ignore' },
  );
  const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`;
  for (let i = 0; i < 300; i++) {
    if (existsSync(join(dir, '.s.PGSQL.5432'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  return {
    url,
    async stop() {
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGINT');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function load(url, scenario, seconds, conns) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: conns, duration: seconds, requests: [{ setupRequest: SETUP[scenario] }] },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** Runs `scenario` against every URL at once (connections split evenly); sums ops/s, worst p50/p99. */
async function loadAll(urls, scenario, seconds) {
  const results = await Promise.all(
    urls.map((u) => load(u, scenario, seconds, Math.max(1, Math.floor(connections / urls.length)))),
  );
  return {
    opsPerSec: results.reduce((n, r) => n + r.requests.average, 0),
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
  };
}

async function preload(url) {
  await fetch(`${url}/v1/stores`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  });
  for (let i = 0; i < keyCount; i += 1000) {
    const items = [];
    for (let j = i; j < Math.min(keyCount, i + 1000); j++)
      items.push({
        key: `bench.k${j}`,
        value: VALUE.toString('base64'),
        contentType: 'application/octet-stream',
      });
    const res = await fetch(`${url}/v1/stores/bench/bulk/set`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ items }),
    });
    if (!res.ok) throw new Error(`preload: ${res.status} ${await res.text()}`);
  }
}

/** Watch latency: a watcher on `watchUrl`; sequential writes on `writeUrl`; ms from the write's answer to its event. */
async function watchLatency(writeUrl, watchUrl, writes) {
  await fetch(`${writeUrl}/v1/stores`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'watchbench' }),
  });
  const controller = new AbortController();
  const res = await fetch(`${watchUrl}/v1/stores/watchbench/watch`, {
    headers: { ...AUTH, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (!res.ok) throw new Error(`watch: ${res.status}`);
  const seen = new Map(); // revision -> time seen
  const waiters = new Map();
  const reader = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const id = /^id: ?(\d+)/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (id !== undefined) {
            const rev = Number(id);
            seen.set(rev, performance.now());
            waiters.get(rev)?.();
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {}
  })();
  const latencies = [];
  const deadline = Date.now() + 120_000;
  for (let i = 0; i < writes && Date.now() < deadline; i++) {
    const put = await fetch(`${writeUrl}/v1/stores/watchbench/entries/k${i % 100}`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'text/plain' },
      body: `v${i}`,
    });
    const acked = performance.now();
    const { revision } = await put.json();
    if (!seen.has(revision)) {
      await Promise.race([
        new Promise((r) => waiters.set(revision, r)),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
    }
    const at = seen.get(revision);
    if (at !== undefined) latencies.push(Math.max(0, at - acked));
    // Spread the writes over the poll period, so the figures are not in phase with it.
    await new Promise((r) => setTimeout(r, Math.random() * 20));
  }
  controller.abort();
  await reader;
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { writes: latencies.length, p50Ms: pct(50), p99Ms: pct(99), maxMs: latencies.at(-1) };
}

const machine = { nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version };
process.stderr.write(
  `bench/postgres: ${machine.nproc} CPUs (${machine.cpu}), node ${machine.node}; ${connections} connections, ${keyCount} keys, ${duration} s per scenario\n`,
);
const results = {
  machine,
  settings: { duration, connections, keyCount, synchronousCommit: opts['synchronous-commit'] },
  targets: {},
};
const dir = mkdtempSync(join(tmpdir(), 'kv-pg-bench-sqlite-'));
const cluster = opts.url === undefined ? await startCluster() : { url: opts.url, stop: async () => {} };
const started = [];
const start = async (name, args, env = {}) => {
  const s = await startServer([MAIN, '--log-level', 'warn', ...args], {
    env: { KV_ADMIN_TOKEN: TOKEN, ...env },
    name,
  });
  started.push(s);
  return s;
};
try {
  for (const target of targets) {
    const servers =
      target === 'sqlite'
        ? [await start('sqlite', ['--data', join(dir, 'bench.sqlite')])]
        : await Promise.all(
            Array.from({ length: target === 'pg2' ? 2 : 1 }, (_, i) =>
              start(`${target}-${i}`, ['--storage', 'postgres'], { KV_POSTGRES_URL: cluster.url }),
            ),
          );
    const urls = servers.map((s) => s.url);
    const store = await fetch(`${urls[0]}/v1/stores/bench`, { headers: AUTH });
    if (store.status !== 200) await preload(urls[0]);
    await loadAll(urls, 'mixed', Math.min(2, duration)); // warm-up, not measured
    const out = {};
    for (const scenario of scenarios) {
      out[scenario] = await loadAll(urls, scenario, duration);
      const r = out[scenario];
      process.stderr.write(
        `  ${target.padEnd(6)} ${scenario.padEnd(5)} ${Math.round(r.opsPerSec)} ops/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms${r.errors + r.non2xx > 0 ? `, ${r.errors} errors, ${r.non2xx} non-2xx` : ''}\n`,
      );
    }
    if (watchWrites > 0 && target !== 'sqlite') {
      out.watch = await watchLatency(urls[0], urls.at(-1), watchWrites);
      process.stderr.write(
        `  ${target.padEnd(6)} watch ${target === 'pg2' ? 'A->B' : 'same instance'}: p50 ${out.watch.p50Ms.toFixed(1)} ms, p99 ${out.watch.p99Ms.toFixed(1)} ms over ${out.watch.writes} writes\n`,
      );
    }
    results.targets[target] = out;
    for (const s of servers) await stopProcess(s.child);
    // Next target starts on an empty store `bench` only for SQLite (a new file); PostgreSQL keeps it.
  }
} finally {
  for (const s of started) await stopProcess(s.child);
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
