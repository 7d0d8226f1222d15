// `pnpm bench:hostile`: replays the reproductions of docs/security.md "Limits against hostile clients"
// against kv-server on a temporary SQLite file, each one repeatedly (bounded in count and time), while a
// well-behaved client reads an unrelated store in a loop. For every reproduction it prints what the
// hostile client got (statuses), whether anything changed that must not, and the latency the other
// client saw meanwhile (p50 / p99 / max), next to the same client's latency on an idle server.
//
// Needs the built server (pnpm build). Loopback only; every loop is bounded; the server is stopped by PID.
// Options:
//   --rounds <n>    how often each reproduction is sent (default 5)
//   --json <file>   also write the results as JSON
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { rssMb, startServer, stopProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'apps/server/dist/main.js');
const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, json: { type: 'string' } },
});
const ROUNDS = Number(opts.rounds);
const TOKEN = 'kv_hostile-bench-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${TOKEN}` };
const JSON_HEADERS = { ...ADMIN, 'content-type': 'application/json' };

const dir = mkdtempSync(join(tmpdir(), 'kv-hostile-'));
const { child, url } = await startServer([MAIN, '--data', join(dir, 'kv.sqlite'), '--log-level', 'warn'], {
  name: 'kv-server',
  env: { KV_ADMIN_TOKEN: TOKEN },
});
const port = Number(new URL(url).port);
const stopServer = () => stopProcess(child);

