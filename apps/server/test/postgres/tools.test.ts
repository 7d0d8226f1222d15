/**
 * `kv-server export` and `import` with `--storage postgres` (the built CLI on this file's database):
 * a store round-trips through JSON Lines; `backup` and `restore` name the PostgreSQL tools instead.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, runCli, startServer, tempDir } from '../helpers.js';
import { useDatabase } from './database.js';

const db = useDatabase();
const tmp = tempDir('kv-pg-tools-');
afterAll(() => tmp.remove());

describe('kv-server export / import on PostgreSQL', () => {
  it('exports a store as JSON Lines and imports it into another store, while a server runs', async () => {
    const env = { KV_POSTGRES_URL: db.url() };
    const server = await startServer(['--storage', 'postgres'], { env });
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'src' } })).status).toBe(
        201,
      );
      for (const [key, value] of [
        ['a', 'one'],
        ['b/ü', 'two'],
        ['c', 'three'],
      ] as const) {
        const res = await call(`${server.url}/v1/stores/src/entries/${encodeURIComponent(key)}`, {
          method: 'PUT',
          headers: { 'content-type': 'text/plain', 'kv-metadata': '{"n":1}' },
          body: value,
        });
        expect(res.status).toBe(201);
      }
      const file = join(tmp.dir, 'src.jsonl');
      const exported = await runCli(['export', 'src', file, '--storage', 'postgres'], 30_000, env);
      expect(exported.stderr).toContain('exported 3 entries');
      expect(exported.code).toBe(0);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.key)).toEqual(['a', 'b/ü', 'c']);
      expect(lines[0]).toMatchObject({ value: 'one', contentType: 'text/plain', metadata: { n: 1 } });

      writeFileSync(
        join(tmp.dir, 'extra.jsonl'),
        `${readFileSync(file, 'utf8')}{"key":"bad key","value":"x"}\n`,
      );
      const imported = await runCli(
        ['import', 'dst', join(tmp.dir, 'extra.jsonl'), '--storage', 'postgres'],
        30_000,
        env,
      );
      expect(imported.stderr).toContain('imported 3 entries into store "dst", 1 failed');
      expect(imported.code).toBe(1);
      // The running server sees the imported store at once (one database).
      const got = await call(`${server.url}/v1/stores/dst/entries/${encodeURIComponent('b/ü')}`);
      expect(got.text).toBe('two');
      expect(decodeURIComponent(got.headers.get('kv-metadata') ?? '')).toBe('{"n":1}');

      const missing = await runCli(['export', 'nope', '--storage', 'postgres'], 30_000, env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('store "nope" not found');
    } finally {
      await server.stop();
    }
  });

  it('backup and restore point to pg_dump / pg_restore', async () => {
    for (const command of ['backup', 'restore']) {
      const r = await runCli([command, join(tmp.dir, 'x.dump'), '--storage', 'postgres'], 30_000, {
        KV_POSTGRES_URL: db.url(),
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('pg_dump');
      expect(r.stderr).toContain('pg_restore');
    }
  });
});
