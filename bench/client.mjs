// Client overhead benchmark (issue 5): @kv/node against kv-server (temporary SQLite file) beside a raw
// `fetch` loop sending the same requests, in the same run, 32 requests in flight. Rounds alternate
// between the two so machine noise hits both alike; the figure is the median ratio of ops/s over rounds.
// Also checks that `setMany` of 10,000 entries is one request.
//
// Needs the built packages (pnpm build). Options:
//   --seconds <s>      seconds per round per contender (default 3)
//   --rounds <n>       rounds (default 5)
//   --inflight <n>     requests in flight (default 32)
//   --keys <n>         keys (default 10000), 100-byte values
//   --json <file>      also write the results as JSON
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { createClient } = await import(join(root, 'packages/node/dist/index.js'));

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    inflight: { type: 'string', default: '32' },
    keys: { type: 'string', default: '10000' },
    json: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const rounds = Number(opts.rounds);
const inflight = Number(opts.inflight);
const keyCount = Number(opts.keys);
const VALUE = 'v'.repeat(100);
const STORE = 'clientbench';

const dir = mkdtempSync(join(tmpdir(), 'kv-client-bench-'));
const token = 'bench-admin-token';
const { child: server, url } = await startServer(
  [join(root, 'apps/server/dist/main.js'), '--data', join(dir, 'kv.sqlite'), '--log-level', 'warn'],
  { name: 'kv-server', env: { KV_ADMIN_TOKEN: token } },
);
const auth = { authorization: `Bearer ${token}` };
try {
  let requests = 0;
  const countingFetch = (input, init) => {
    requests += 1;
    return fetch(input, init);
  };
  const kv = createClient({ url, token, fetch: countingFetch, env: {} });
  await kv.stores.create(STORE);
  const store = kv.store(STORE);
  requests = 0;
  const t0 = performance.now();
  const bulk = await store.setMany(
    Array.from({ length: keyCount }, (_, i) => ({ key: `k${i}`, value: VALUE })),
  );
  const setManyMs = performance.now() - t0;
  const setManyRequests = requests;
  if (bulk.successfulKeyCount !== keyCount) throw new Error('setMany failed');

  const randomKey = () => `k${Math.floor(Math.random() * keyCount)}`;
  const entryUrl = (key) => `${url}/v1/stores/${STORE}/entries/${encodeURIComponent(key)}`;
  const contenders = {
    get: {
      raw: async () => {
        const res = await fetch(entryUrl(randomKey()), { headers: auth });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`raw get ${res.status}`);
      },
      client: async () => {
        if ((await store.getText(randomKey())) === undefined) throw new Error('client get missed');
      },
    },
    set: {
      raw: async () => {
        const res = await fetch(entryUrl(randomKey()), {
          method: 'PUT',
          // The same request the client sends: a retryable write carries an Idempotency-Key
          // (docs/protocol.md "Idempotency"), which the server records.
          headers: {
            ...auth,
            'content-type': 'text/plain; charset=utf-8',
            'idempotency-key': crypto.randomUUID(),
          },
          body: VALUE,
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`raw set ${res.status}`);
      },
      client: async () => {
        await store.set(randomKey(), VALUE);
      },
    },
  };

  async function drive(op) {
    let done = 0;
    const deadline = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (performance.now() < deadline) {
          await op();
          done += 1;
        }
      }),
    );
    return done / seconds;
  }

  const results = {};
  for (const [name, pair] of Object.entries(contenders)) {
    await drive(pair.raw); // warm-up round for both, not counted
    await drive(pair.client);
    const raw = [];
    const client = [];
    const ratios = [];
    for (let r = 0; r < rounds; r++) {
      const a = await drive(pair.raw);
      const b = await drive(pair.client);
      raw.push(a);
      client.push(b);
      ratios.push(b / a);
    }
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    results[name] = { rawOpsPerSec: median(raw), clientOpsPerSec: median(client), ratio: median(ratios) };
  }

  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  console.log(`client vs raw fetch, ${inflight} in flight, ${rounds} rounds x ${seconds}s each, ${machine}`);
  console.log('op   raw ops/s   client ops/s   ratio (median of rounds)');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(4)} ${r.rawOpsPerSec.toFixed(0).padStart(9)}   ${r.clientOpsPerSec.toFixed(0).padStart(12)}   ${r.ratio.toFixed(2)}x`,
    );
  }
  console.log(`setMany of ${keyCount} entries: ${setManyRequests} request(s), ${setManyMs.toFixed(0)} ms`);
  if (opts.json)
    writeFileSync(opts.json, JSON.stringify({ machine, results, setManyRequests, setManyMs }, null, 2));
} finally {
  await stopProcess(server);
  rmSync(dir, { recursive: true, force: true });
}
