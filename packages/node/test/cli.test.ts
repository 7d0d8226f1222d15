/**
 * The `kv` command line, run in-process through its exported `main(argv, io)` against the engine, with
 * captured stdout/stderr. Exit codes: 0 ok/found, 1 not found, 2 usage, 3 server error.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, main } from '../src/cli.js';
import { createClient, UnauthenticatedError } from '../src/index.js';
import { inProcessEngine } from './helpers.js';
import { uniqueName } from './suite.js';

const { fetch, url } = inProcessEngine();
const env = { KV_URL: url };
const dir = mkdtempSync(join(tmpdir(), 'kv-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(
  isTTY: boolean,
  onWrite?: (text: string) => void,
): { stream: Writable & { isTTY: boolean }; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      onWrite?.(Buffer.from(chunk).toString());
      callback();
    },
  }) as Writable & { isTTY: boolean };
  stream.isTTY = isTTY;
  return { stream, bytes: () => Buffer.concat(chunks) };
}

interface RunOptions {
  stdin?: string | Buffer;
  tty?: boolean;
  /** The terminal width stdout reports (`columns`). */
  columns?: number;
  /** Ends a running `kv watch`. */
  signal?: AbortSignal;
  /** Called with each chunk written to stdout. */
  onStdout?: (text: string) => void;
  stderrTty?: boolean;
  fetch?: typeof fetch;
  env?: Record<string, string>;
}

