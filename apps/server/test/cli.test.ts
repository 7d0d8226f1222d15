/**
 * The built `kv` command line (`packages/node/dist/cli.js`) as a user runs it, against the real server
 * process on a SQLite file: stores, entries, listings, history, expiry, import, signed URLs and tokens,
 * with `--json`, and the exit codes scripts rely on: 0 ok/found, 1 not found, 2 usage or invalid input,
 * 3 server, network or auth error. Also where `kv` finds its token, `KV_ADMIN_TOKEN` included.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, type ServerProcess, startServer, tempDir } from './helpers.js';

/** The built CLI (`npx turbo run build --filter=@kv/node`). */
const KV_CLI = fileURLToPath(new URL('../../../packages/node/dist/cli.js', import.meta.url));

// Every `kv` run is a Node process start (about 0.3-1 s on a busy machine); some tests run 30 of them.
vi.setConfig({ testTimeout: 240_000 });

const tmp = tempDir('kv-cli-');
let server: ServerProcess | undefined;

beforeAll(async () => {
  if (!existsSync(KV_CLI)) throw new Error(`${KV_CLI} is missing: npx turbo run build --filter=@kv/node`);
  server = await startServer(['--data', join(tmp.dir, 'cli.sqlite')]);
});
afterAll(async () => {
  try {
    await server?.stop();
  } finally {
    tmp.remove();
  }
});

function url(): string {
  if (server === undefined) throw new Error('server not started');
  return server.url;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kv <args>` in the temp directory (so no `./data/kv.sqlite.admin-token` is found by accident) with
 * `KV_URL` and `KV_TOKEN` (the admin token) set unless `env` overrides them (`undefined` removes one).
 * No other `KV_*` variable of this process reaches it.
 */
async function kv(
  args: string[],
  options: { env?: Record<string, string | undefined>; stdin?: string | Buffer } = {},
): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KV_')) env[k] = v;
  for (const [k, v] of Object.entries({ KV_URL: url(), KV_TOKEN: ADMIN_TOKEN, ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  const child = spawn(process.execPath, [KV_CLI, ...args], {
    cwd: tmp.dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs `kv`, expects exit `code`, returns the run. */
async function expectExit(code: number, args: string[], options?: Parameters<typeof kv>[1]): Promise<Run> {
  const run = await kv(args, options);
  expect(run.code, `kv ${args.join(' ')} -> ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(
    code,
  );
  return run;
}

/** `kv <args> --json`, expecting exit `code`, parsed stdout. */
async function json<T = unknown>(
  code: number,
  args: string[],
  options?: Parameters<typeof kv>[1],
): Promise<T> {
  const run = await expectExit(code, [...args, '--json'], options);
  return JSON.parse(run.stdout) as T;
}

let counter = 0;
function storeName(label: string): string {
  counter += 1;
  return `cli-${label}-${process.pid}-${counter}`;
}

