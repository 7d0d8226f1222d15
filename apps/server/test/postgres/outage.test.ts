/**
 * The database going away under a running `kv-server --storage postgres`: requests get 503
 * `unavailable` and `/readyz` turns 503; once the database is back, the server serves again with no
 * restart and nothing acknowledged is lost. The outage is a unix-socket relay in front of the test
 * cluster, closed and reopened by the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, startServer } from '../helpers.js';
import { useDatabase } from './database.js';

const db = useDatabase();
const relayDir = mkdtempSync(join(tmpdir(), 'kv-pg-relay-'));
afterAll(() => rmSync(relayDir, { recursive: true, force: true }));

/** A relay on `<relayDir>/.s.PGSQL.5432` to the cluster's socket, which can be taken down and up. */
function socketRelay(target: string): { up: () => Promise<void>; down: () => Promise<void> } {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  return {
    up: () =>
      new Promise((resolve) => {
        server = createServer((client) => {
          const upstream = connect(target);
          sockets.add(client).add(upstream);
          const drop = (): void => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
          client.pipe(upstream).pipe(client);
        });
        server.listen(join(relayDir, '.s.PGSQL.5432'), () => resolve());
      }),
    down: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server?.close(() => resolve());
      }),
  };
}

describe('database outage', () => {
  it('answers 503 and /readyz false while the database is unreachable, and recovers without a restart', async () => {
    // The database URL is postgresql://postgres@/<db>?host=<socket dir> (database.ts).
    const host = /[?&]host=([^&]+)/.exec(db.url())?.[1];
    expect(host).toBeDefined();
    const relay = socketRelay(join(decodeURIComponent(host!), '.s.PGSQL.5432'));
    await relay.up();
    const relayed = db.url().replace(`host=${host}`, `host=${encodeURIComponent(relayDir)}`);
    const server = await startServer(['--storage', 'postgres'], { env: { KV_POSTGRES_URL: relayed } });
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'o' } })).status).toBe(
        201,
      );
      const put = await call(`${server.url}/v1/stores/o/entries/kept`, { method: 'PUT', body: 'before' });
      expect(put.status).toBe(201);
      expect((await call(`${server.url}/readyz`)).status).toBe(200);

      await relay.down();
      const ready = await call(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ ok: false, reason: 'database unreachable' });
      for (const res of [
        await call(`${server.url}/v1/stores/o/entries/kept`),
        await call(`${server.url}/v1/stores/o/entries/new`, { method: 'PUT', body: 'during' }),
        await call(`${server.url}/v1/stores/o/entries`),
      ]) {
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ error: { code: 'unavailable' } });
        expect(res.text).not.toContain(relayDir); // no connection details reach clients
      }

      await relay.up();
      await expect
        .poll(async () => (await call(`${server.url}/readyz`)).status, { timeout: 20_000 })
        .toBe(200);
      expect((await call(`${server.url}/v1/stores/o/entries/kept`)).text).toBe('before');
      expect(
        (await call(`${server.url}/v1/stores/o/entries/new`, { method: 'PUT', body: 'after' })).status,
      ).toBe(201);
      expect((await call(`${server.url}/v1/stores/o/entries/new`)).text).toBe('after');
    } finally {
      const exit = await server.stop();
      await relay.down();
      expect(exit.code).toBe(0);
    }
  });
});
