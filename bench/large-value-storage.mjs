// `node bench/large-value-storage.mjs [--dist <dir>]`: the large-value pattern on `SqliteStorage` itself,
// in process (no HTTP), where the SQLite cost is not hidden by the server's ~0.2 ms per request. Store
// `bulk` gets 50 tiny keys, a 25 MiB value, 55 more tiny keys; store `probe` holds 100 tiny keys. Prints
// the mean time of `get` on `bulk`'s tiny keys and on `probe`'s keys (after: also of a one-put commit on
// `probe`), and where SQLite put the long rows (overflow pages, and how many hang off an interior page: a divider
// cell that seeks compare with). docs/performance.md "Large values" records the figures.
//
// Needs the built server (pnpm build); `--dist` points at another build of apps/server (an older one).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { dist: { type: 'string', default: join(root, 'apps/server/dist') } },
});
const { SqliteStorage } = await import(pathToFileURL(join(resolve(opts.dist), 'sqlite-storage.js')).href);
// The commit rules live in the engine since the Storage interface became reads + transaction.
const { commit } = await import(pathToFileURL(join(root, 'packages/engine/dist/index.js')).href);
const Database = createRequire(join(root, 'apps/server/package.json'))('better-sqlite3');

const dir = mkdtempSync(join(tmpdir(), 'kv-bench-large-storage-'));
const path = join(dir, 'bench.sqlite');
const s = SqliteStorage.open({ path, checkpointIntervalMs: null });
const config = { history: 1, defaultTtlMs: null, maxValueBytes: 32 << 20 };
const tiny = new Uint8Array(10);
let ids = 0;
let clock = 0;
// An older build (`--dist`) still has `storage.commit`.
const commitTo = (store, request) =>
  typeof s.transaction === 'function' ? commit(s, store, request) : s.commit(store, request);
const put = (store, key, value) =>
  commitTo(store, {
    mode: 'each',
    nowMs: ++clock,
    mutations: [
      {
        type: 'put',
        key,
        value,
        contentType: 'application/octet-stream',
        metadata: null,
        scopes: [],
        expiresAt: null,
        resume: false,
        newId: `id-${++ids}`,
      },
    ],
  });
const bulkKey = (i) => `k${String(i).padStart(3, '0')}`;
const PROBE = Array.from({ length: 100 }, (_, i) => `probe.k${i}`);
const BULK = Array.from({ length: 50 }, (_, i) => bulkKey(i));

async function meanMs(fn, keys, rounds = 20) {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const k of keys) await fn(k);
  return (performance.now() - t0) / (rounds * keys.length);
}

async function phase(label, puts) {
  const out = {
    getBulk: await meanMs((k) => s.get('bulk', k, clock), BULK),
    getProbe: await meanMs((k) => s.get('probe', k, clock), PROBE),
  };
  // Writes change the tree (revisions grow, pages split): only measured after the layout is reported.
  if (puts) out.putProbe = await meanMs((k) => put('probe', k, tiny), PROBE, 2);
  process.stdout.write(
    `${label.padEnd(6)} get bulk ${out.getBulk.toFixed(3)} ms, get probe ${out.getProbe.toFixed(3)} ms${puts ? `, put probe ${out.putProbe.toFixed(3)} ms` : ''}\n`,
  );
}

function layout() {
  const db = new Database(path, { readonly: true });
  for (const table of ['entries', 'changes']) {
    const pages = db
      .prepare("SELECT path FROM dbstat WHERE name = ? AND pagetype = 'overflow'")
      .pluck()
      .all(table);
    const interior = new Set(
      db.prepare("SELECT path FROM dbstat WHERE name = ? AND pagetype = 'internal'").pluck().all(table),
    );
    const under = pages.filter((p) => interior.has(p.slice(0, p.lastIndexOf('/') + 1))).length;
    process.stdout.write(
      `${table}: ${pages.length} overflow pages, ${under} of them under an interior page\n`,
    );
  }
  db.close();
}

try {
  await s.createStore('bulk', config, 0, 'secret');
  await s.createStore('probe', config, 0, 'secret');
  for (const k of PROBE) await put('probe', k, tiny);
  for (let i = 0; i < 50; i++) await put('bulk', bulkKey(i), tiny);
  await phase('before', false);
  await put('bulk', bulkKey(50), new Uint8Array(25 * 1024 * 1024).fill(7));
  for (let i = 51; i < 106; i++) await put('bulk', bulkKey(i), tiny);
  layout();
  await phase('after', true);
} finally {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
}
