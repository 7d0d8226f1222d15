// Compatibility-route overhead (docs/performance.md "Compatibility routes"): the same single-entry GET and
// PUT sent to kv-server (built, temporary SQLite file, bearer token on every request) through the native
// route, the Cloudflare KV REST route and the Apify v2 route, by a raw `fetch` loop with N requests in
// flight. Rounds alternate between the routes so machine noise hits all alike; the figures are medians
// over rounds of ops/s and of server CPU per request (from /proc), and their ratios to the native route's
// medians.
//
// Needs the built server (pnpm build). Loopback only; every loop is bounded in time and count. Options:
//   --seconds <s>      seconds per route per round (default 2)
//   --rounds <n>       rounds (default 5; 0 skips the HTTP figures)
//   --inflight <n>     requests in flight (default 16)
//   --keys <n>         keys (default 1000), 100-byte values
//   --in-process <n>   also time n GETs and n PUTs per route through `engine.handle` on MemoryStorage, one
//                      at a time, with access control on (default 20000; 0 skips): the CPU the compat layer
//                      adds, without HTTP, storage or client noise
//   --json <file>      also write the results as JSON
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'apps/server/dist/main.js');

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    inflight: { type: 'string', default: '16' },
    keys: { type: 'string', default: '1000' },
    'in-process': { type: 'string', default: '20000' },
    json: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const rounds = Number(opts.rounds);
const inflight = Number(opts.inflight);
const keyCount = Number(opts.keys);
/** Hard cap on requests per measurement, whatever the speed. */
const MAX_OPS = 2_000_000;
const VALUE = 'v'.repeat(100);
const STORE = 'compatbench';
const token = 'bench-admin-token-compat-0123456789';
const auth = { authorization: `Bearer ${token}` };

/** The path of key `i` on each API. */
const PATHS = {
  native: (i) => `/v1/stores/${STORE}/entries/k${i}`,
  cloudflare: (i) => `/client/v4/accounts/bench/storage/kv/namespaces/${STORE}/values/k${i}`,
  apify: (i) => `/v2/key-value-stores/${STORE}/records/k${i}`,
};

/**
 * µs of this process's CPU per request for `n` GETs and `n` PUTs per route through `engine.handle` (the
 * server's transport hands the engine the same plain request), on MemoryStorage with a bearer token.
 * Routes alternate in 5 slices so noise hits all alike; the figure is the median slice.
 */
async function inProcess(n) {
  const root = join(here, '..');
  const { createEngine, MemoryStorage, MemoryTokenStore, ensureToken } = await import(
    join(root, 'packages/engine/dist/index.js')
  );
  const tokens = new MemoryTokenStore();
  await ensureToken(tokens, { secret: token, capabilities: ['*'], description: 'bench' }, Date.now());
  const engine = createEngine({ storage: new MemoryStorage(), auth: { tokens } });
  const body = new TextEncoder().encode(VALUE);
  const request = (method, url, withBody) => ({
    method,
    url,
    header: (name) =>
      name === 'authorization'
        ? auth.authorization
        : name === 'content-type' && withBody
          ? 'text/plain'
          : undefined,
    readBody: async (limit) => (body.byteLength > limit ? null : withBody ? body : new Uint8Array(0)),
    signal: new AbortController().signal,
  });
  const created = await engine.handle({
    ...request('POST', '/v1/stores', false),
    header: (name) => (name === 'content-type' ? 'application/json' : auth[name]),
    readBody: async () => new TextEncoder().encode(JSON.stringify({ name: STORE })),
  });
  if (created.status !== 201) throw new Error(`in-process create store: ${created.status}`);
  const keys = 1000;
  for (let i = 0; i < keys; i++) await engine.handle(request('PUT', PATHS.native(i), true));
  const out = {};
  for (const method of ['GET', 'PUT']) {
    const slices = { native: [], cloudflare: [], apify: [] };
    const per = Math.ceil(n / 5);
    for (let slice = 0; slice < 6; slice++) {
      for (const api of Object.keys(slices)) {
        const start = process.cpuUsage();
        for (let i = 0; i < per; i++) {
          const res = await engine.handle(request(method, PATHS[api](i % keys), method === 'PUT'));
          if (res.status >= 300) throw new Error(`in-process ${api} ${method}: ${res.status}`);
        }
        const used = process.cpuUsage(start);
        // Slice 0 warms up.
        if (slice > 0) slices[api].push((used.user + used.system) / per);
      }
    }
    out[method] = Object.fromEntries(
      Object.entries(slices).map(([api, xs]) => [api, [...xs].sort((a, b) => a - b)[2]]),
    );
  }
  await engine.close();
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'kv-compat-bench-'));
const { child, url } = await startServer([MAIN, '--data', join(dir, 'bench.sqlite')], {
  env: { KV_ADMIN_TOKEN: token },
  name: 'kv-server',
});

