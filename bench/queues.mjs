// `node bench/queues.mjs`: durable queue figures of kv-server (default on a temporary SQLite file; use
// `--storage memory` to check the bench itself on a storage without queue rows on disk), with 1 and 4
// listeners (@kv/node `listenQueue`, each its own client and connection pool):
//
// - throughput: `--messages` messages enqueued by 8 producers while the listeners run, from the first
//   enqueue to the last handler done (messages/s), then every message checked handled and the queue empty;
// - delivery latency: `--latency-messages` messages enqueued one at a time, each once the previous was
//   handled (the listeners are long-polling), from the start of `enqueue` to the start of the handler
//   (p50/p99): the wake-up path, not a backlog.
//
// Each phase is bounded in count and time (--max-seconds). Prints JSON; docs/performance.md "Queues"
// records the figures. Needs the built server and client (pnpm build). Options (all optional):
//   --messages <n>          throughput phase size (default 5000)
//   --latency-messages <n>  latency phase size (default 300)
//   --concurrency <n>       handlers per listener (default 8)
//   --max-seconds <s>       time bound per phase (default 60)
//   --storage <s>           sqlite (default) | memory
//   --json <file>           also write the results as JSON
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
    messages: { type: 'string', default: '5000' },
    'latency-messages': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    'max-seconds': { type: 'string', default: '60' },
    storage: { type: 'string', default: 'sqlite' },
    json: { type: 'string' },
  },
});
const messages = Math.max(10, Math.min(200_000, Number(opts.messages)));
const latencyMessages = Math.max(10, Math.min(10_000, Number(opts['latency-messages'])));
const concurrency = Math.max(1, Math.min(100, Number(opts.concurrency)));
const maxMs = Math.max(1, Math.min(600, Number(opts['max-seconds']))) * 1000;
const storage = opts.storage === 'memory' ? 'memory' : 'sqlite';
const TOKEN = 'kv_bench-admin-token-0123456789';
const PRODUCERS = 8;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const client = () => createClient({ url, token: TOKEN, env: {} });

/** Starts `count` listeners on `store`; `onMessage(value, info)` runs in each handler. */
function listeners(store, count, onMessage) {
  const controller = new AbortController();
  const running = Array.from({ length: count }, () =>
    client().store(store).listenQueue(onMessage, { concurrency, signal: controller.signal }),
  );
  return {
    stop: async () => {
      controller.abort();
      await Promise.all(running);
    },
  };
}

/** Waits until `check()` holds, polling every 5 ms, at most until `deadline` (performance.now()). */
async function until(check, deadline, what) {
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function throughput(listenerCount) {
  const store = `tp${listenerCount}`;
  await client().stores.create(store);
  const handled = new Map();
  let lastDone = 0;
  const l = listeners(store, listenerCount, (_value, info) => {
    handled.set(info.id, (handled.get(info.id) ?? 0) + 1);
    lastDone = performance.now();
  });
  const deadline = performance.now() + maxMs;
  const ids = [];
  const cpuBefore = cpuMs(pid);
  const began = performance.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        const producer = client().store(store);
        while (next < messages && performance.now() < deadline) {
          const i = next++;
          ids.push((await producer.enqueue({ i })).id);
        }
      }),
    );
    await until(() => ids.every((id) => handled.has(id)), deadline, 'every message handled');
  } finally {
    await l.stop();
  }
  const serverCpuMs = cpuMs(pid) - cpuBefore;
  const stats = await client().store(store).queueStats();
  if (stats.ready + stats.delayed + stats.inFlight !== 0)
    throw new Error(`queue not empty: ${JSON.stringify(stats)}`);
  const seconds = (lastDone - began) / 1000;
  return {
    listeners: listenerCount,
    messages: ids.length,
    seconds: +seconds.toFixed(2),
    perSecond: Math.round(ids.length / seconds),
    redelivered: [...handled.values()].filter((n) => n > 1).length,
    serverCpuUsPerMessage: Math.round((serverCpuMs * 1000) / ids.length),
  };
}

async function latency(listenerCount) {
  const store = `lat${listenerCount}`;
  await client().stores.create(store);
  const started = new Map();
  let seen;
  const l = listeners(store, listenerCount, (value) => {
    seen = value.i;
    const t0 = started.get(value.i);
    if (t0 !== undefined) samples.push(performance.now() - t0);
  });
  const samples = [];
  const producer = client().store(store);
  const deadline = performance.now() + maxMs;
  try {
    // Let every listener reach its long-poll first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < latencyMessages && performance.now() < deadline; i++) {
      started.set(i, performance.now());
      await producer.enqueue({ i });
      await until(() => seen === i, deadline, `message ${i}`);
    }
  } finally {
    await l.stop();
  }
  samples.sort((a, b) => a - b);
  return {
    listeners: listenerCount,
    messages: samples.length,
    p50Ms: +percentile(samples, 50).toFixed(2),
    p99Ms: +percentile(samples, 99).toFixed(2),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'kv-bench-queues-'));
const storageArgs = storage === 'memory' ? ['--storage', 'memory'] : ['--data', join(dir, 'kv.sqlite')];
const { child, url } = await startServer(
  [join(root, 'apps/server/dist/main.js'), '--host', '127.0.0.1', ...storageArgs, '--log-level', 'warn'],
  { name: 'kv-server', env: { KV_ADMIN_TOKEN: TOKEN } },
);
const pid = child.pid;
try {
  // A short warm-up (JIT, page cache), not measured.
  await client().stores.create('warm');
  const warm = listeners('warm', 1, () => undefined);
  await Promise.all(Array.from({ length: 200 }, (_, i) => client().store('warm').enqueue({ i })));
  await warm.stop();
  const results = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    storage,
    producers: PRODUCERS,
    concurrencyPerListener: concurrency,
    throughput: [await throughput(1), await throughput(4)],
    latency: [await latency(1), await latency(4)],
  };
  console.log(JSON.stringify(results, null, 2));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
} finally {
  await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
}
