/**
 * The real server process on a fresh data directory: the directory it creates is 0700 and the
 * database, its `-wal` and `-shm` files, the admin token file, backups and exports are 0600 (they hold
 * every store's signing secret); an existing database file left readable by others is made 0600 with a
 * warning. And a client that aborts mid-upload is logged and counted as 499 at level info, never as a
 * 500 internal error, and writes nothing. docs/security.md "Connections, files and aborts".
 */
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, runCli, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-files-');
afterAll(() => tmp.remove());

/** The permission bits of `path`. */
const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('data files are private', () => {
  const dir = join(tmp.dir, 'created', 'data');
  const data = join(dir, 'kv.sqlite');

  it('creates the data directory 0700 and the database, -wal, -shm and admin token files 0600', async () => {
    // The generated admin token file, not KV_ADMIN_TOKEN.
    const server = await startServer(['--data', data], { env: { KV_ADMIN_TOKEN: undefined } });
    try {
      const token = readFileSync(`${data}.admin-token`, 'utf8').trim();
      expect(
        (await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'secret' }, token })).status,
      ).toBe(201);
      expect(
        (await call(`${server.url}/v1/stores/secret/entries/k`, { method: 'PUT', body: 'v', token })).status,
      ).toBe(201);
      expect(modeOf(join(tmp.dir, 'created'))).toBe(0o700);
      expect(modeOf(dir)).toBe(0o700);
      expect(modeOf(data)).toBe(0o600);
      expect(modeOf(`${data}-wal`)).toBe(0o600);
      expect(modeOf(`${data}-shm`)).toBe(0o600);
      expect(modeOf(`${data}.admin-token`)).toBe(0o600);
    } finally {
      await server.stop();
    }
  });

  it('writes backups and exports 0600 (a new backup directory 0700)', async () => {
    const backup = join(tmp.dir, 'backups', 'nightly', 'kv.sqlite');
    const backed = await runCli(['backup', backup, '--data', data]);
    expect(backed.code, backed.stderr).toBe(0);
    expect(modeOf(backup)).toBe(0o600);
    expect(modeOf(join(tmp.dir, 'backups'))).toBe(0o700);
    expect(modeOf(join(tmp.dir, 'backups', 'nightly'))).toBe(0o700);

    const exported = join(tmp.dir, 'secret.jsonl');
    const exportedRun = await runCli(['export', 'secret', exported, '--data', data]);
    expect(exportedRun.code, exportedRun.stderr).toBe(0);
    expect(modeOf(exported)).toBe(0o600);

    const restored = join(tmp.dir, 'restored', 'kv.sqlite');
    const restoredRun = await runCli(['restore', backup, '--data', restored]);
    expect(restoredRun.code, restoredRun.stderr).toBe(0);
    expect(modeOf(restored)).toBe(0o600);
  });

  it('makes an existing database file that others may read 0600, with a warning', async () => {
    chmodSync(data, 0o644);
    const server = await startServer(['--data', data]);
    try {
      expect(modeOf(data)).toBe(0o600);
      await expect.poll(() => server.lines.some((l) => l.includes('made it 0600'))).toBe(true);
      const line = JSON.parse(server.lines.find((l) => l.includes('made it 0600'))!) as Record<
        string,
        unknown
      >;
      expect(line).toMatchObject({ level: 'warn', file: data, mode: '0644' });
    } finally {
      await server.stop();
    }
  });
});

describe('a client that aborts mid-upload', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(['--data', join(tmp.dir, 'aborts.sqlite')]);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'up' } })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is logged and counted as 499 at level info, not as a 500 internal error, and writes nothing', async () => {
    const { hostname, port } = new URL(server.url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      [
        'PUT /v1/stores/up/entries/half HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${ADMIN_TOKEN}`,
        'kv-request-id: aborted-upload-1',
        'content-type: application/octet-stream',
        'content-length: 1000000',
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(Buffer.alloc(1000, 1));
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();

    await expect.poll(() => server.lines.some((l) => l.includes('aborted-upload-1'))).toBe(true);
    const line = JSON.parse(server.lines.find((l) => l.includes('aborted-upload-1'))!) as Record<
      string,
      unknown
    >;
    expect(line).toMatchObject({ level: 'info', msg: 'request', method: 'PUT', status: 499 });
    expect(server.lines.filter((l) => l.includes('"level":"error"'))).toEqual([]);

    const metrics = await call(`${server.url}/metrics`);
    expect(metrics.text).toMatch(
      /kv_http_requests_total\{method="PUT",route="\/v1\/stores\/:store\/entries\/:key",status="499"\} 1\b/,
    );
    expect(metrics.text).not.toMatch(/kv_http_requests_total\{[^}]*status="500"\}/);
    expect((await call(`${server.url}/v1/stores/up/entries/half`)).status).toBe(404);
  });
});