try {
  const created = await fetch(`${url}/v1/stores`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: STORE }),
  });
  if (created.status !== 201) throw new Error(`create store: ${created.status}`);
  for (let i = 0; i < keyCount; i++) {
    const res = await fetch(url + PATHS.native(i), {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: VALUE,
    });
    if (!res.ok) throw new Error(`seed: ${res.status}`);
    await res.arrayBuffer();
  }

  /** Runs `op` for `seconds` with `inflight` in flight; returns ops/s and server CPU µs per op. */
  const measure = async (api, method) => {
    const path = PATHS[api];
    let next = 0;
    let done = 0;
    let failed = 0;
    const deadline = Date.now() + seconds * 1000;
    const cpu0 = cpuMs(child.pid);
    const t0 = performance.now();
    const worker = async () => {
      while (Date.now() < deadline && done < MAX_OPS) {
        const i = next++ % keyCount;
        const res = await fetch(
          url + path(i),
          method === 'GET'
            ? { headers: auth }
            : { method: 'PUT', headers: { ...auth, 'content-type': 'text/plain' }, body: VALUE },
        );
        await res.arrayBuffer();
        if (!res.ok) failed++;
        done++;
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuMs(child.pid) - cpu0;
    if (failed > 0) throw new Error(`${api} ${method}: ${failed} of ${done} requests failed`);
    return { opsPerSec: done / elapsed, cpuUsPerOp: (cpu * 1000) / done };
  };

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  const results = {};
  // `--rounds 0`: only the in-process figures.
  for (const method of rounds > 0 ? ['GET', 'PUT'] : []) {
    const samples = { native: [], cloudflare: [], apify: [] };
    // Warm-up, then rounds; the order of the routes rotates each round.
    for (const api of Object.keys(samples)) await measure(api, method);
    const apis = Object.keys(samples);
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < apis.length; j++) {
        const api = apis[(r + j) % apis.length];
        samples[api].push(await measure(api, method));
      }
    }
    const base = samples.native;
    results[method] = Object.fromEntries(
      Object.entries(samples).map(([api, xs]) => {
        const ops = median(xs.map((x) => x.opsPerSec));
        const cpu = median(xs.map((x) => x.cpuUsPerOp));
        // Ratios of the medians (steadier on a shared machine than the median of per-round ratios).
        const opsRatio = ops / median(base.map((x) => x.opsPerSec));
        const cpuRatio = cpu / median(base.map((x) => x.cpuUsPerOp));
        return [api, { opsPerSec: Math.round(ops), cpuUsPerOp: Math.round(cpu), opsRatio, cpuRatio }];
      }),
    );
  }

  if (rounds > 0) {
    console.log(`| op | route | ops/s | server CPU µs/op | ops/s vs native | CPU vs native |`);
    console.log(`| --- | --- | ---: | ---: | ---: | ---: |`);
  }
  for (const [method, byApi] of Object.entries(results)) {
    for (const [api, r] of Object.entries(byApi)) {
      console.log(
        `| ${method} | ${api} | ${r.opsPerSec} | ${r.cpuUsPerOp} | ${r.opsRatio.toFixed(2)} | ${r.cpuRatio.toFixed(2)} |`,
      );
    }
  }
  let engineCpu;
  if (Number(opts['in-process']) > 0) {
    engineCpu = await inProcess(Number(opts['in-process']));
    console.log('');
    console.log('| op | route | engine CPU µs/op (in process) | vs native |');
    console.log('| --- | --- | ---: | ---: |');
    for (const [method, byApi] of Object.entries(engineCpu)) {
      for (const [api, us] of Object.entries(byApi)) {
        console.log(`| ${method} | ${api} | ${us.toFixed(1)} | ${(us / byApi.native).toFixed(2)} |`);
      }
    }
  }
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ seconds, rounds, inflight, results, engineCpu }, null, 2));
  }
} finally {
  await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
}
