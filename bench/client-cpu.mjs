// The client's own CPU per request, without a network: `@kv/node` with an injected `fetch` that answers a
// canned `Response` at once, beside the same stub called directly (what a raw `fetch` loop costs), N
// sequential calls each, CPU time per call (process.cpuUsage). With --profile, a V8 CPU profile of the
// client loops (node:inspector, in process) is summed by where the self time is spent: ky, our code
// (@kv/core, @kv/node), undici/Node internals (Request/Response/Headers), GC. Figures:
// docs/performance.md "Client (`@kv/node`) vs raw `fetch`".
//
// Needs the built packages (pnpm build). Options:
//   --calls <n>     calls per operation (default 20000)
//   --profile       also profile the client loops and print the breakdown
//   --json <file>   also write the results as JSON
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { createClient } = await import(join(root, 'packages/node/dist/index.js'));

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const calls = Number(opts.calls);
const VALUE = 'v'.repeat(100);
const url = 'http://127.0.0.1:7070';

/** The server's answers, built per call as a real `fetch` would. */
function answer(method) {
  if (method === 'PUT') {
    return new Response('{"id":"0190a0a0-0000-7000-8000-000000000000","revision":2,"created":false}', {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }
  return new Response(VALUE, {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', etag: '"2"', 'kv-revision': '2' },
  });
}
const stubFetch = async (input, init) => {
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  return answer(method.toUpperCase());
};

const kv = createClient({ url, token: 'bench-admin-token', fetch: stubFetch, env: {} });
const store = kv.store('clientbench');
const entryUrl = (key) => `${url}/v1/stores/clientbench/entries/${encodeURIComponent(key)}`;
const auth = { authorization: 'Bearer bench-admin-token' };

const loops = {
  get: {
    raw: async (i) => {
      const res = await stubFetch(entryUrl(`k${i}`), { headers: auth });
      await res.text();
    },
    client: async (i) => {
      await store.getText(`k${i}`);
    },
  },
  set: {
    raw: async (i) => {
      const res = await stubFetch(entryUrl(`k${i}`), {
        method: 'PUT',
        headers: {
          ...auth,
          'content-type': 'text/plain; charset=utf-8',
          'idempotency-key': crypto.randomUUID(),
        },
        body: VALUE,
      });
      await res.json();
    },
    client: async (i) => {
      await store.set(`k${i}`, VALUE);
    },
  },
};

async function cpuPerCall(fn) {
  for (let i = 0; i < 2000; i++) await fn(i); // warm-up
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

/** Where a profile node's self time goes, by the script that holds its function. */
function categoryOf(node) {
  const { url: script, functionName } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') return 'other';
  if (script.includes('/ky/')) return 'ky';
  if (script.includes('/packages/core/') || script.includes('/packages/node/'))
    return 'ours (@kv/core, @kv/node)';
  if (script.includes('/bench/')) return 'bench loop and fetch stub';
  return 'undici and Node internals (Request, Response, Headers, streams)';
}

const results = {};
for (const [name, pair] of Object.entries(loops)) {
  const raw = await cpuPerCall(pair.raw);
  const client = await cpuPerCall(pair.client);
  results[name] = { rawUsPerCall: raw, clientUsPerCall: client };
}
console.log(`CPU per call, ${calls} sequential calls, fetch stubbed, Node ${process.version}`);
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(4)} raw ${r.rawUsPerCall.toFixed(1)} µs   client ${r.clientUsPerCall.toFixed(1)} µs   client adds ${(r.clientUsPerCall - r.rawUsPerCall).toFixed(1)} µs`,
  );
}

if (opts.profile) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  for (const [name, pair] of Object.entries(loops)) {
    await session.post('Profiler.start');
    for (let i = 0; i < calls; i++) await pair.client(i);
    const { profile } = await session.post('Profiler.stop');
    const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    /** The place a sample is charged to: its own script, or for Node internals the nearest caller of ours or ky's. */
    const ownerOf = (id) => {
      const own = categoryOf(byNode.get(id));
      if (!own.startsWith('undici')) return own;
      for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) {
        const up = categoryOf(byNode.get(p));
        if (!up.startsWith('undici') && up !== 'other') return `${up}, in Node internals`;
      }
      return own;
    };
    const self = new Map();
    const owner = new Map();
    const fns = new Map();
    for (const id of profile.samples) {
      const node = byNode.get(id);
      const category = categoryOf(node);
      self.set(category, (self.get(category) ?? 0) + 1);
      const charged = ownerOf(id);
      owner.set(charged, (owner.get(charged) ?? 0) + 1);
      const fn = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/.*\/(node_modules|packages)\//, '')}`;
      fns.set(fn, (fns.get(fn) ?? 0) + 1);
    }
    const total = profile.samples.length;
    const share = (n) => `${((100 * n) / total).toFixed(1)}%`;
    results[name].profile = Object.fromEntries([...self].map(([k, v]) => [k, v / total]));
    results[name].charged = Object.fromEntries([...owner].map(([k, v]) => [k, v / total]));
    console.log(`\nclient ${name}: self time by place (${total} samples)`);
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]))
      console.log(`  ${share(v).padStart(6)}  ${k}`);
    console.log('  charged to the caller (Node internals to the nearest ky or kv frame above them):');
    for (const [k, v] of [...owner].sort((a, b) => b[1] - a[1]))
      console.log(`  ${share(v).padStart(6)}  ${k}`);
    console.log('  top functions:');
    for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 15))
      console.log(`  ${share(v).padStart(6)}  ${k}`);
  }
  await session.post('Profiler.disable');
  session.disconnect();
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ node: process.version, calls, results }, null, 2));
