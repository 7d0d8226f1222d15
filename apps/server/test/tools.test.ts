/**
 * `kv-server backup|restore|export|import` against real database files, including an online backup
 * taken while another process serves and writes the same file; and the startup errors for a database
 * file that is read-only or corrupt, or bad flags.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authHeaders, call, runCli, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-tools-');
const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
/** The built `kv` command line of @kv/node (a dev dependency of the server, for these tests). */
const KV_CLI = join(dirname(createRequire(import.meta.url).resolve('@kv/node/package.json')), 'dist/cli.js');
afterAll(() => tmp.remove());

describe('backup and restore', () => {
  it('backs up online while the server writes, and restores into a file a new server serves', async () => {
    const data = join(tmp.dir, 'live.sqlite');
    const server = await startServer(['--data', data]);
    const backup = join(tmp.dir, 'backups', 'snapshot.sqlite');
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'b' } })).status).toBe(
        201,
      );
      for (let i = 0; i < 50; i++) {
        await call(`${server.url}/v1/stores/b/entries/k${i}`, { method: 'PUT', body: `v${i}` });
      }
      // Keep writing while the backup runs in another process.
      let writing = true;
      let written = 50;
      const load = (async () => {
        while (writing) {
          await call(`${server.url}/v1/stores/b/entries/k${written}`, { method: 'PUT', body: `v${written}` });
          written++;
        }
      })();
      const result = await runCli(['backup', backup, '--data', data]);
      writing = false;
      await load;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(backup);
      expect(existsSync(backup)).toBe(true);
    } finally {
      await server.stop();
    }

    const restored = join(tmp.dir, 'restored', 'kv.sqlite');
    const r = await runCli(['restore', backup, '--data', restored]);
    expect(r.code, r.stderr).toBe(0);
    const again = await startServer(['--data', restored]);
    try {
      const info = (await call(`${again.url}/v1/stores/b`)).body as { keyCount: number; revision: number };
      // The snapshot holds at least the 50 writes made before it started, each with its value.
      expect(info.keyCount).toBeGreaterThanOrEqual(50);
      expect(info.revision).toBe(info.keyCount);
      for (const i of [0, 25, 49, info.keyCount - 1]) {
        expect(await call(`${again.url}/v1/stores/b/entries/k${i}`)).toMatchObject({
          status: 200,
          text: `v${i}`,
        });
      }
    } finally {
      await again.stop();
    }
  });

  it('restores over a data file whose server was killed, leaving a -wal with newer commits', async () => {
    const data = join(tmp.dir, 'wal-target.sqlite');
    const backup = join(tmp.dir, 'wal-backup.sqlite');
    const first = await startServer(['--data', data]);
    await call(`${first.url}/v1/stores`, { method: 'POST', json: { name: 'w' } });
    await call(`${first.url}/v1/stores/w/entries/kept`, { method: 'PUT', body: 'in the backup' });
    await first.stop();
    expect((await runCli(['backup', backup, '--data', data])).code).toBe(0);
    // Newer writes that only live in the WAL: the server dies with SIGKILL (no checkpoint).
    const second = await startServer(['--data', data]);
    for (let i = 0; i < 20; i++) {
      await call(`${second.url}/v1/stores/w/entries/after${i}`, { method: 'PUT', body: 'not in the backup' });
    }
    await call(`${second.url}/v1/stores/w/entries/kept`, { method: 'PUT', body: 'overwritten later' });
    await second.stop('SIGKILL');
    expect(statSync(`${data}-wal`).size).toBeGreaterThan(0);

    const r = await runCli(['restore', backup, '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const again = await startServer(['--data', data]);
    try {
      expect(await call(`${again.url}/v1/stores/w/entries/kept`)).toMatchObject({
        status: 200,
        text: 'in the backup',
      });
      expect((await call(`${again.url}/v1/stores/w/entries/after0`)).status).toBe(404);
      expect((await call(`${again.url}/v1/stores/w`)).body).toMatchObject({ keyCount: 1 });
    } finally {
      await again.stop();
    }
  });

  it('refuses to restore a file that is not a kv database', async () => {
    const junk = join(tmp.dir, 'junk.sqlite');
    writeFileSync(junk, 'not a database '.repeat(500));
    const r = await runCli(['restore', junk, '--data', join(tmp.dir, 'never.sqlite')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(junk);
    expect(existsSync(join(tmp.dir, 'never.sqlite'))).toBe(false);
  });
});

describe('export and import (JSON Lines)', () => {
  it('round-trips text, JSON, binary, metadata, scopes, expiry and resume byte for byte', async () => {
    const source = join(tmp.dir, 'export-src.sqlite');
    const server = await startServer(['--data', source]);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    try {
      const base = `${server.url}/v1/stores/ex/entries`;
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'ex' } })).status).toBe(
        201,
      );
      await call(`${base}/text`, {
        method: 'PUT',
        body: 'héllo\nworld',
        headers: { 'content-type': 'text/plain' },
      });
      await call(`${base}/json`, {
        method: 'PUT',
        body: '{"a":[1,2,{"b":null}]}',
        headers: { 'content-type': 'application/json' },
      });
      await call(`${base}/json-spaced`, {
        method: 'PUT',
        body: '{ "a": 1 }',
        headers: { 'content-type': 'application/json' },
      });
      await call(`${base}/bin`, {
        method: 'PUT',
        body: new Uint8Array([0, 255, 1, 254, 0x80]),
        headers: {
          'content-type': 'application/octet-stream',
          'kv-metadata': encodeURIComponent('{"m":1}'),
          'kv-scopes': 'alpha,beta',
          'kv-expires-at': expiresAt,
          'kv-resume': 'true',
        },
      });
    } finally {
      await server.stop();
    }

    const file = join(tmp.dir, 'ex.jsonl');
    const out = await runCli(['export', 'ex', file, '--data', source]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('exported 4 entries');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.key)).toEqual(['bin', 'json', 'json-spaced', 'text']);
    expect(lines[0]).toMatchObject({
      encoding: 'base64',
      metadata: { m: 1 },
      scopes: ['alpha', 'beta'],
      expiresAt,
      resume: true,
    });
    expect(lines[1]).toMatchObject({ encoding: 'json', value: { a: [1, 2, { b: null }] } });
    expect(lines[2]).toMatchObject({ encoding: 'text', value: '{ "a": 1 }' });
    expect(lines[3]).toMatchObject({ encoding: 'text', value: 'héllo\nworld' });

    // Export to stdout gives the same lines.
    const stdout = await runCli(['export', 'ex', '--data', source]);
    expect(stdout.stdout).toBe(readFileSync(file, 'utf8'));

    // Import into another database (the store is created), plus one bad line that is reported.
    const target = join(tmp.dir, 'import-dst.sqlite');
    const withBad = join(tmp.dir, 'ex-bad.jsonl');
    writeFileSync(withBad, `${readFileSync(file, 'utf8')}{"key":"has space","value":"x"}\nnot json\n`);
    const imp = await runCli(['import', 'copy', withBad, '--data', target]);
    expect(imp.code).toBe(1);
    expect(imp.stderr).toContain('imported 4 entries into store "copy", 2 failed');
    expect(imp.stderr).toContain('line 6: not valid JSON');

    const again = await startServer(['--data', target]);
    try {
      const base = `${again.url}/v1/stores/copy/entries`;
      const bin = await fetch(`${base}/bin`, { headers: authHeaders() });
      expect(new Uint8Array(await bin.arrayBuffer())).toEqual(new Uint8Array([0, 255, 1, 254, 0x80]));
      expect(bin.headers.get('kv-scopes')).toBe('alpha,beta');
      expect(bin.headers.get('kv-resume')).toBe('true');
      expect(bin.headers.get('kv-expires-at')).toBe(expiresAt);
      expect(decodeURIComponent(bin.headers.get('kv-metadata') ?? '')).toBe('{"m":1}');
      expect(await call(`${base}/json`)).toMatchObject({ text: '{"a":[1,2,{"b":null}]}' });
      expect(await call(`${base}/json-spaced`)).toMatchObject({ text: '{ "a": 1 }' });
      expect(await call(`${base}/text`)).toMatchObject({ text: 'héllo\nworld' });
      expect((await call(`${again.url}/v1/stores/copy`)).body).toMatchObject({ keyCount: 4 });
    } finally {
      await again.stop();
    }
  });

  it('the kv CLI (@kv/node) finds the admin token file by itself and exports the same lines', async () => {
    const data = join(tmp.dir, 'cli-same.sqlite');
    const server = await startServer(['--data', data], { env: { KV_ADMIN_TOKEN: undefined } });
    try {
      const token = readFileSync(`${data}.admin-token`, 'utf8').trim();
      const base = `${server.url}/v1/stores/same/entries`;
      await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'same' }, token });
      const puts: Array<[string, string | Uint8Array, Record<string, string>]> = [
        ['json', '{"a":[1,{"b":null}],"s":"x"}', { 'content-type': 'application/json' }],
        ['not-json', 'oops{', { 'content-type': 'application/json' }],
        ['text', 'héllo\nworld', { 'content-type': 'text/plain; charset=utf-8', 'kv-scopes': 'eu' }],
        ['bin', new Uint8Array([0, 255, 7]), { 'content-type': 'image/png', 'kv-resume': 'true' }],
      ];
      for (const [key, body, headers] of puts) {
        expect((await call(`${base}/${key}`, { method: 'PUT', body, headers, token })).status).toBe(201);
      }
      const cli = spawnSync(process.execPath, [KV_CLI, 'export', 'same'], {
        // No token anywhere: the CLI reads <KV_DATA>.admin-token.
        env: { PATH: process.env.PATH, KV_URL: server.url, KV_DATA: data },
        encoding: 'utf8',
      });
      expect(cli.status, cli.stderr).toBe(0);
      const ours = await runCli(['export', 'same', '--data', data]);
      expect(ours.code, ours.stderr).toBe(0);
      expect(cli.stdout).toBe(ours.stdout);
      expect(cli.stdout.trim().split('\n')).toHaveLength(4);
    } finally {
      await server.stop();
    }
  });

  it('export of a missing store fails with a clear message', async () => {
    const data = join(tmp.dir, 'empty.sqlite');
    const server = await startServer(['--data', data]);
    await server.stop();
    const r = await runCli(['export', 'nope', '--data', data]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nope');
  });
});

