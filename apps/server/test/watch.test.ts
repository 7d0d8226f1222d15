/**
 * Watch against the real server process (issue 8; docs/protocol.md "Watch"):
 *
 * - ordering and no gap under concurrent writers: the event revisions are compared with every
 *   acknowledged write (puts, deletes, bulk sets, atomic commits);
 * - reconnect in the middle: the server is stopped (SIGTERM) and restarted on the same port and file
 *   during a write load; the `@kv/node` watcher reconnects by itself and every acknowledged write is
 *   delivered exactly once, in order; a raw stream resumed with `Last-Event-ID` continues exactly after it;
 * - a thousand idle watchers on one server process with flat memory (figures in docs/performance.md).
 */

import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startRetryingWriters } from '@kv/conformance';
import { bytesToBase64, parseSse, type WatchEvent } from '@kv/core/protocol';
import { createClient } from '@kv/node';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, authHeaders, call, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-watch-');
afterAll(() => tmp.remove());

/** One acknowledged write: the revision the server answered, the key, and what a watcher must see. */
interface Ack {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  value?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects a watch subscription's events in the background. */
function collect(watch: AsyncIterable<WatchEvent<string>>): {
  events: WatchEvent<string>[];
  done: Promise<void>;
} {
  const events: WatchEvent<string>[] = [];
  const done = (async () => {
    for await (const e of watch) events.push(e);
  })();
  return { events, done };
}

/**
 * Checks a watcher's events against the acknowledged writes: revisions strictly increasing and
 * contiguous from 1 (no gap, nothing twice), and each acknowledged write present with its key, type and
 * value. Returns the events by revision.
 */
function expectEveryAckOnceInOrder(events: WatchEvent<string>[], acks: Ack[]): void {
  const revisions = events.map((e) => e.revision);
  expect(revisions).toEqual(revisions.map((_, i) => i + 1));
  const byRevision = new Map(events.map((e) => [e.revision, e]));
  for (const ack of acks) {
    const e = byRevision.get(ack.revision);
    expect(e, `revision ${ack.revision} (${ack.key})`).toBeDefined();
    expect({ key: e?.key, type: e?.type }).toEqual({ key: ack.key, type: ack.type });
    if (ack.type === 'put') expect(e?.value).toBe(ack.value);
  }
}

describe('watch on the real server', () => {
  it('delivers every acknowledged write once, in revision order, under concurrent writers', async () => {
    const server = await startServer(['--data', join(tmp.dir, 'order.sqlite')]);
    try {
      const kv = createClient({ url: server.url, token: ADMIN_TOKEN, env: {} });
      await kv.stores.create('order', { history: 2 });
      const watch = kv.store('order').watch<string>({ fromRevision: 0 });
      const { events } = collect(watch);

      const acks: Ack[] = [];
      const writer = async (w: number): Promise<void> => {
        // Each writer has its own client (its own connections).
        const store = createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).store('order');
        for (let i = 0; i < 60; i++) {
          const key = `w${w}.k${i}`;
          const value = `v-${w}-${i}`;
          switch (i % 6) {
            case 3: {
              // Delete the key written just before.
              const prev = `w${w}.k${i - 1}`;
              const res = await call(`${server.url}/v1/stores/order/entries/${prev}`, { method: 'DELETE' });
              const body = res.body as { deleted: boolean; revision: number };
              expect(body.deleted).toBe(true);
              acks.push({ revision: body.revision, key: prev, type: 'delete' });
              break;
            }
            case 4: {
              const items = [0, 1, 2].map((j) => ({ key: `${key}.b${j}`, value: `${value}.b${j}` }));
              const result = await store.setMany(items.map((it) => ({ ...it, contentType: 'text/plain' })));
              for (const [j, r] of result.results.entries()) {
                expect(r.ok).toBe(true);
                acks.push({ revision: r.revision!, key: items[j]!.key, type: 'put', value: items[j]!.value });
              }
              break;
            }
            case 5: {
              // An atomic commit of two sets takes two consecutive revisions; the answer is the last.
              const res = await call(`${server.url}/v1/stores/order/atomic`, {
                method: 'POST',
                json: {
                  mutations: [0, 1].map((j) => ({
                    type: 'set',
                    key: `${key}.a${j}`,
                    value: bytesToBase64(new TextEncoder().encode(`${value}.a${j}`)),
                    contentType: 'text/plain',
                  })),
                },
              });
              expect(res.status).toBe(200);
              const last = (res.body as { revision: number }).revision;
              acks.push({ revision: last - 1, key: `${key}.a0`, type: 'put', value: `${value}.a0` });
              acks.push({ revision: last, key: `${key}.a1`, type: 'put', value: `${value}.a1` });
              break;
            }
            default: {
              const r = await store.set(key, value);
              acks.push({ revision: r.revision, key, type: 'put', value });
            }
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));

      const last = Math.max(...acks.map((a) => a.revision));
      // Every revision of the store was acknowledged to some writer: nothing else wrote.
      expect(acks.length).toBe(last);
      await expect.poll(() => events.at(-1)?.revision, { timeout: 20_000 }).toBe(last);
      watch.stop();
      expectEveryAckOnceInOrder(events, acks);
    } finally {
      await server.stop();
    }
  });

  it('reconnects by itself across a server restart mid-load, delivering every acknowledged write once, in order', async () => {
    const data = join(tmp.dir, 'restart.sqlite');
    const first = await startServer(['--data', data]);
    const port = Number(new URL(first.url).port);
    const url = first.url;
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const kv = createClient({ url, token: ADMIN_TOKEN, env: {} });
      await kv.stores.create('restart');
      let interruptions = 0;
      const watch = kv
        .store('restart')
        .watch<string>(
          { fromRevision: 0, reconnectBaseMs: 100, reconnectMaxMs: 400 },
          { onError: (_e, { willRetry }) => void (willRetry && interruptions++) },
        );
      const { events } = collect(watch);

      // Writers retry a write until it is acknowledged, with an Idempotency-Key, so a write whose answer
      // was lost in the restart is answered from the idempotency record instead of written twice.
      const writers = startRetryingWriters({ url, store: 'restart', headers: authHeaders(), writers: 4 });
      const puts = writers.acks;

      await expect.poll(() => puts.length, { timeout: 20_000, interval: 10 }).toBeGreaterThan(300);
      await expect.poll(() => events.length, { timeout: 20_000, interval: 10 }).toBeGreaterThan(100);
      // Graceful stop mid-load: in-flight writes finish, the watch stream is ended, exit 0 at once.
      const exit = await first.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(first.lines.some((l) => l.includes('shutdown timeout'))).toBe(false);
      const atStop = puts.length;
      second = await startServer(['--data', data], { port });
      expect(second.url).toBe(url);
      await expect.poll(() => puts.length, { timeout: 20_000, interval: 10 }).toBeGreaterThan(atStop + 300);
      await writers.stop();
      const acks: Ack[] = puts.map((p) => ({ ...p, type: 'put' }));

      const last = Math.max(...acks.map((a) => a.revision));
      expect(acks.length).toBe(last);
      await expect.poll(() => events.at(-1)?.revision, { timeout: 20_000 }).toBe(last);
      watch.stop();
      expect(interruptions).toBeGreaterThan(0);
      expect(writers.failedAttempts()).toBeGreaterThan(0);
      expectEveryAckOnceInOrder(events, acks);

      // The standard Last-Event-ID header resumes a raw stream exactly after that revision.
      const from = Math.floor(last / 2);
      const controller = new AbortController();
      const res = await fetch(`${url}/v1/stores/restart/watch`, {
        headers: authHeaders({ accept: 'text/event-stream', 'last-event-id': String(from) }),
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const ids: number[] = [];
      for await (const message of parseSse(res.body!)) {
        if (message.id !== undefined) ids.push(Number(message.id));
        if (ids.at(-1) === last) break;
      }
      controller.abort();
      expect(ids).toEqual(Array.from({ length: last - from }, (_, i) => from + 1 + i));
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});

/** VmRSS of a process, in MB (from /proc/<pid>/status). */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

/** A raw SSE connection on its own socket, counting `ready` and `put` events and heartbeats. */
interface RawWatcher {
  ready: boolean;
  puts: number;
  heartbeats: number;
  close: () => void;
}

function openRawWatcher(base: string, path: string): Promise<RawWatcher> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const w: RawWatcher = { ready: false, puts: 0, heartbeats: 0, close: () => {} };
    let buffer = '';
    const req = request(
      {
        host: hostname,
        port,
        path,
        agent: false,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch answered ${res.statusCode}`));
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith(': heartbeat')) w.heartbeats++;
            else if (/^event: ready$/m.test(block)) {
              w.ready = true;
              resolve(w);
            } else if (/^event: put$/m.test(block)) w.puts++;
            end = buffer.indexOf('\n\n');
          }
        });
        res.on('error', () => {});
      },
    );
    req.on('error', reject);
    w.close = () => req.destroy();
    req.end();
  });
}

describe('a thousand idle watchers', () => {
  it('hold open on one server process with flat memory, and all receive the writes', {
    timeout: 180_000,
  }, async () => {
    // A 10 s idle timeout makes the heartbeat every 5 s (half of it; 15 s with the 60 s default), so one
    // heartbeat interval passes in 6 s instead of 16 s; the connections must then outlive the idle timeout.
    const server = await startServer(['--data', join(tmp.dir, 'idle.sqlite'), '--idle-timeout-ms', '10000']);
    const watchers: RawWatcher[] = [];
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'idle' } })).status).toBe(
        201,
      );
      const pid = server.proc.pid!;
      const baseline = rssMb(pid);
      // Open 1,000 streams, 100 at a time (each on its own TCP connection).
      for (let batch = 0; batch < 10; batch++) {
        watchers.push(
          ...(await Promise.all(
            Array.from({ length: 100 }, () =>
              openRawWatcher(server.url, '/v1/stores/idle/watch?updatesOnly=true'),
            ),
          )),
        );
      }
      expect(watchers.filter((w) => w.ready)).toHaveLength(1000);
      const opened = rssMb(pid);

      // Idle past one heartbeat interval (5 s), then a few writes that every watcher must receive.
      await sleep(6_000);
      expect(watchers.filter((w) => w.heartbeats >= 1)).toHaveLength(1000);
      const writes = 5;
      for (let i = 0; i < writes; i++) {
        expect(
          (await call(`${server.url}/v1/stores/idle/entries/k${i}`, { method: 'PUT', body: `value ${i}` }))
            .status,
        ).toBe(201);
      }
      await expect
        .poll(() => watchers.filter((w) => w.puts === writes).length, { timeout: 30_000, interval: 100 })
        .toBe(1000);
      const after = rssMb(pid);
      const figures = {
        watchers: watchers.length,
        baselineRssMb: Math.round(baseline),
        openedRssMb: Math.round(opened),
        afterIdleAndWritesRssMb: Math.round(after),
        perWatcherKb: Math.round(((opened - baseline) * 1024) / watchers.length),
        growthMb: Math.round((after - opened) * 10) / 10,
      };
      // Recorded in docs/performance.md ("Watch"); the assertion is only that memory stays flat.
      process.stdout.write(`watch memory: ${JSON.stringify(figures)}\n`);
      expect(after - opened).toBeLessThan(50);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      for (const w of watchers) w.close();
      await server.stop();
    }
  });
});