async function kv(argv: string[], options: RunOptions = {}) {
  const stdout = capture(options.tty ?? false, options.onStdout);
  if (options.columns !== undefined)
    (stdout.stream as Writable & { columns?: number }).columns = options.columns;
  const stderr = capture(options.stderrTty ?? false);
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as Readable & {
    isTTY?: boolean;
  };
  stdin.isTTY = options.stdin === undefined;
  const code = await main(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin,
    env: options.env ?? env,
    fetch: options.fetch ?? fetch,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return {
    code,
    stdout: stdout.bytes().toString(),
    stdoutBytes: stdout.bytes(),
    stderr: stderr.bytes().toString(),
  };
}

async function newStore(label: string): Promise<string> {
  const name = uniqueName(label);
  expect((await kv(['stores', 'create', name])).code).toBe(EXIT.ok);
  return name;
}

describe('kv usage', () => {
  it('--help prints usage and exits 0; no command is a usage error', async () => {
    const help = await kv(['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toMatch(/Usage: kv/);
    for (const line of help.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    for (const command of [
      'stores',
      'get',
      'set',
      'rm',
      'exists',
      'ls',
      'history',
      'expire',
      'watch',
      'url',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    const none = await kv([]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toMatch(/Usage: kv/);
  });

  it('unknown commands, unknown flags and missing arguments exit 2', async () => {
    expect((await kv(['frobnicate'])).code).toBe(EXIT.usage);
    const flag = await kv(['get', 's', 'k', '--nope']);
    expect(flag.code).toBe(EXIT.usage);
    expect(flag.stderr).toMatch(/--nope/);
    const missing = await kv(['get', 's']);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/missing <key>/);
    expect((await kv(['stores'])).code).toBe(EXIT.usage);
    expect((await kv(['ls', 's', '--limit', 'ten'])).code).toBe(EXIT.usage);
  });

  it('without --url or KV_URL it talks to http://127.0.0.1:8787, the server default', async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(new Request(input, init).url);
      return fetch(input, init);
    };
    const result = await kv(['stores', 'ls'], { env: {}, fetch: recording });
    expect(result.code).toBe(EXIT.ok);
    expect(seen).toEqual(['http://127.0.0.1:8787/v1/stores']);
    await kv(['stores', 'ls', '--url', 'http://other.test'], { env: {}, fetch: recording });
    expect(seen[1]).toBe('http://other.test/v1/stores');
  });

  it('a URL that is not http(s) is a configuration error, before any request', async () => {
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    const result = await kv(['stores', 'ls', '--url', 'ftp://kv.test'], { env: {}, fetch: counting });
    expect(result.code).toBe(EXIT.error);
    expect(result.stderr).toMatch(/\[configuration_error\]/);
    expect(sent).toBe(0);
  });

  it('invalid input rejected by validation exits 2', async () => {
    const store = await newStore('cli-invalid');
    const result = await kv(['set', store, 'has space', 'v']);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toMatch(/whitespace/);
  });
});

describe('kv stores', () => {
  it('create, ls (text, JSON, table), rm; rm of a missing store exits 1', async () => {
    const name = uniqueName('cli-stores');
    const created = await kv([
      'stores',
      'create',
      name,
      '--history',
      '4',
      '--default-ttl-ms',
      '60000',
      '--json',
    ]);
    expect(created.code).toBe(EXIT.ok);
    expect(JSON.parse(created.stdout)).toMatchObject({ name, history: 4, defaultTtlMs: 60_000 });
    expect((await kv(['stores', 'ls'])).stdout.split('\n')).toContain(name);
    const json = JSON.parse((await kv(['stores', 'ls', '--json'])).stdout) as Array<{ name: string }>;
    expect(json.map((s) => s.name)).toContain(name);
    const table = await kv(['stores', 'ls'], { tty: true });
    expect(table.stdout).toMatch(/^NAME\s+KEYS\s+SIZE\s+HISTORY/);
    expect(table.stdout).toMatch(new RegExp(`${name}\\s+0\\s+0 B\\s+4\\s+60000 ms`));
    const again = await kv(['stores', 'create', name]);
    expect(again.code).toBe(EXIT.error);
    expect(again.stderr).toMatch(/store_exists/);
    expect((await kv(['stores', 'rm', name])).code).toBe(EXIT.ok);
    expect((await kv(['stores', 'rm', name])).code).toBe(EXIT.notFound);
  });
});

describe('kv entries', () => {
  it('set then get prints the raw value; a missing key exits 1', async () => {
    const store = await newStore('cli-get');
    const set = await kv(['set', store, 'greeting', 'héllo wörld']);
    expect(set.code).toBe(EXIT.ok);
    expect(set.stdout).toMatch(/created greeting at revision 1/);
    const get = await kv(['get', store, 'greeting']);
    expect(get).toMatchObject({ code: EXIT.ok, stdout: 'héllo wörld' });
    const missing = await kv(['get', store, 'nope']);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/not found/);
    expect((await kv(['get', uniqueName('no-store'), 'k'])).code).toBe(EXIT.notFound);
  });

  it('set reads the value from stdin or --file, with options; get --json prints the entry', async () => {
    const store = await newStore('cli-set');
    const bytes = Buffer.from([0, 1, 2, 254, 255]);
    expect((await kv(['set', store, 'bin'], { stdin: bytes })).code).toBe(EXIT.ok);
    expect((await kv(['get', store, 'bin'])).stdoutBytes.equals(bytes)).toBe(true);
    const file = join(dir, 'value.json');
    writeFileSync(file, '{"a":[1,2]}');
    const result = await kv([
      'set',
      store,
      'doc',
      '--file',
      file,
      '--content-type',
      'application/json',
      '--metadata',
      '{"owner":"ada"}',
      '--scope',
      'billing',
      '--scope',
      'users',
      '--ttl-ms',
      '600000',
      '--resume',
      '--json',
    ]);
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ revision: 2, created: true });
    const entry = JSON.parse((await kv(['get', store, 'doc', '--json'])).stdout);
    expect(entry).toMatchObject({
      key: 'doc',
      value: { a: [1, 2] },
      contentType: 'application/json',
      metadata: { owner: 'ada' },
      scopes: ['billing', 'users'],
      resume: true,
    });
    expect(entry.expiresAt).not.toBeNull();
    const binary = JSON.parse((await kv(['get', store, 'bin', '--json'])).stdout);
    expect(binary.value).toEqual({ base64: bytes.toString('base64') });
    const table = await kv(['get', store, 'doc', '--entry'], { tty: true });
    expect(table.stdout).toMatch(/metadata\s+\{"owner":"ada"\}/);
    expect((await kv(['get', store, 'nope', '--json'])).stdout.trim()).toBe('null');
  });

  it('set --if-not-exists leaves an existing key; --if-revision mismatch exits 3', async () => {
    const store = await newStore('cli-cond');
    await kv(['set', store, 'k', 'one']);
    const skipped = await kv(['set', store, 'k', 'two', '--if-not-exists']);
    expect(skipped).toMatchObject({ code: EXIT.ok });
    expect(skipped.stdout).toMatch(/exists, not written/);
    const conflict = await kv(['set', store, 'k', 'three', '--if-revision', '99']);
    expect(conflict.code).toBe(EXIT.error);
    expect(conflict.stderr).toMatch(/revision_mismatch 412/);
    expect((await kv(['set', store, 'k', 'four', '--if-revision', '1'])).code).toBe(EXIT.ok);
    expect((await kv(['get', store, 'k'])).stdout).toBe('four');
  });

  it('exists, rm, rm --purge and history with their exit codes', async () => {
    const store = await newStore('cli-rm');
    await kv(['set', store, 'k', 'v1']);
    await kv(['set', store, 'k', 'v2']);
    expect(await kv(['exists', store, 'k'])).toMatchObject({ code: EXIT.ok, stdout: 'true\n' });
    expect(await kv(['exists', store, 'nope'])).toMatchObject({ code: EXIT.notFound, stdout: 'false\n' });
    expect((await kv(['rm', store, 'k'])).code).toBe(EXIT.ok);
    expect((await kv(['rm', store, 'k'])).code).toBe(EXIT.notFound);
    const history = JSON.parse((await kv(['history', store, 'k', '--json'])).stdout) as Array<{
      operation: string;
    }>;
    expect(history[0]?.operation).toBe('delete');
    const table = await kv(['history', store, 'k'], { tty: true });
    expect(table.stdout).toMatch(/^REVISION\s+OPERATION/);
    expect(table.stdout).toMatch(/3\s+delete/);
    const piped = (await kv(['history', store, 'k'])).stdout.split('\n');
    expect(piped[0]).toBe('REVISION\tOPERATION\tSIZE\tUPDATED\tEXPIRES');
    expect(piped[1]).toMatch(/^3\tdelete\t/);
    expect((await kv(['rm', store, 'k', '--purge'])).code).toBe(EXIT.ok);
    expect((await kv(['history', store, 'k'])).code).toBe(EXIT.notFound);
  });

  it('expire sets, clears, and exits 1 for a missing key', async () => {
    const store = await newStore('cli-expire');
    await kv(['set', store, 'k', 'v']);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const set = await kv(['expire', store, 'k', at]);
    expect(set.code).toBe(EXIT.ok);
    expect(set.stdout).toContain(at);
    expect(JSON.parse((await kv(['get', store, 'k', '--json'])).stdout).expiresAt).toBe(at);
    expect((await kv(['expire', store, 'k', 'never'])).stdout).toMatch(/no longer expires/);
    expect((await kv(['expire', store, 'k', '--ttl-ms', '60000'])).code).toBe(EXIT.ok);
    expect((await kv(['expire', store, 'missing', 'never'])).code).toBe(EXIT.notFound);
    expect((await kv(['expire', store, 'k'])).code).toBe(EXIT.usage);
  });

  it('ls prints keys, a table on a TTY, JSON pages, and every page with --all', async () => {
    const store = await newStore('cli-ls');
    for (const key of ['user.1', 'user.2', 'user.1.name', 'config']) await kv(['set', store, key, key]);
    expect((await kv(['ls', store])).stdout).toBe('config\nuser.1\nuser.1.name\nuser.2\n');
    expect((await kv(['ls', store, '--match', 'user.*'])).stdout).toBe('user.1\nuser.2\n');
    expect((await kv(['ls', store, '--like', 'user._'])).stdout).toBe('user.1\nuser.2\n');
    expect((await kv(['ls', store, '--prefix', 'user.', '--reverse'])).stdout).toBe(
      'user.2\nuser.1.name\nuser.1\n',
    );
    const page = await kv(['ls', store, '--limit', '2']);
    expect(page.stdout).toBe('config\nuser.1\n');
    expect(page.stderr).toMatch(/--cursor/);
    const json = JSON.parse((await kv(['ls', store, '--limit', '2', '--json'])).stdout);
    expect(json.complete).toBe(false);
    const next = await kv(['ls', store, '--limit', '2', '--cursor', json.cursor]);
    expect(next.stdout).toBe('user.1.name\nuser.2\n');
    expect(
      (await kv(['ls', store, '--limit', '1', '--all'])).stdout.split('\n').filter(Boolean),
    ).toHaveLength(4);
    expect((await kv(['ls', store, '--start-after', 'user.1'])).stdout).toBe('user.1.name\nuser.2\n');
    const table = await kv(['ls', store], { tty: true });
    expect(table.stdout).toMatch(/^KEY\s+REVISION\s+SIZE\s+CONTENT TYPE/);
    expect(table.stdout).toMatch(/config\s+4\s+6 B\s+text\/plain/);
  });

  it('ls --match keeps reading pages until it has rows, and says how many keys it scanned', async () => {
    const store = await newStore('cli-scan');
    const client = createClient({ url, fetch, env: {} });
    // With --limit 1 the server examines at most 10 x 1 + 1000 = 1010 keys per page.
    const filler = Array.from({ length: 1500 }, (_, i) => ({
      key: `a.${String(i).padStart(4, '0')}`,
      value: i,
    }));
    await client.store(store).setMany(filler);
    await client.store(store).set('z.found', 'yes');
    const found = await kv(['ls', store, '--match', '*.found', '--limit', '1']);
    expect(found.code).toBe(EXIT.ok);
    expect(found.stdout).toBe('z.found\n');
    expect(found.stderr).toContain('scanned 1,010 keys in 1 page with no match before these');
    expect(found.stderr).not.toContain('--cursor');
    const none = await kv(['ls', store, '--like', 'nothing%', '--limit', '1', '--json']);
    expect(JSON.parse(none.stdout)).toEqual({ items: [], complete: true });
  });

  it('tables fit an 80-column terminal (or the width the terminal reports)', async () => {
    const store = await newStore('cli-width');
    const long = `long.${'k'.repeat(120)}`;
    await kv([
      'set',
      store,
      long,
      'v',
      '--content-type',
      'application/vnd.example.something+json',
      '--ttl-ms',
      '60000',
    ]);
    await kv(['set', store, 'short', 'v']);
    const table = await kv(['ls', store], { tty: true });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(/^long\.k+…\s/);
    expect(lines[2]).toMatch(/^short\s+\d+\s+1 B\s+text\/plain/);
    expect(lines[1]).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    const wide = await kv(['ls', store], { tty: true, columns: 300 });
    expect(wide.stdout).toContain(long);
  });

  it('server errors exit 3 (here 401 from an engine that wants a token)', async () => {
    const locked = inProcessEngine({
      authorize: ({ token }) => {
        if (token !== 'secret') throw new UnauthenticatedError('A valid bearer token is required');
      },
    });
    const denied = await kv(['stores', 'ls'], { fetch: locked.fetch, env: { KV_URL: locked.url } });
    expect(denied.code).toBe(EXIT.error);
    expect(denied.stderr).toMatch(/unauthenticated 401/);
    const allowed = await kv(['stores', 'ls', '--token', 'secret'], {
      fetch: locked.fetch,
      env: { KV_URL: locked.url },
    });
    expect(allowed.code).toBe(EXIT.ok);
    const fromEnv = await kv(['stores', 'ls'], {
      fetch: locked.fetch,
      env: { KV_URL: locked.url, KV_TOKEN: 'secret' },
    });
    expect(fromEnv.code).toBe(EXIT.ok);
  });
});

describe('kv queues', () => {
  it('enqueue prints the id; queue stats prints the counts (text and JSON); the message carries its options', async () => {
    const name = await newStore('cli-queue');
    const first = await kv(['enqueue', name, 'hello']);
    expect(first.code).toBe(EXIT.ok);
    const id = first.stdout.trim();
    expect(id).toMatch(/^\S+$/);
    const delayed = await kv([
      'enqueue',
      name,
      '{"job":1}',
      '--content-type',
      'application/json',
      '--delay-ms',
      '60000',
      '--keys-if-undelivered',
      'dead:1,dead:2',
      '--backoff-schedule-ms',
      '0',
      '--json',
    ]);
    expect(delayed.code).toBe(EXIT.ok);
    expect(JSON.parse(delayed.stdout)).toEqual({ id: expect.any(String) });
    const stats = await kv(['queue', 'stats', name]);
    expect(stats).toMatchObject({ code: EXIT.ok, stdout: 'ready\t1\ndelayed\t1\ninFlight\t0\n' });
    const json = await kv(['queue', 'stats', name, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ ready: 1, delayed: 1, inFlight: 0 });
    // The first message, delivered through the client, is the text given on the command line.
    const client = createClient({ url, env: {}, fetch });
    const controller = new AbortController();
    const seen: unknown[] = [];
    const done = client.store(name).listenQueue(
      (value, info) => {
        seen.push([value, info.id]);
        controller.abort();
      },
      { signal: controller.signal },
    );
    await done;
    expect(seen).toEqual([['hello', id]]);
  });

  it('bad flags exit 2, a missing store exits 1', async () => {
    const name = await newStore('cli-queue-bad');
    expect((await kv(['enqueue', name])).code).toBe(EXIT.usage);
    expect((await kv(['enqueue', name, 'x', '--delay-ms', 'soon'])).code).toBe(EXIT.usage);
    expect((await kv(['enqueue', name, 'x', '--backoff-schedule-ms', '1,2,3,4,5,6'])).code).toBe(EXIT.usage);
    expect((await kv(['enqueue', name, 'x', '--keys-if-undelivered', ','])).code).toBe(EXIT.ok);
    expect((await kv(['queue', 'peek', name])).code).toBe(EXIT.usage);
    expect((await kv(['queue', 'stats'])).code).toBe(EXIT.usage);
    const missing = await kv(['queue', 'stats', uniqueName('cli-none')]);
    expect(missing.code).toBe(EXIT.notFound);
    expect((await kv(['enqueue', uniqueName('cli-none'), 'x'])).code).toBe(EXIT.notFound);
  });
});

describe('kv watch', () => {
  it('replays the current values first, then streams changes; --json prints JSON Lines', async () => {
    const store = await newStore('cli-watch');
    await kv(['set', store, 'a', '{"n":1}', '--content-type', 'application/json']);
    await kv(['set', store, 'b', 'text']);
    const json = await kv(['watch', store, '--count', '2', '--json']);
    expect(json.code).toBe(EXIT.ok);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; key: string; revision: number; value: unknown });
    expect(events.map((e) => [e.type, e.key, e.revision, e.value])).toEqual([
      ['put', 'a', 1, { n: 1 }],
      ['put', 'b', 2, 'text'],
    ]);
    const text = await kv(['watch', store, '--prefix', 'b', '--count', '1']);
    expect(text.stdout).toBe('2\tput\tb\ttext\n');
    const from = await kv(['watch', store, '--from-revision', '1', '--count', '1']);
    expect(from.stdout).toBe('2\tput\tb\ttext\n');
  });

  it('--updates-only waits for the next write; the signal (Ctrl-C) ends it with exit 0', {
    timeout: 30_000,
  }, async () => {
    const store = await newStore('cli-watch-live');
    await kv(['set', store, 'old', 'x']);
    const stop = new AbortController();
    let printed = '';
    const watching = kv(['watch', store, '--updates-only', '--match', 'new.*'], {
      signal: stop.signal,
      onStdout: (t) => {
        printed += t;
        stop.abort();
      },
    });
    // Write until the watch has printed a change (it may connect after the first writes); bounded.
    for (let i = 0; i < 200 && printed === ''; i++) {
      await kv(['set', store, 'old', `x${i}`]);
      await kv(['set', store, 'new.k', `v${i}`]);
      await new Promise((r) => setTimeout(r, 25));
    }
    const result = await watching;
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/^\d+\tput\tnew\.k\tv\d+\n/);
    expect(result.stdout).not.toContain('old');
  });

  it('a missing store ends the watch with exit 1; bad flags exit 2', async () => {
    const missing = await kv(['watch', uniqueName('cli-watch-none'), '--count', '1']);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr).toMatch(/store_not_found 404/);
    expect((await kv(['watch', 's', '--prefix', 'a', '--match', 'b'])).code).toBe(EXIT.usage);
    expect((await kv(['watch', 's', '--from-revision', '1', '--updates-only'])).code).toBe(EXIT.usage);
    expect((await kv(['watch', 's', '--count', '0'])).code).toBe(EXIT.usage);
  });
});