describe('startup errors', () => {
  it('a corrupt database file: a message naming the file, exit 1', async () => {
    const file = join(tmp.dir, 'corrupt.sqlite');
    writeFileSync(file, 'garbage that is not SQLite '.repeat(300));
    const before = digest(file);
    const r = await runCli(['--port', '0', '--data', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/not a SQLite database or is corrupt/);
    expect(digest(file)).toBe(before);
  });

  it('a read-only database file: a message naming the file, exit 1', async () => {
    const file = join(tmp.dir, 'readonly.sqlite');
    const server = await startServer(['--data', file]);
    await server.stop();
    chmodSync(file, 0o444);
    const before = digest(file);
    const r = await runCli(['--port', '0', '--data', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('read-only');
    expect(digest(file)).toBe(before);
  });

  it('bad flags and values: exit 2 with the reason; --help lists every setting', async () => {
    const unknown = await runCli(['--nope', '1']);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown flag --nope') });
    const badPort = await runCli(['--port', 'http']);
    expect(badPort).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be an integer') });
    const badStorage = await runCli(['--storage', 'redis']);
    expect(badStorage.stderr).toContain('--storage must be one of sqlite, postgres, memory');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--data',
      '--storage',
      '--synchronous',
      '--cors-origins',
      '--log-level',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it('--storage memory serves without touching a database file', async () => {
    const file = join(tmp.dir, 'never-created.sqlite');
    const server = await startServer(['--storage', 'memory', '--data', file]);
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'm' } })).status).toBe(
        201,
      );
      expect(await call(`${server.url}/readyz`)).toMatchObject({ status: 200 });
    } finally {
      await server.stop();
    }
    expect(existsSync(file)).toBe(false);
  });
});
