/**
 * Several `kv-server --storage postgres` processes on one database: the conformance suite through a
 * round-robin proxy in front of two instances; reads on B see writes acknowledged by A; watch on B
 * delivers every write made through A in revision order with no gap; an idempotent retry sent to the
 * other instance is answered from the record; `kill -9` of one instance under write load loses no
 * acknowledged write.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeConformance, startRetryingWriters } from '@kv/conformance';
import type { WatchEvent } from '@kv/node';
import { createClient } from '@kv/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, authHeaders, call, type ServerProcess, startServer } from '../helpers.js';
import { useDatabase } from './database.js';

const db = useDatabase();

/**
 * A round-robin HTTP proxy: each request goes to the next backend. Like a load balancer's passive health
 * check, a backend that refuses a connection is taken out of the rotation (that request gets a 502);
 * a request cut off by a dying backend gets a 502 or a reset connection.
 */
interface Proxy {
  url: string;
  /** Requests sent to each backend so far, by URL. */
  counts: Map<string, number>;
  setBackends(urls: string[]): void;
  close(): Promise<void>;
}

async function startProxy(): Promise<Proxy> {
  let backends: URL[] = [];
  let next = 0;
  const counts = new Map<string, number>();
  const down = new Set<string>();
  const server: Server = createServer((req, res) => {
    const up = backends.filter((b) => !down.has(b.origin));
    const target = up[next++ % up.length];
    if (target === undefined) {
      res.writeHead(502).end();
      return;
    }
    counts.set(target.origin, (counts.get(target.origin) ?? 0) + 1);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') down.add(target.origin);
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    // A client that leaves (a watch stream closed) closes the upstream request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setBackends: (urls) => {
      backends = urls.map((u) => new URL(u));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts one instance on `url`'s database. */
function instance(url: string, extra: string[] = []): Promise<ServerProcess> {
  return startServer(['--storage', 'postgres', '--sweep-interval-ms', '100', ...extra], {
    env: { KV_POSTGRES_URL: url },
  });
}

async function stopAll(servers: ServerProcess[]): Promise<void> {
  for (const s of servers) await s.stop();
}

describe('two instances behind a round-robin proxy', () => {
  let proxy: Proxy;
  let servers: ServerProcess[] = [];
  beforeAll(async () => {
    proxy = await startProxy();
  });
  afterAll(async () => {
    await stopAll(servers);
    await proxy.close();
  });

  describeConformance(
    'kv-server x2 (--storage postgres) through a round-robin proxy',
    async () => {
      // Started one after the other, and at once: both must come up (migrations, admin bootstrap).
      servers = await Promise.all([
        instance(db.url(), ['--public-url', proxy.url]),
        instance(db.url(), ['--public-url', proxy.url]),
      ]);
      proxy.setBackends(servers.map((s) => s.url));
      return {
        createClient: () => createClient({ url: proxy.url, token: ADMIN_TOKEN, env: {} }),
        auth: {
          adminToken: ADMIN_TOKEN,
          clientWithToken: (token: string) => createClient({ url: proxy.url, token, env: {} }),
        },
        async close() {
          // Both instances really served the suite.
          for (const s of servers) expect(proxy.counts.get(s.url) ?? 0).toBeGreaterThan(100);
          for (const s of servers.splice(0)) {
            const exit = await s.stop();
            if (exit.code !== 0)
              throw new Error(`kv-server exited with ${exit.code ?? exit.signal}: ${s.stderr()}`);
          }
        },
      };
    },
    { auth: true },
  );
});

describe('two instances on one database', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let url: string;
  beforeAll(async () => {
    url = await db.fresh();
    [a, b] = await Promise.all([instance(url), instance(url)]);
  });
  afterAll(async () => {
    await stopAll([a, b].filter((s) => s !== undefined));
  });

  it('a write acknowledged by A is seen by the next read on B', async () => {
    expect((await call(`${a.url}/v1/stores`, { method: 'POST', json: { name: 'consistent' } })).status).toBe(
      201,
    );
    for (let i = 0; i < 50; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      const put = await call(`${writer.url}/v1/stores/consistent/entries/k`, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: `v${i}`,
      });
      expect(put.status).toBe(i === 0 ? 201 : 200);
      const got = await call(`${reader.url}/v1/stores/consistent/entries/k`);
      expect(got.text).toBe(`v${i}`);
      expect(got.headers.get('etag')).toBe(`"${(put.body as { revision: number }).revision}"`);
    }
  });

  it('watch on B delivers every write made through A (and B), in revision order with no gap', async () => {
    const kvA = createClient({ url: a.url, token: ADMIN_TOKEN, env: {} });
    const kvB = createClient({ url: b.url, token: ADMIN_TOKEN, env: {} });
    await kvA.stores.create('watched');
    const watch = kvB.store('watched').watch<string>({ fromRevision: 0 });
    const events: WatchEvent<string>[] = [];
    const done = (async () => {
      for await (const e of watch) events.push(e);
    })();
    const acks = new Map<number, { key: string; value: string }>();
    // Four writers on A, one on B, concurrently.
    await Promise.all(
      Array.from({ length: 5 }, async (_, w) => {
        const store = (w === 4 ? kvB : kvA).store('watched');
        for (let i = 0; i < 40; i++) {
          const key = `w${w}.k${i}`;
          const value = `v-${w}-${i}`;
          const r = await store.set(key, value);
          acks.set(r.revision, { key, value });
        }
      }),
    );
    expect(acks.size).toBe(200);
    await expect.poll(() => events.at(-1)?.revision, { timeout: 20_000 }).toBe(200);
    watch.stop();
    await done;
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const e of events) {
      expect({ key: e.key, type: e.type, value: e.value }).toEqual({ ...acks.get(e.revision), type: 'put' });
    }
  });

  it('an idempotent write retried on the other instance is answered from the record, not applied twice', async () => {
    expect((await call(`${a.url}/v1/stores`, { method: 'POST', json: { name: 'idem' } })).status).toBe(201);
    const send = (server: ServerProcess) =>
      call(`${server.url}/v1/stores/idem/entries/once`, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain', 'idempotency-key': 'retry-1' },
        body: 'only once',
      });
    const first = await send(a);
    const retried = await send(b);
    expect(first.status).toBe(201);
    expect(retried.status).toBe(201);
    expect(retried.body).toEqual(first.body);
    const store = (await call(`${b.url}/v1/stores/idem`)).body as { revision: number };
    expect(store.revision).toBe(1);
  });

  it('a rate-limited token gets exactly its limit summed over both instances (the count is in the database)', async () => {
    expect((await call(`${a.url}/v1/stores`, { method: 'POST', json: { name: 'limited' } })).status).toBe(
      201,
    );
    const created = await call(`${a.url}/v1/tokens`, {
      method: 'POST',
      json: { capabilities: ['kv[limited]:get'], rateLimit: { requests: 20, perSeconds: 60 } },
    });
    expect(created.status).toBe(201);
    const { id, token } = created.body as { id: string; token: string };
    // B lists the limit A stored.
    const listed = (await call(`${b.url}/v1/tokens`)).body as {
      items: Array<{ id: string; rateLimit: unknown }>;
    };
    expect(listed.items.find((t) => t.id === id)?.rateLimit).toEqual({ requests: 20, perSeconds: 60 });
    // Windows are whole minutes: start well inside one, so the requests cannot straddle two.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 8_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(`${(i % 2 === 0 ? a : b).url}/v1/stores/limited/entries/k`, { token }),
      ),
    );
    const passedA = answers.filter((r, i) => i % 2 === 0 && r.status === 404).length;
    const passedB = answers.filter((r, i) => i % 2 === 1 && r.status === 404).length;
    expect(passedA + passedB).toBe(20);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(40);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 20, perSeconds: 60 } },
    });
  });

  it('kill -9 of one instance under write load loses no acknowledged write', async () => {
    const proxy = await startProxy();
    try {
      proxy.setBackends([a.url, b.url]);
      expect((await call(`${a.url}/v1/stores`, { method: 'POST', json: { name: 'load' } })).status).toBe(201);
      const writers = startRetryingWriters({
        url: proxy.url,
        store: 'load',
        headers: authHeaders(),
        writers: 8,
      });
      await expect.poll(() => writers.acks.length, { timeout: 30_000, interval: 20 }).toBeGreaterThan(300);
      a.proc.kill('SIGKILL');
      expect((await a.exited).signal).toBe('SIGKILL');
      const atKill = writers.acks.length;
      // B carries the load on; the writers retry what A left unanswered.
      await expect
        .poll(() => writers.acks.length, { timeout: 30_000, interval: 20 })
        .toBeGreaterThan(atKill + 200);
      await writers.stop();
      expect(writers.failedAttempts()).toBeGreaterThan(0); // requests really hit the dead instance

      const acks = writers.acks;
      for (let i = 0; i < acks.length; i += 1000) {
        const chunk = acks.slice(i, i + 1000);
        const res = await call(`${b.url}/v1/stores/load/bulk/get`, {
          method: 'POST',
          json: { keys: chunk.map((x) => x.key), values: true },
        });
        expect(res.status).toBe(200);
        const items = (
          res.body as { items: Array<{ key: string; found: boolean; value?: string; revision?: number }> }
        ).items;
        for (const [j, ack] of chunk.entries()) {
          expect(items[j], ack.key).toMatchObject({ key: ack.key, found: true, revision: ack.revision });
          expect(Buffer.from(items[j]?.value ?? '', 'base64').toString(), ack.key).toBe(ack.value);
        }
      }
      // The change log has every revision once, in order (no gap left by the killed instance).
      const kvB = createClient({ url: b.url, token: ADMIN_TOKEN, env: {} });
      const info = (await kvB.stores.get('load'))!;
      const watch = kvB.store('load').watch<string>({ fromRevision: 0 });
      const revisions: number[] = [];
      for await (const e of watch) {
        revisions.push(e.revision);
        if (e.revision >= info.revision) break;
      }
      watch.stop();
      expect(revisions).toEqual(Array.from({ length: info.revision }, (_, i) => i + 1));
    } finally {
      await proxy.close();
    }
  });
});
