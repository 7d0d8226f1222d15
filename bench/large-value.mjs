// `pnpm bench:large-value`: does one large value slow every lookup? kv-server on a temporary SQLite file;
// store `probe` holds 100 tiny keys, store `bulk` gets 50 tiny keys, then one 25 MiB value, then 55 more
// tiny keys (the pattern that made the 25 MiB row a divider cell of the clustered `entries` b-tree). Point
// GET (and PUT) latency on `probe` is measured before the large value lands and after, one request at a
// time over one keep-alive connection, and the ratio after/before printed (the target: within 1.5x). GET of
// `bulk`'s own tiny keys is measured too: those seeks share the large row's tree pages.
// docs/performance.md "Large values" records the figures.
//
// Needs the built server (pnpm build). Options (all optional):
//   --requests <n>   measured requests per phase and method (default 2000)
//   --main <file>    the kv-server entry to run (default apps/server/dist/main.js; e.g. an older build)
//   --json <file>    also write the results as JSON
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const Database = createRequire(join(root, 'apps/server/package.json'))('better-sqlite3');

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    main: { type: 'string', default: join(root, 'apps/server/dist/main.js') },
    json: { type: 'string' },
  },
});
const requests = Math.max(10, Math.min(100_000, Number(opts.requests)));
const MAIN = resolve(opts.main);
const TOKEN = 'kv_bench-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const LARGE_BYTES = 25 * 1024 * 1024;
const TINY = Buffer.from('tiny-value');

/** Starts kv-server on a free port and waits (at most 20 s) until /healthz answers. */
function start(dataFile) {
  return startServer([MAIN, '--host', '127.0.0.1', '--data', dataFile, '--log-level', 'warn'], {
    name: 'kv-server',
    env: { KV_ADMIN_TOKEN: TOKEN },
  });
}

const stop = stopProcess;

async function ok(res, what) {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function createStore(url, name) {
  await ok(
    await fetch(`${url}/v1/stores`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    }),
    `create ${name}`,
  );
}

async function put(url, store, key, body) {
  await ok(
    await fetch(`${url}/v1/stores/${store}/entries/${key}`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'application/octet-stream' },
      body,
    }),
    `PUT ${store}/${key}`,
  );
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * `requests` sequential requests: `GET` or `PUT` (tiny value) of random keys of `store` (`keys` names
 * them); p50/p99/mean latency in ms.
 */
async function measure(url, method, store, keys) {
  const ms = [];
  for (let i = 0; i < requests; i++) {
    const key = keys[Math.floor(Math.random() * keys.length)];
    const t0 = performance.now();
    if (method === 'GET') {
      await ok(await fetch(`${url}/v1/stores/${store}/entries/${key}`, { headers: AUTH }), 'GET');
    } else {
      await put(url, store, key, TINY);
    }
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    p50Ms: round(quantile(ms, 0.5)),
    p99Ms: round(quantile(ms, 0.99)),
    meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length),
  };
}

const PROBE_KEYS = Array.from({ length: 100 }, (_, i) => `probe.k${i}`);
const bulkKey = (i) => `k${String(i).padStart(3, '0')}`;
/** The tiny keys of `bulk` written before the large value (present in both phases). */
const BULK_KEYS = Array.from({ length: 50 }, (_, i) => bulkKey(i));

/**
 * Where the clustered tables keep long rows, from SQLite's `dbstat` on a read-only connection: overflow
 * pages per table, and how many of them hang off an interior page (a divider cell every seek through that
 * page may compare with; dbstat names an overflow page by its owner's path, the cell and `+index`).
 */
function layout(dataFile) {
  const db = new Database(dataFile, { readonly: true });
  try {
    const out = {};
    for (const table of ['entries', 'history', 'changes']) {
      const pages = db
        .prepare("SELECT path FROM dbstat WHERE name = ? AND pagetype = 'overflow'")
        .pluck()
        .all(table);
      const interior = new Set(
        db.prepare("SELECT path FROM dbstat WHERE name = ? AND pagetype = 'internal'").pluck().all(table),
      );
      out[table] = {
        overflowPages: pages.length,
        dividerOverflowPages: pages.filter((p) => interior.has(p.slice(0, p.lastIndexOf('/') + 1))).length,
      };
    }
    return out;
  } finally {
    db.close();
  }
}

async function phase(url, label) {
  // Warm-up (not measured): JIT, page cache, keep-alive connection.
  for (let i = 0; i < 3000; i++) {
    await ok(
      await fetch(`${url}/v1/stores/probe/entries/${PROBE_KEYS[i % 100]}`, { headers: AUTH }),
      'warm-up',
    );
  }
  for (let i = 0; i < 500; i++) await put(url, 'probe', PROBE_KEYS[i % 100], TINY);
  const out = {
    getProbe: await measure(url, 'GET', 'probe', PROBE_KEYS),
    putProbe: await measure(url, 'PUT', 'probe', PROBE_KEYS),
    getBulk: await measure(url, 'GET', 'bulk', BULK_KEYS),
  };
  for (const [name, r] of Object.entries(out)) {
    process.stderr.write(
      `  ${label.padEnd(6)} ${name.padEnd(8)} p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, mean ${r.meanMs} ms\n`,
    );
  }
  return out;
}

process.stderr.write(
  `bench large value: ${cpus().length} CPUs, node ${process.version}; ${requests} sequential requests per phase; ${MAIN}\n`,
);
const dir = mkdtempSync(join(tmpdir(), 'kv-bench-large-'));
let results;
try {
  const dataFile = join(dir, 'bench.sqlite');
  const { child, url } = await start(dataFile);
  try {
    // Keys of `bulk` in ascending order: k000..k049, the large value at k050, k051..k105.
    await createStore(url, 'probe');
    await createStore(url, 'bulk');
    for (const key of PROBE_KEYS) await put(url, 'probe', key, TINY);
    for (let i = 0; i < 50; i++) await put(url, 'bulk', bulkKey(i), TINY);
    const before = await phase(url, 'before');
    await put(url, 'bulk', bulkKey(50), Buffer.alloc(LARGE_BYTES, 'L'));
    for (let i = 51; i < 106; i++) await put(url, 'bulk', bulkKey(i), TINY);
    const after = await phase(url, 'after');
    results = { requests, main: MAIN, before, after, layout: layout(dataFile) };
  } finally {
    await stop(child);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ratio = (a, b) => (a / b).toFixed(2);
const { before, after } = results;
const LABELS = {
  getProbe: 'GET `probe` (other store)',
  putProbe: 'PUT `probe` (other store)',
  getBulk: 'GET `bulk` tiny keys (same store)',
};
const rows = [
  '| request | before p50 ms | before p99 ms | after p50 ms | after p99 ms | p50 ratio | p99 ratio | mean ratio |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const [name, label] of Object.entries(LABELS)) {
  const b = before[name];
  const a = after[name];
  rows.push(
    `| ${label} | ${b.p50Ms} | ${b.p99Ms} | ${a.p50Ms} | ${a.p99Ms} | ${ratio(a.p50Ms, b.p50Ms)} | ${ratio(a.p99Ms, b.p99Ms)} | ${ratio(a.meanMs, b.meanMs)} |`,
  );
}
process.stdout.write(`\n${rows.join('\n')}\n`);
process.stdout.write(
  `\noverflow pages (of them under an interior page): ${Object.entries(results.layout)
    .map(([t, l]) => `${t} ${l.overflowPages} (${l.dividerOverflowPages})`)
    .join(', ')}\n`,
);
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
