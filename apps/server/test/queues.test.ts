/**
 * Durable queues on the server process (docs/protocol.md "Queues"): 1,000 messages enqueued, a listener
 * killed (SIGKILL, its leases held without acknowledgement) part-way through, the server restarted on the
 * same SQLite file; a second listener then handles the rest, and every message is handled at least once,
 * none lost: the messages and their leases are rows of the database, durable as entries.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@kv/node';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-queues-');
afterAll(() => tmp.remove());

/**
 * Where the listener child process runs: this package, so that its `import('@kv/node')` resolves through
 * this package's dependency to the built client (plain Node, no `@kv/source` condition).
 */
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * A listener in a child process: it handles messages of `store` slowly (10 ms each, 4 at a time, a
 * lease of 1,000 ms) and prints each id as its handler starts.
 */
function startListener(url: string, store: string): { proc: ChildProcess; handled: string[] } {
  const script = `
    const { createClient } = await import('@kv/node');
    const kv = createClient({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(ADMIN_TOKEN)}, env: {} });
    await kv.store(${JSON.stringify(store)}).listenQueue(async (_value, info) => {
      process.stdout.write(info.id + '\\n');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }, { concurrency: 4, visibilityTimeoutMs: 1000 });
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: PACKAGE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handled: string[] = [];
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    handled.push(...lines.filter((line) => line !== ''));
  });
  return { proc, handled };
}

describe('queues across a server restart', () => {
  it('1,000 messages enqueued, a listener killed mid-way, the server restarted: each is handled, none lost', {
    timeout: 120_000,
  }, async () => {
    const data = join(tmp.dir, 'queues.sqlite');
    let server = await startServer(['--data', data]);
    const admin = () => createClient({ url: server.url, token: ADMIN_TOKEN, env: {} });
    await admin().stores.create('jobs');
    const ids = new Set<string>();
    const store = admin().store('jobs');
    for (let i = 0; i < 1_000; i++) {
      // No schedule: a message whose lease is lost twice is still redelivered (five steps of 0 ms).
      ids.add((await store.enqueue({ i }, { backoffScheduleMs: [0, 0, 0, 0, 0] })).id);
    }
    expect(ids.size).toBe(1_000);
    expect(await store.queueStats()).toEqual({ ready: 1_000, delayed: 0, inFlight: 0 });

    const first = startListener(server.url, 'jobs');
    await expect.poll(() => first.handled.length, { timeout: 60_000, interval: 20 }).toBeGreaterThan(200);
    first.proc.kill('SIGKILL');
    await new Promise((resolve) => first.proc.once('exit', resolve));
    const killedAt = first.handled.length;
    expect(killedAt).toBeLessThan(1_000);

    await server.stop('SIGKILL');
    server = await startServer(['--data', data]);
    const after = await admin().store('jobs').queueStats();
    // Nothing was lost: what the first listener did not acknowledge is still there (some leased).
    expect(after.ready + after.delayed + after.inFlight).toBeGreaterThan(0);
    expect(after.ready + after.delayed + after.inFlight).toBeLessThanOrEqual(1_000);

    const handled = new Set(first.handled);
    const controller = new AbortController();
    const second = admin()
      .store('jobs')
      .listenQueue(
        (_value, info) => {
          handled.add(info.id);
        },
        { concurrency: 8, signal: controller.signal },
      );
    try {
      // Done when every id was handled and the queue is empty (every delivery acknowledged).
      await expect
        .poll(
          async () => {
            const stats = await admin().store('jobs').queueStats();
            const left = stats.ready + stats.delayed + stats.inFlight;
            return left === 0 && [...ids].every((id) => handled.has(id));
          },
          { timeout: 60_000, interval: 50 },
        )
        .toBe(true);
    } finally {
      controller.abort();
      await second;
      await server.stop();
    }
    expect([...ids].filter((id) => !handled.has(id))).toEqual([]);
    expect(handled.size).toBe(1_000);
  });
});

describe('lease long-polls on the server process', () => {
  /** A lease long-poll of `waitMs` on `store` with the admin token: its status and messages. */
  async function lease(
    url: string,
    store: string,
    waitMs: number,
  ): Promise<{ status: number; count: number }> {
    const res = await fetch(`${url}/v1/stores/${store}/queue/lease`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ waitMs }),
    });
    const body = (await res.json()) as { messages?: unknown[] };
    return { status: res.status, count: body.messages?.length ?? -1 };
  }

  it('a long-poll answers messages: [] before the socket idle timeout would drop it', async () => {
    // waitMs 30 s on a server whose idle timeout is 2 s: the server cuts the wait to 1 s and answers.
    const server = await startServer(['--data', join(tmp.dir, 'idle.sqlite'), '--idle-timeout-ms', '2000']);
    try {
      await createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).stores.create('q');
      expect(await lease(server.url, 'q', 30_000)).toEqual({ status: 200, count: 0 });
    } finally {
      await server.stop();
    }
  });

  it('shutdown ends a waiting long-poll with messages: [] and the server exits 0', async () => {
    const server = await startServer(['--data', join(tmp.dir, 'shutdown.sqlite')]);
    await createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).stores.create('q');
    const waiting = lease(server.url, 'q', 30_000);
    // The long-poll is in the server (it logs nothing until it answers): give it time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.proc.kill('SIGTERM');
    expect(await waiting).toEqual({ status: 200, count: 0 });
    expect((await server.exited).code).toBe(0);
  });
});
