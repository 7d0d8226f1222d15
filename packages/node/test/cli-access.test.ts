/**
 * The `kv` command line with access control: finding the token (`--token`, `--token-file`, `KV_TOKEN`,
 * `KV_TOKEN_FILE`, `KV_ADMIN_TOKEN`, `KV_ADMIN_TOKEN_FILE`, then the server's `<KV_DATA_FILE>.admin-token`
 * file), what a 401 says about it, `kv tokens` and `kv url`.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { ensureToken, MemoryTokenStore } from '@kv/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTokenFile, defaultTokenFile, EXIT, main } from '../src/cli.js';
import { inProcessEngine } from './helpers.js';

const ADMIN = 'cli-admin-secret-0123456789';
const tokens = new MemoryTokenStore();
const { fetch, url } = inProcessEngine({ auth: { tokens } });
const dir = mkdtempSync(join(tmpdir(), 'kv-cli-access-'));
const dataFile = join(dir, 'data', 'kv.sqlite');

beforeAll(async () => {
  await ensureToken(tokens, { secret: ADMIN, capabilities: ['*'] }, Date.now());
  mkdirSync(join(dir, 'data'));
  writeFileSync(`${dataFile}.admin-token`, `${ADMIN}\n`, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function kv(argv: string[], env: Record<string, string> = {}) {
  const stdout = sink();
  const stderr = sink();
  const stdin = Readable.from([]) as Readable & { isTTY?: boolean };
  stdin.isTTY = true;
  const code = await main(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin,
    env: { KV_URL: url, ...env },
    fetch,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('kv finds its token', () => {
  it('defaults to <KV_DATA or ./data/kv.sqlite>.admin-token', () => {
    expect(adminTokenFile({})).toBe('./data/kv.sqlite.admin-token');
    expect(adminTokenFile({ KV_DATA: '/var/lib/kv/db.sqlite' })).toBe('/var/lib/kv/db.sqlite.admin-token');
    expect(defaultTokenFile({ KV_DATA: dataFile })).toBe(`${dataFile}.admin-token`);
    expect(defaultTokenFile({ KV_DATA: join(dir, 'none.sqlite') })).toBeUndefined();
    expect(defaultTokenFile({ KV_DATA: dataFile, KV_TOKEN: 'x' })).toBeUndefined();
    expect(defaultTokenFile({ KV_DATA: dataFile, KV_TOKEN_FILE: '/x' })).toBeUndefined();
  });

  it('uses the server admin token file with no other setup; explicit tokens win', async () => {
    expect((await kv(['stores', 'ls'], { KV_DATA: join(dir, 'none.sqlite') })).code).toBe(EXIT.error);
    const auto = await kv(['stores', 'create', 'auto'], { KV_DATA: dataFile });
    expect(auto.code).toBe(EXIT.ok);
    const wrong = await kv(['stores', 'ls', '--token', 'kv_wrong'], { KV_DATA: dataFile });
    expect(wrong.code).toBe(EXIT.error);
    expect(wrong.stderr).toMatch(/unauthenticated 401/);
    const file = join(dir, 'token.txt');
    writeFileSync(file, ADMIN);
    expect((await kv(['stores', 'ls', '--token-file', file])).stdout).toContain('auto');
    expect((await kv(['stores', 'ls'], { KV_TOKEN: ADMIN })).code).toBe(EXIT.ok);
  });

  it('finds KV_ADMIN_TOKEN, KV_ADMIN_TOKEN_FILE and $KV_DATA_FILE.admin-token, in that order', async () => {
    const elsewhere = join(dir, 'elsewhere.token');
    writeFileSync(elsewhere, `${ADMIN}\n`);
    expect((await kv(['stores', 'ls'], { KV_ADMIN_TOKEN: ADMIN })).code).toBe(EXIT.ok);
    expect((await kv(['stores', 'ls'], { KV_ADMIN_TOKEN_FILE: elsewhere })).code).toBe(EXIT.ok);
    expect((await kv(['stores', 'ls'], { KV_DATA_FILE: dataFile })).code).toBe(EXIT.ok);
    // An earlier source wins over a later one, even when the earlier one is wrong.
    const wrongFirst = await kv(['stores', 'ls'], { KV_TOKEN: 'kv_wrong', KV_ADMIN_TOKEN_FILE: elsewhere });
    expect(wrongFirst.code).toBe(EXIT.error);
    expect(wrongFirst.stderr).toContain('the token came from KV_TOKEN\n');
  });

  it('a 401 says where the token came from, or every place it looked', async () => {
    const none = await kv(['stores', 'ls'], { KV_DATA_FILE: join(dir, 'none.sqlite') });
    expect(none.code).toBe(EXIT.error);
    expect(none.stderr).toMatch(/unauthenticated 401/);
    expect(none.stderr).toContain(
      `no token was sent: tried --token, --token-file, KV_TOKEN, KV_TOKEN_FILE, KV_ADMIN_TOKEN, and the admin token file ${join(dir, 'none.sqlite')}.admin-token (not found`,
    );
    const stale = join(dir, 'stale.token');
    writeFileSync(stale, 'kv_revoked-long-ago\n');
    const fromFile = await kv(['stores', 'ls'], { KV_ADMIN_TOKEN_FILE: stale });
    expect(fromFile.code).toBe(EXIT.error);
    expect(fromFile.stderr).toContain(
      `the token came from the admin token file KV_ADMIN_TOKEN_FILE ${stale}`,
    );
    const flag = await kv(['stores', 'ls', '--token-file', stale]);
    expect(flag.stderr).toContain(`the token came from --token-file ${stale}`);
  });
});

describe('kv tokens and kv url', () => {
  it('create prints the secret once; ls lists without secrets; revoke ends it', async () => {
    const admin = { KV_TOKEN: ADMIN };
    const created = await kv(
      [
        'tokens',
        'create',
        '--capability',
        'kv[auto]:get',
        '--capability',
        'kv[auto]:list',
        '--description',
        'ci',
      ],
      admin,
    );
    expect(created.code).toBe(EXIT.ok);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^kv_/);
    const id = /created (tok_\w+)/.exec(created.stderr)?.[1] as string;
    const list = await kv(['tokens', 'ls', '--json'], admin);
    const items = JSON.parse(list.stdout) as Array<{ id: string; capabilities: string[] }>;
    expect(items.find((t) => t.id === id)?.capabilities).toEqual(['kv[auto]:get', 'kv[auto]:list']);
    expect(list.stdout).not.toContain(secret);
    expect((await kv(['ls', 'auto'], { KV_TOKEN: secret })).code).toBe(EXIT.ok);
    expect((await kv(['set', 'auto', 'k', 'v'], { KV_TOKEN: secret })).code).toBe(EXIT.error);
    expect((await kv(['tokens', 'revoke', id], admin)).code).toBe(EXIT.ok);
    expect((await kv(['tokens', 'revoke', id], admin)).code).toBe(EXIT.notFound);
    expect((await kv(['ls', 'auto'], { KV_TOKEN: secret })).code).toBe(EXIT.error);
    const bad = await kv(['tokens', 'create', '--capability', 'kv:read'], admin);
    expect(bad.code).toBe(EXIT.usage);
    expect((await kv(['tokens', 'create'], admin)).code).toBe(EXIT.usage);
  });

  it('create --rate-limit sets the token rate limit; ls shows it; a bad one is a usage error and creates nothing', async () => {
    const admin = { KV_TOKEN: ADMIN };
    await kv(['stores', 'create', 'limited'], admin);
    const created = await kv(
      ['tokens', 'create', '--capability', 'kv[limited]:get', '--rate-limit', '2/m', '--json'],
      admin,
    );
    expect(created.code).toBe(EXIT.ok);
    const token = JSON.parse(created.stdout) as { id: string; token: string; rateLimit: unknown };
    expect(token.rateLimit).toEqual({ requests: 2, perSeconds: 60 });
    const other = await kv(
      ['tokens', 'create', '--capability', 'kv:get', '--rate-limit', '100/3600', '--json'],
      admin,
    );
    expect((JSON.parse(other.stdout) as { rateLimit: unknown }).rateLimit).toEqual({
      requests: 100,
      perSeconds: 3600,
    });
    const table = await kv(['tokens', 'ls'], admin);
    expect(table.stdout.split('\n').find((line) => line.startsWith(token.id))).toContain('2/60s');
    // The third request of the minute is refused with 429 (the CLI's client waits Retry-After no longer
    // than its cap, so a retry-less check goes through fetch).
    const get = () =>
      fetch(`${url}/v1/stores/limited/entries/k`, { headers: { authorization: `Bearer ${token.token}` } });
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 3_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
    expect([(await get()).status, (await get()).status, (await get()).status]).toEqual([404, 404, 429]);

    const before = JSON.parse((await kv(['tokens', 'ls', '--json'], admin)).stdout) as unknown[];
    for (const bad of ['100', '100/minute', '0/60', '10/86401', 'x/s']) {
      const refused = await kv(['tokens', 'create', '--capability', 'kv:get', '--rate-limit', bad], admin);
      expect(refused.code, bad).toBe(EXIT.usage);
      expect(refused.stderr, bad).toMatch(/rate/i);
    }
    expect(JSON.parse((await kv(['tokens', 'ls', '--json'], admin)).stdout)).toHaveLength(before.length);
  });

  it('url prints a signed URL that works with no token', async () => {
    const admin = { KV_TOKEN: ADMIN };
    await kv(['stores', 'create', 'pub'], admin);
    await kv(['set', 'pub', 'hello', 'world'], admin);
    const record = await kv(['url', 'pub', 'hello', '--expires-in-secs', '60'], admin);
    expect(record.code).toBe(EXIT.ok);
    expect(await (await fetch(record.stdout.trim())).text()).toBe('world');
    const keys = await kv(['url', 'pub', '--prefix', 'h', '--limit', '5', '--json'], admin);
    const signed = JSON.parse(keys.stdout) as { url: string; expiresAt: string };
    const page = (await (await fetch(signed.url)).json()) as { items: Array<{ key: string }> };
    expect(page.items.map((i) => i.key)).toEqual(['hello']);
    expect((await kv(['url', 'pub', 'hello', '--prefix', 'x'], admin)).code).toBe(EXIT.usage);
  });
});
