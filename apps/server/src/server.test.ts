/**
 * `startServer` in-process (on sources): `/readyz` turns 503 when the database cannot be read and while
 * shutting down, even for a request on a connection that is still open.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from './config.js';
import { type RunningServer, startServer } from './server.js';
import { SqliteStorage } from './sqlite-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-server-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'kv_unit-test-admin-token-000000001';

async function start(name: string): Promise<{ running: RunningServer; lines: string[] }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const { config } = parseArgs(['--port', '0', '--data', join(dir, name), '--log-level', 'info'], {
    KV_ADMIN_TOKEN: TOKEN,
  });
  const running = await startServer(config, pino({ level: 'info' }, sink));
  return { running, lines };
}

const readyz = (running: RunningServer) => running.fetch(new Request(`${running.url}/readyz`));

describe('/readyz', () => {
  it('answers 503 once the database connection is gone', async () => {
    const { running } = await start('closed.sqlite');
    try {
      expect((await readyz(running)).status).toBe(200);
      (running.storage as SqliteStorage).db.close();
      const res = await readyz(running);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ ok: false, reason: 'database unreachable' });
    } finally {
      await running.shutdown('test').catch(() => {});
    }
  });

  it('answers 503 while shutting down, and shutdown waits for the request in flight', async () => {
    const { running, lines } = await start('shutdown.sqlite');
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await running.fetch(new Request(`${running.url}/readyz`))).status).toBe(200);
    const created = await running.fetch(
      new Request(`${running.url}/v1/stores`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"name":"s"}',
      }),
    );
    expect(created.status).toBe(201);
    const port = Number(new URL(running.url).port);
    // A PUT whose body arrives in two halves keeps the server from finishing its shutdown.
    let sent!: () => void;
    const wasSent = new Promise<void>((r) => (sent = r));
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/v1/stores/s/entries/k',
      headers: { ...auth, 'content-type': 'text/plain' },
    });
    const status = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.write('first, ', () => sent());
    await wasSent;
    await running.fetch(new Request(`${running.url}/v1/stores/s`, { headers: auth }));
    let stopped = false;
    const closing = running.shutdown('test').then(() => {
      stopped = true;
    });
    const during = await readyz(running);
    expect(during.status).toBe(503);
    expect(await during.json()).toEqual({ ok: false, reason: 'shutting down' });
    expect(stopped).toBe(false);
    req.end('second');
    expect(await status).toBe(201);
    await closing;
    expect(lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    const again = SqliteStorage.open({ path: join(dir, 'shutdown.sqlite') });
    try {
      const entry = await again.get('s', 'k', Date.now());
      expect(new TextDecoder().decode(entry?.value)).toBe('first, second');
    } finally {
      await again.close();
    }
  });
});