describe('kv import / export (JSON Lines)', () => {
  it('round-trips JSON, text, bytes, metadata, scopes, expiry and resume', async () => {
    const source = await newStore('cli-export');
    const client = createClient({ url, fetch, env: {} });
    const s = client.store(source);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await s.set('json', { a: [1, { b: null }] }, { metadata: { m: 1 }, scopes: ['x'] });
    await s.set('json-string', 'just a string', { contentType: 'application/json' });
    await s.set('json-literal', '"quoted"', { contentType: 'application/json' });
    await s.set('text', 'plain text', { expiresAt, resume: true });
    await s.set('bytes', new Uint8Array([0, 255, 10, 13]));
    const exported = await kv(['export', source]);
    expect(exported.code).toBe(EXIT.ok);
    const lines = exported.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[0] as string)).toEqual({
      key: 'bytes',
      value: Buffer.from([0, 255, 10, 13]).toString('base64'),
      encoding: 'base64',
      contentType: 'application/octet-stream',
    });
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      key: 'json',
      value: { a: [1, { b: null }] },
      encoding: 'json',
    });

    const target = await newStore('cli-import');
    const imported = await kv(['import', target], { stdin: exported.stdout });
    expect(imported.code).toBe(EXIT.ok);
    expect(imported.stdout).toMatch(/imported 5 entries/);
    const t = client.store(target);
    expect(await t.getEntry('json')).toMatchObject({
      value: { a: [1, { b: null }] },
      metadata: { m: 1 },
      scopes: ['x'],
    });
    expect(await t.getText('json-string')).toBe('just a string');
    expect(await t.get('json-literal')).toBe('quoted');
    expect(await t.getEntry('text')).toMatchObject({ value: 'plain text', expiresAt, resume: true });
    expect(await t.getBytes('bytes')).toEqual(new Uint8Array([0, 255, 10, 13]));
    const again = await kv(['export', target]);
    expect(again.stdout).toBe(exported.stdout);
  });

  it('exports to and imports from files, with progress bars on a TTY', async () => {
    const source = await newStore('cli-files');
    const client = createClient({ url, fetch, env: {} });
    await client
      .store(source)
      .setMany(Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: { i } })));
    const file = join(dir, 'dump.jsonl');
    const exported = await kv(['export', source, file, '--prefix', 'k1'], { stderrTty: true });
    expect(exported.code).toBe(EXIT.ok);
    expect(exported.stdout).toMatch(/exported 11 entries/);
    expect(exported.stderr).toMatch(/export \[/);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(11);
    const target = await newStore('cli-files-in');
    const imported = await kv(['import', target, file, '--batch-size', '4'], { stderrTty: true });
    expect(imported.code).toBe(EXIT.ok);
    expect(imported.stderr).toMatch(/import \[/);
    expect((await client.stores.get(target))?.keyCount).toBe(11);
  });

  it('a malformed line exits 2; items the server refuses exit 3 and are listed', async () => {
    const target = await newStore('cli-bad-import');
    const bad = await kv(['import', target], { stdin: '{"key":"a","value":1}\nnot json\n' });
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toMatch(/line 2/);
    const small = uniqueName('cli-small');
    await kv(['stores', 'create', small, '--max-value-bytes', '8']);
    const partial = await kv(['import', small, '--json'], {
      stdin: `${JSON.stringify({ key: 'ok', value: 'tiny', encoding: 'text' })}\n${JSON.stringify({ key: 'big', value: 'x'.repeat(20), encoding: 'text' })}\n`,
    });
    expect(partial.code).toBe(EXIT.error);
    expect(JSON.parse(partial.stdout)).toMatchObject({ imported: 1, failed: [{ key: 'big' }] });
    expect((await kv(['export', uniqueName('nope')])).code).toBe(EXIT.notFound);
  });
});