/** A port nothing listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  probe.close();
  await once(probe, 'close');
  return address.port;
}

describe('kv stores', () => {
  it('create, ls, rm with exit codes 0, 1, 2 and 3', async () => {
    const name = storeName('stores');
    expect(
      await json(0, ['stores', 'create', name, '--history', '5', '--max-value-bytes', '100']),
    ).toMatchObject({
      name,
      history: 5,
      maxValueBytes: 100,
      keyCount: 0,
    });
    const list = await json<Array<{ name: string }>>(0, ['stores', 'ls']);
    expect(list.map((s) => s.name)).toContain(name);
    expect((await expectExit(0, ['stores', 'ls'])).stdout.split('\n')).toContain(name);
    const again = await expectExit(3, ['stores', 'create', name]);
    expect(again.stderr).toContain('store_exists');
    await expectExit(2, ['stores', 'create', name, '--history', 'many']);
    await expectExit(2, ['stores', 'create', 'has space']);
    await expectExit(2, ['stores']);
    await expectExit(2, ['stores', 'bogus']);
    expect(await json(0, ['stores', 'rm', name])).toEqual({ deleted: true });
    expect(await json(1, ['stores', 'rm', name])).toEqual({ deleted: false });
    expect((await json<Array<{ name: string }>>(0, ['stores', 'ls'])).map((s) => s.name)).not.toContain(name);
  });
});

describe('kv get, set, rm, exists, ls, history, expire', () => {
  it('writes and reads values from arguments, stdin and files; found is 0, missing is 1', async () => {
    const name = storeName('entries');
    await expectExit(0, ['stores', 'create', name, '--history', '5']);
    const set = await json<{ created: boolean; revision: number }>(0, [
      'set',
      name,
      'user.1',
      '{"name":"ada"}',
      '--content-type',
      'application/json',
      '--metadata',
      '{"owner":"ops"}',
      '--scope',
      'users',
    ]);
    expect(set).toMatchObject({ created: true, revision: 1 });
    expect((await expectExit(0, ['get', name, 'user.1'])).stdout).toBe('{"name":"ada"}');
    expect(await json(0, ['get', name, 'user.1'])).toMatchObject({
      key: 'user.1',
      value: { name: 'ada' },
      contentType: 'application/json',
      metadata: { owner: 'ops' },
      scopes: ['users'],
      revision: 1,
    });
    expect(await json(1, ['get', name, 'user.missing'])).toBeNull();
    await expectExit(1, ['get', storeName('no-such-store'), 'k']);
    expect(await json(0, ['exists', name, 'user.1'])).toEqual({ exists: true });
    expect(await json(1, ['exists', name, 'user.2'])).toEqual({ exists: false });

    // Raw bytes from stdin and from a file come back byte for byte.
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    await expectExit(0, ['set', name, 'blob.stdin'], { stdin: bytes });
    const file = join(tmp.dir, 'value.bin');
    writeFileSync(file, bytes);
    await expectExit(0, ['set', name, 'blob.file', '--file', file]);
    for (const key of ['blob.stdin', 'blob.file']) {
      const entry = await json<{ size: number; contentType: string; value: { base64: string } }>(0, [
        'get',
        name,
        key,
      ]);
      expect(entry).toMatchObject({ size: bytes.length, contentType: 'application/octet-stream' });
      expect(Buffer.from(entry.value.base64, 'base64').equals(bytes)).toBe(true);
    }

    // Conditional writes: a conflict is 3, a bad flag or key is 2, nothing written.
    expect(await json(0, ['set', name, 'user.1', 'x', '--if-not-exists'])).toMatchObject({ created: false });
    const stale = await expectExit(3, ['set', name, 'user.1', 'y', '--if-revision', '7']);
    expect(stale.stderr).toContain('revision_mismatch');
    await expectExit(2, ['set', name, 'has space', 'v']);
    await expectExit(2, ['set', name, 'k', 'v', '--ttl-ms', 'soon']);
    await expectExit(2, ['set', name, 'k', 'v', '--metadata', 'not json']);
    await expectExit(2, ['set', name, 'k', 'v', '--file', file]);
    await expectExit(2, ['get', name]);
    await expectExit(2, ['get', name, 'a', 'b']);
    expect((await expectExit(0, ['get', name, 'user.1'])).stdout).toBe('{"name":"ada"}');
    await expectExit(1, ['exists', name, 'k']);
  });

  it('ls filters by prefix, NATS match, LIKE and scope, pages with a cursor, and --all', async () => {
    const name = storeName('ls');
    await expectExit(0, ['stores', 'create', name]);
    const keys = ['user.1', 'user.2', 'user.2.name', 'user_x', 'config.flags'];
    for (const key of keys) {
      await expectExit(0, ['set', name, key, key, ...(key.startsWith('user.') ? ['--scope', 'users'] : [])]);
    }
    const ls = async (...args: string[]): Promise<string[]> =>
      (await json<{ items: Array<{ key: string }> }>(0, ['ls', name, ...args])).items.map((i) => i.key);
    expect(await ls()).toEqual([...keys].sort());
    expect(await ls('--prefix', 'user.')).toEqual(['user.1', 'user.2', 'user.2.name']);
    expect(await ls('--match', 'user.*')).toEqual(['user.1', 'user.2']);
    expect(await ls('--match', 'user.>')).toEqual(['user.1', 'user.2', 'user.2.name']);
    expect(await ls('--like', 'user_%')).toEqual(['user.1', 'user.2', 'user.2.name', 'user_x']);
    expect(await ls('--like', 'user\\_%')).toEqual(['user_x']);
    expect(await ls('--scope', 'users')).toEqual(['user.1', 'user.2', 'user.2.name']);
    expect(await ls('--start-after', 'user.2.name')).toEqual(['user_x']);
    expect(await ls('--reverse', '--limit', '2')).toEqual(['user_x', 'user.2.name']);

    const first = await json<{ items: Array<{ key: string }>; cursor?: string; complete: boolean }>(0, [
      'ls',
      name,
      '--limit',
      '3',
    ]);
    expect(first.complete).toBe(false);
    expect(typeof first.cursor).toBe('string');
    const rest = await ls('--limit', '3', '--cursor', first.cursor as string);
    expect([...first.items.map((i) => i.key), ...rest]).toEqual([...keys].sort());
    const all = await json<Array<{ key: string }>>(0, ['ls', name, '--all', '--limit', '2']);
    expect(all.map((i) => i.key)).toEqual([...keys].sort());
    // Plain output: one key per line, and a hint on stderr when there are more.
    const plain = await expectExit(0, ['ls', name, '--limit', '2']);
    expect(plain.stdout).toBe('config.flags\nuser.1\n');
    expect(plain.stderr).toContain('--cursor');

    await expectExit(2, ['ls', name, '--match', 'a', '--like', 'b']);
    await expectExit(2, ['ls', name, '--limit', '-1']);
    await expectExit(2, ['ls', name, '--limit', '5000']);
    await expectExit(1, ['ls', storeName('missing')]);
  });

  it('history, expire and rm (tombstone or purge)', async () => {
    const name = storeName('history');
    await expectExit(0, ['stores', 'create', name, '--history', '5']);
    await expectExit(0, ['set', name, 'k', 'one']);
    await expectExit(0, ['set', name, 'k', 'two']);

    const at = new Date(Date.now() + 3_600_000).toISOString();
    expect(await json(0, ['expire', name, 'k', at])).toEqual({ existed: true });
    expect(await json(0, ['get', name, 'k'])).toMatchObject({ expiresAt: at });
    expect(await json(0, ['expire', name, 'k', 'never'])).toEqual({ existed: true });
    expect(await json(0, ['get', name, 'k'])).toMatchObject({ expiresAt: null });
    expect(await json(0, ['expire', name, 'k', '--ttl-ms', '600000'])).toEqual({ existed: true });
    const expiresAt = Date.parse((await json<{ expiresAt: string }>(0, ['get', name, 'k'])).expiresAt);
    expect(expiresAt).toBeGreaterThan(Date.now() + 500_000);
    expect(await json(1, ['expire', name, 'missing', at])).toEqual({ existed: false });
    await expectExit(2, ['expire', name, 'k']);
    await expectExit(2, ['expire', name, 'k', at, '--ttl-ms', '5']);
    // Refused by the server (an expiry in the past): invalid input, 2.
    await expectExit(2, ['expire', name, 'k', '2001-01-01T00:00:00Z']);

    const revision = (await json<{ revision: number }>(0, ['get', name, 'k'])).revision;
    await expectExit(3, ['rm', name, 'k', '--if-revision', String(revision + 10)]);
    expect(await json(0, ['rm', name, 'k', '--if-revision', String(revision)])).toEqual({ deleted: true });
    expect(await json(1, ['rm', name, 'k'])).toEqual({ deleted: false });
    await expectExit(1, ['get', name, 'k']);

    const history = await json<Array<{ operation: string; revision: number }>>(0, ['history', name, 'k']);
    expect(history[0]?.operation).toBe('delete');
    expect(history.filter((h) => h.operation === 'put').length).toBeGreaterThanOrEqual(2);
    expect(history.map((h) => h.revision)).toEqual([...history.map((h) => h.revision)].sort((a, b) => b - a));
    expect((await expectExit(1, ['history', name, 'never-written'])).stderr).toContain('no history');

    await expectExit(0, ['set', name, 'p', 'v']);
    expect(await json(0, ['rm', name, 'p', '--purge'])).toEqual({ deleted: true });
    await expectExit(1, ['history', name, 'p']);
    await expectExit(2, ['rm', name, 'p', '--purge', '--if-revision', '1']);
  });
});

describe('kv import', () => {
  it('imports JSON Lines from a file and from stdin; a bad line is 2, refused items are 3', async () => {
    const name = storeName('import');
    await expectExit(0, ['stores', 'create', name, '--max-value-bytes', '64']);
    const lines = [
      { key: 'j', value: { n: 1 }, encoding: 'json', contentType: 'application/json', scopes: ['s'] },
      { key: 't', value: 'héllo', encoding: 'text', contentType: 'text/plain' },
      { key: 'b', value: Buffer.from([0, 255, 7]).toString('base64'), encoding: 'base64' },
    ];
    const file = join(tmp.dir, 'import.jsonl');
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(await json(0, ['import', name, file])).toEqual({ imported: 3, failed: [] });
    expect(await json(0, ['get', name, 'j'])).toMatchObject({ value: { n: 1 }, scopes: ['s'] });
    expect((await expectExit(0, ['get', name, 't'])).stdout).toBe('héllo');
    expect(
      Buffer.from(
        (await json<{ value: { base64: string } }>(0, ['get', name, 'b'])).value.base64,
        'base64',
      ).equals(Buffer.from([0, 255, 7])),
    ).toBe(true);

    const piped = await expectExit(0, ['import', name], {
      stdin: `${JSON.stringify({ key: 'from-stdin', value: 1, encoding: 'json' })}\n`,
    });
    expect(piped.stdout).toContain('imported 1 entries');
    expect((await expectExit(0, ['get', name, 'from-stdin'])).stdout).toBe('1');

    await expectExit(2, ['import', name], { stdin: '{"key":"x","value":\n' });
    await expectExit(1, ['get', name, 'x']);
    const refused = await json<{ imported: number; failed: Array<{ key: string; error: string }> }>(
      3,
      ['import', name],
      {
        stdin: [
          JSON.stringify({ key: 'small', value: 'ok', encoding: 'text' }),
          JSON.stringify({ key: 'huge', value: 'x'.repeat(100), encoding: 'text' }),
        ].join('\n'),
      },
    );
    expect(refused).toEqual({
      imported: 1,
      failed: [{ key: 'huge', error: 'payload_too_large', message: expect.any(String) }],
    });
    await expectExit(1, ['exists', name, 'huge']);
    await expectExit(1, ['import', storeName('missing'), file]);
  });
});

describe('kv url and kv tokens', () => {
  it('url prints signed URLs a plain fetch can use', async () => {
    const name = storeName('url');
    await expectExit(0, ['stores', 'create', name]);
    await expectExit(0, ['set', name, 'docs.a', 'A']);
    await expectExit(0, ['set', name, 'other', 'B']);
    const record = await json<{ url: string; expiresAt: string }>(0, [
      'url',
      name,
      'docs.a',
      '--expires-in-secs',
      '60',
    ]);
    expect(await (await fetch(record.url)).text()).toBe('A');
    const plain = await expectExit(0, ['url', name, 'docs.a']);
    expect(await (await fetch(plain.stdout.trim())).text()).toBe('A');
    const keys = await json<{ url: string }>(0, ['url', name, '--prefix', 'docs.', '--limit', '5']);
    const page = (await (await fetch(keys.url)).json()) as { items: Array<{ key: string }> };
    expect(page.items.map((i) => i.key)).toEqual(['docs.a']);
    await expectExit(2, ['url', name, 'docs.a', '--prefix', 'x']);
    await expectExit(2, ['url', name, 'docs.a', '--expires-in-secs', 'soon']);
    await expectExit(2, ['url', name, 'docs.a', '--expires-in-secs', '999999999']);
  });

  it('tokens create, ls, revoke; a token lacking the capability gets 3', async () => {
    const name = storeName('tokens');
    await expectExit(0, ['stores', 'create', name]);
    await expectExit(0, ['set', name, 'k', 'v']);
    const created = await json<{ id: string; token: string; capabilities: string[] }>(0, [
      'tokens',
      'create',
      '--capability',
      `kv[${name}]:get`,
      '--capability',
      `kv[${name}]:list`,
      '--description',
      'cli test',
    ]);
    expect(created.capabilities).toEqual([`kv[${name}]:get`, `kv[${name}]:list`]);
    const listed = await json<Array<{ id: string; description: string | null }>>(0, ['tokens', 'ls']);
    const mine = listed.find((t) => t.id === created.id);
    expect(mine).toMatchObject({ description: 'cli test' });
    expect(mine).not.toHaveProperty('token');

    const asReader = { env: { KV_TOKEN: created.token } };
    expect((await expectExit(0, ['get', name, 'k'], asReader)).stdout).toBe('v');
    expect(
      (await expectExit(0, ['get', name, 'k', '--token', created.token], { env: { KV_TOKEN: undefined } }))
        .stdout,
    ).toBe('v');
    expect((await expectExit(3, ['set', name, 'k', 'w'], asReader)).stderr).toContain('forbidden');
    await expectExit(3, ['stores', 'ls'], asReader);
    await expectExit(3, ['tokens', 'ls'], asReader);

    expect(await json(0, ['tokens', 'revoke', created.id])).toEqual({ revoked: true });
    expect(await json(1, ['tokens', 'revoke', created.id])).toEqual({ revoked: false });
    expect((await expectExit(3, ['get', name, 'k'], asReader)).stderr).toContain('unauthenticated');

    await expectExit(2, ['tokens', 'create']);
    await expectExit(2, ['tokens', 'create', '--capability', 'not a capability']);
    await expectExit(2, ['tokens', 'revoke']);
    await expectExit(2, ['tokens', 'bogus']);
  });
});

describe('usage and failures', () => {
  it('usage errors are 2; help is 0', async () => {
    expect((await expectExit(0, ['--help'])).stdout).toContain('Exit codes');
    await expectExit(2, []);
    await expectExit(2, ['frobnicate']);
    await expectExit(2, ['stores', 'ls', '--no-such-flag']);
    await expectExit(2, ['stores', 'ls', '--timeout-ms', 'x']);
  });

  it('an unreachable server or a bad token is 3', async () => {
    const port = await closedPort();
    const down = await expectExit(3, [
      'stores',
      'ls',
      '--url',
      `http://127.0.0.1:${port}`,
      '--timeout-ms',
      '2000',
    ]);
    expect(down.stderr).toContain('network_error');
    const viaEnv = await expectExit(3, ['get', 's', 'k'], { env: { KV_URL: `http://127.0.0.1:${port}` } });
    expect(viaEnv.stderr).toContain('ECONNREFUSED');
    const bad = await expectExit(3, ['stores', 'ls'], { env: { KV_TOKEN: 'kv_wrong' } });
    expect(bad.stderr).toContain('unauthenticated');
    expect(bad.stderr).toMatch(/request \S+/);
  });
});

describe('where kv finds its token', () => {
  const noToken = { KV_TOKEN: undefined } as const;

  it('falls back to KV_ADMIN_TOKEN when no token is given', async () => {
    expect((await expectExit(3, ['stores', 'ls'], { env: noToken })).stderr).toContain('unauthenticated');
    await expectExit(0, ['stores', 'ls'], { env: { ...noToken, KV_ADMIN_TOKEN: ADMIN_TOKEN } });
    await expectExit(0, ['stores', 'ls'], { env: { ...noToken, KV_ADMIN_TOKEN: `  ${ADMIN_TOKEN}\n` } });
  });

  it('--token, --token-file, KV_TOKEN and KV_TOKEN_FILE win over KV_ADMIN_TOKEN', async () => {
    const wrong = 'kv_wrong-token';
    const rightFile = join(tmp.dir, 'right.token');
    const wrongFile = join(tmp.dir, 'wrong.token');
    writeFileSync(rightFile, `${ADMIN_TOKEN}\n`);
    writeFileSync(wrongFile, `${wrong}\n`);
    const adminWrong = { ...noToken, KV_ADMIN_TOKEN: wrong };
    await expectExit(0, ['stores', 'ls', '--token', ADMIN_TOKEN], { env: adminWrong });
    await expectExit(0, ['stores', 'ls', '--token-file', rightFile], { env: adminWrong });
    await expectExit(0, ['stores', 'ls'], { env: { ...adminWrong, KV_TOKEN: ADMIN_TOKEN } });
    await expectExit(0, ['stores', 'ls'], { env: { ...adminWrong, KV_TOKEN_FILE: rightFile } });
    const adminRight = { KV_ADMIN_TOKEN: ADMIN_TOKEN };
    await expectExit(3, ['stores', 'ls'], { env: { ...adminRight, KV_TOKEN: wrong } });
    await expectExit(3, ['stores', 'ls'], {
      env: { ...adminRight, KV_TOKEN: undefined, KV_TOKEN_FILE: wrongFile },
    });
  });

  it('KV_ADMIN_TOKEN comes before the admin token file, which is the last resort', async () => {
    const data = join(tmp.dir, 'elsewhere.sqlite');
    writeFileSync(`${data}.admin-token`, 'kv_stale-admin-token\n');
    const env = { ...noToken, KV_DATA_FILE: data };
    // The file is read when nothing else is given (here it holds a stale token: 401)...
    expect((await expectExit(3, ['stores', 'ls'], { env })).stderr).toContain('unauthenticated');
    // ...and KV_ADMIN_TOKEN is used before it.
    await expectExit(0, ['stores', 'ls'], { env: { ...env, KV_ADMIN_TOKEN: ADMIN_TOKEN } });
    const good = join(tmp.dir, 'good.sqlite');
    writeFileSync(`${good}.admin-token`, `${ADMIN_TOKEN}\n`);
    await expectExit(0, ['stores', 'ls'], { env: { ...noToken, KV_DATA_FILE: good } });
  });
});