async function api(method, path, body, headers = JSON_HEADERS) {
  const res = await fetch(url + path, {
    method,
    headers,
    ...(body === undefined
      ? {}
      : { body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text };
}

async function token(capabilities) {
  const r = await api('POST', '/v1/tokens', { capabilities });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
  return JSON.parse(r.text).token;
}

/** The server's resident memory, in MB. */
const serverRssMb = () => rssMb(child.pid).rss;

/**
 * The well-behaved client: a worker thread (its own event loop, so the attacker's work in this thread
 * never delays it) reading `probe/k<i>` in a loop until `until()` is true (at most 20 s). Returns the
 * latencies in ms and the count of non-200 answers.
 */
function startProbe() {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let stop = false;
     parentPort.on('message', () => { stop = true; });
     const read = async (i) => {
       const res = await fetch(workerData.url + '/v1/stores/probe/entries/k' + (i % 100), { headers: workerData.headers });
       await res.arrayBuffer();
       return res.status;
     };
     (async () => {
       for (let i = 0; i < 50; i++) await read(i); // warm up: connection, JIT (not measured)
       parentPort.postMessage('ready');
       const lat = [];
       let failures = 0;
       const deadline = Date.now() + 30000;
       while (!stop && Date.now() < deadline) {
         const t0 = performance.now();
         if ((await read(lat.length)) !== 200) failures++;
         lat.push(performance.now() - t0);
       }
       parentPort.postMessage({ lat, failures });
     })();`,
    { eval: true, workerData: { url, headers: ADMIN } },
  );
  const messages = [];
  const waiters = [];
  worker.on('message', (m) => (waiters.length > 0 ? waiters.shift()(m) : messages.push(m)));
  const next = () =>
    messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((r) => waiters.push(r));
  return {
    ready: next(),
    async stop() {
      worker.postMessage('stop');
      const out = await next();
      await worker.terminate();
      return out;
    },
  };
}

/**
 * The well-behaved client in a worker thread (its own event loop, so the attacker's work in this thread
 * never delays it), reading `probe/k<i>` while `during()` runs. Returns latencies in ms and failures.
 */
async function probe(during) {
  const p = startProbe();
  await p.ready;
  try {
    await during();
  } catch (error) {
    await p.stop();
    throw error;
  }
  return p.stop();
}

function summary(lat) {
  const s = [...lat].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? Number.NaN };
}

/**
 * Runs `attack()` at least ROUNDS times and for at least 1 s (at most 200 times) while the probe reads;
 * returns what the attacker got, whether `check()` still holds, and the probe's latencies.
 */
async function underAttack(name, attack, check) {
  const statuses = [];
  const { lat, failures } = await probe(async () => {
    const t0 = Date.now();
    for (let i = 0; i < 200 && (i < ROUNDS || Date.now() - t0 < 1000); i++) statuses.push(await attack(i));
  });
  const unchanged = check ? await check() : true;
  const row = {
    name,
    statuses: [...new Set(statuses)].join('/'),
    rounds: statuses.length,
    unchanged,
    probeFailures: failures,
    ...summary(lat),
  };
  process.stderr.write(
    `  ${name.padEnd(44)} ${row.statuses.padEnd(10)} x${row.rounds} unchanged=${unchanged} probe n=${row.n} p50 ${row.p50.toFixed(2)} p99 ${row.p99.toFixed(2)} max ${row.max.toFixed(2)} ms\n`,
  );
  return row;
}

const rows = [];
try {
  await api('POST', '/v1/stores', { name: 'probe' });
  await api('POST', '/v1/stores', { name: 's' });
  for (let i = 0; i < 100; i++) await api('PUT', `/v1/stores/probe/entries/k${i}`, 'x'.repeat(100), ADMIN);
  await api('PUT', '/v1/stores/s/entries/hr%2F1', 'salary', { ...ADMIN, 'kv-scopes': 'hr' });

  // Baseline: the probe alone.
  const base = summary((await probe(() => new Promise((r) => setTimeout(r, 2000)))).lat);
  rows.push({ name: 'idle (no attack)', statuses: '', unchanged: true, probeFailures: 0, ...base });
  process.stderr.write(
    `  idle: probe p50 ${base.p50.toFixed(2)} p99 ${base.p99.toFixed(2)} max ${base.max.toFixed(2)} ms\n`,
  );

  const setter = await token(['kv[s:billing]:set', 'kv[s:billing]:get']);
  const huge = '9000000000000000';
  // The live keys of store `s`, or the listing's failure (a poisoned store answers 500).
  const countKeys = async () => {
    const r = await api('GET', '/v1/stores/s/entries?limit=1000', undefined, ADMIN);
    return r.status === 200 ? JSON.parse(r.text).items.length : `listing ${r.status}`;
  };
  const keysBefore = await countKeys();

  rows.push(
    await underAttack(
      '1. PUT Kv-Ttl-Ms 9e15 (scoped set token)',
      async (i) =>
        (
          await api('PUT', `/v1/stores/s/entries/ttl${i}`, 'v', {
            authorization: `Bearer ${setter}`,
            'kv-ttl-ms': huge,
            'kv-scopes': 'billing',
          })
        ).status,
      async () => (await countKeys()) === keysBefore,
    ),
  );
  rows.push(
    await underAttack(
      '1. store defaultTtlMs 9e15 (create, PATCH)',
      async (i) => {
        const a = await api('POST', '/v1/stores', { name: `t${i}`, defaultTtlMs: 9e15 });
        const b = await api('PATCH', '/v1/stores/s', { defaultTtlMs: 9e15 });
        return `${a.status},${b.status}`;
      },
      async () =>
        JSON.parse((await api('GET', '/v1/stores/s')).text).defaultTtlMs === null &&
        (await api('GET', '/v1/stores/t0')).status === 404,
    ),
  );
  rows.push(
    await underAttack(
      '1. bulk set / atomic with ttlMs 9e15',
      async (i) => {
        const item = { key: `b${i}`, value: 'dg==', ttlMs: 9e15 };
        const a = await api('POST', '/v1/stores/s/bulk/set', { items: [item] });
        const b = await api('POST', '/v1/stores/s/atomic', {
          checks: [],
          mutations: [{ type: 'set', ...item }],
        });
        return `${a.status},${b.status}`;
      },
      async () => (await countKeys()) === keysBefore,
    ),
  );

  // 3. 6 MB of nested arrays to bulk/get, from a token without get and from the admin.
  const nested = `{"keys":${'['.repeat(3_000_000)}${']'.repeat(3_000_000)}}`;
  const nobody = await token(['kv[other]:get']);
  rows.push(
    await underAttack(
      '3. 6 MB nested JSON to bulk/get (no get)',
      async () =>
        (
          await api('POST', '/v1/stores/s/bulk/get', nested, {
            authorization: `Bearer ${nobody}`,
            'content-type': 'application/json',
          })
        ).status,
    ),
  );
  rows.push(
    await underAttack(
      '3. 6 MB nested JSON to bulk/get (admin)',
      async () => (await api('POST', '/v1/stores/s/bulk/get', nested)).status,
    ),
  );

  // 4. sign beyond the signer's read reach.
  const signer = await token(['kv[s]:sign', 'kv[s:billing]:get']);
  const signerHeaders = { authorization: `Bearer ${signer}`, 'content-type': 'application/json' };
  rows.push(
    await underAttack('4. sign hr/1 with kv[s:billing]:get', async () => {
      const r = await api(
        'POST',
        '/v1/stores/s/signed-urls',
        { kind: 'record', key: 'hr/1', expiresInSecs: 60 },
        signerHeaders,
      );
      if (r.status !== 200) return r.status;
      return `${r.status}->${(await fetch(url + JSON.parse(r.text).path)).status}`;
    }),
  );
  const signOnly = await token(['kv[s]:sign']);
  rows.push(
    await underAttack('4. keys URL with sign alone', async () => {
      const r = await api(
        'POST',
        '/v1/stores/s/signed-urls',
        { kind: 'keys', expiresInSecs: 60 },
        { authorization: `Bearer ${signOnly}`, 'content-type': 'application/json' },
      );
      if (r.status !== 200) return r.status;
      const listing = await fetch(url + JSON.parse(r.text).path);
      return `${r.status}->${listing.status}:${(await listing.json()).items?.length ?? 0} keys`;
    }),
  );

  // 7. A client that aborts mid-upload.
  rows.push(
    await underAttack(
      '7. PUT aborted mid-upload',
      () =>
        new Promise((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(
              `PUT /v1/stores/s/entries/aborted HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 1000000\r\n\r\n`,
            );
            socket.write('x'.repeat(1000));
            setTimeout(() => {
              socket.destroy();
              resolve('aborted');
            }, 20);
          });
        }),
      async () => (await api('GET', '/v1/stores/s/entries/aborted', undefined, ADMIN)).status === 404,
    ),
  );

  // 8. 257 capabilities.
  rows.push(
    await underAttack(
      '8. token with 257 capabilities',
      async () =>
        (
          await api('POST', '/v1/tokens', {
            capabilities: Array.from({ length: 257 }, (_, i) => `kv[s${i}]:get`),
          })
        ).status,
    ),
  );

  // 5. 40 connections that never read a 25 MiB signed-URL response.
  await api('PUT', '/v1/stores/s/entries/big', new Uint8Array(25 * 1024 * 1024), {
    ...ADMIN,
    'content-type': 'application/octet-stream',
  });
  const signed = JSON.parse(
    (await api('POST', '/v1/stores/s/signed-urls', { kind: 'record', key: 'big', expiresInSecs: 600 })).text,
  ).path;
  const rssBefore = serverRssMb();
  const sockets = [];
  for (let i = 0; i < 40; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET ${signed} HTTP/1.1\r\nhost: x\r\n\r\n`);
    socket.pause();
    sockets.push(socket);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const healthT0 = performance.now();
  await (await fetch(`${url}/healthz`)).text();
  const healthMs = performance.now() - healthT0;
  const during = summary((await probe(() => new Promise((r) => setTimeout(r, 2000)))).lat);
  const rssAfter = serverRssMb();
  for (const s of sockets) s.destroy();
  rows.push({
    name: '5. 40 stalled readers of a 25 MiB value',
    statuses: '',
    unchanged: true,
    probeFailures: 0,
    ...during,
    rssBeforeMb: rssBefore,
    rssAfterMb: rssAfter,
    healthzMs: healthMs,
  });
  process.stderr.write(
    `  5. 40 stalled readers: RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB, /healthz ${healthMs.toFixed(1)} ms, probe p50 ${during.p50.toFixed(2)} p99 ${during.p99.toFixed(2)} max ${during.max.toFixed(2)} ms\n`,
  );
} finally {
  await stopServer();
  rmSync(dir, { recursive: true, force: true });
}

console.log('| reproduction | hostile got | nothing changed | other client p50 / p99 / max (ms) |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) {
  const extra =
    r.rssBeforeMb === undefined
      ? ''
      : ` (RSS ${r.rssBeforeMb.toFixed(0)} -> ${r.rssAfterMb.toFixed(0)} MB, /healthz ${r.healthzMs.toFixed(1)} ms)`;
  console.log(
    `| ${r.name} | ${r.statuses} | ${r.unchanged ? 'yes' : '**no**'} | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} / ${r.max.toFixed(2)}${extra} |`,
  );
}
if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 2));
