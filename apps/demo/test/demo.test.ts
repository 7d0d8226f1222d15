/**
 * `pnpm demo` (the built `apps/demo/dist/demo.js`): a run on its own server with `--limit 2000 --data <file>` prints
 * every section, and its counts equal what the stored keys say (checked afterwards on the same file with
 * the client and this file's own reading of the patterns); and the demo never destroys a store it did
 * not create (`npm start` runs it against the persistent `./data/kv.sqlite`).
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type NodeKvClient } from '@kv/node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, childEnv, type ServerProcess, startServer, tempDir } from './helpers.js';

/** Two or three demo runs of a few seconds each (the TTL section waits about 3 s). */
vi.setConfig({ testTimeout: 180_000 });

const DEMO = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
const tmp = tempDir('kv-demo-test-');
const dataFile = join(tmp.dir, 'demo.sqlite');
let server: ServerProcess | undefined;

afterAll(async () => {
  try {
    await server?.stop();
  } finally {
    tmp.remove();
  }
});

/** Runs the demo with `args`; `env` on top of this process's environment minus every `KV_*`. */
async function demo(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(DEMO))
    throw new Error(`${DEMO} is missing: build first (npx turbo run build --filter=@kv/demo...)`);
  const child = spawn(process.execPath, [DEMO, ...args], {
    cwd: tmp.dir,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** The number in the first match of `pattern` (group 1, thousands separators removed). */
function count(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  if (match === null) throw new Error(`no ${pattern} in the demo output:\n${text}`);
  return Number((match[1] ?? '').replaceAll(',', ''));
}

/** SQL LIKE (`%`, `_`, `\` escapes) as a RegExp, written here independently of the engine. */
function likeRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') source += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

function adminClient(): NodeKvClient {
  if (server === undefined) throw new Error('server not started');
  return createClient({ url: server.url, token: ADMIN_TOKEN, env: {} });
}

async function allKeys(kv: NodeKvClient, store: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of kv.store(store).keys({ limit: 1000 })) keys.push(key);
  return keys;
}

describe('the demo', () => {
  it('--limit 2000 on its own server: every section, with counts that match the stored keys', async () => {
    const run = await demo(['--limit', '2000', '--data', dataFile]);
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    const out = run.stdout;
    expect(out).toContain('store demo-cities: created');
    // Not a terminal: progress is a line per quarter, never a repeated line (no progress bar redraws).
    const progress = run.stderr.split('\n').filter((l) => l.startsWith('importing'));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThanOrEqual(4);
    expect(new Set(progress).size).toBe(progress.length);
    expect(progress.at(-1)).toMatch(/^importing: 2,000\/2,000 cities/);
    const sections = [
      '1. prefix listing',
      '2. NATS wildcard',
      '3. SQL LIKE find',
      '4. scopes',
      '5. compare-and-swap',
      '6. TTL expiry',
      '7. history',
      'done:',
    ];
    let at = -1;
    for (const section of sections) {
      const next = out.indexOf(section);
      expect(next, `section "${section}" in order`).toBeGreaterThan(at);
      at = next;
    }

    const imported = count(out, /imported ([\d,]+) cities/);
    const fr = count(out, /all keys under "city\.FR\.": ([\d,]+)/);
    const paris = count(out, /([\d,]+) cities named Paris/);
    const nz = count(out, /match "city\.NZ\.>" \(> = the rest\): ([\d,]+) keys/);
    const burg = count(out, /([\d,]+) German cities ending in "burg"/);
    const san = count(out, /([\d,]+) cities named "San \.\.\."/);
    const scopes = count(out, /listScopes\(\): ([\d,]+) scopes/);
    const revisions = count(out, /([\d,]+) revisions, newest first/);
    const done = count(out, /done: ([\d,]+) keys/);
    expect(imported).toBe(2000);
    expect(out).toMatch(/update\(key, value, \d+\) again -> RevisionMismatchError \(412 revision_mismatch\)/);
    // Deterministic: the read comes 1.7 s after a write with ttlMs 1500.
    expect(out).toContain('after 1.7 s: undefined');
    expect(out).toMatch(/after the sweeper: history = .*put@\d+/);
    // put (imported), put (CAS), delete, put (rebuilt): newest first.
    expect(revisions).toBe(4);
    const historyLines = out
      .slice(out.indexOf('7. history'))
      .split('\n')
      .filter((l) => /^\s+rev \d+/.test(l));
    expect(historyLines.map((l) => l.trim().split(/\s+/)[2])).toEqual(['put', 'delete', 'put', 'put']);
    // The imported cities, the marker, and demo.flash until the sweeper removes it.
    expect([imported + 1, imported + 2]).toContain(done);

    // The same file on a server of ours: the counts are what the keys say.
    server = await startServer(['--data', dataFile]);
    const kv = adminClient();
    const keys = await allKeys(kv, 'demo-cities');
    const cities = keys.filter((k) => k.startsWith('city.'));
    expect(cities).toHaveLength(imported);
    expect(keys).toContain('_kv-demo');
    expect(await kv.store('demo-cities').get('_kv-demo')).toMatchObject({
      owner: expect.stringContaining('demo'),
    });
    expect(fr).toBe(cities.filter((k) => k.startsWith('city.FR.')).length);
    expect(paris).toBe(cities.filter((k) => /^city\.[^.]+\.[^.]+\.Paris$/.test(k)).length);
    expect(nz).toBe(cities.filter((k) => /^city\.NZ\..+/.test(k)).length);
    expect(burg).toBe(cities.filter((k) => likeRegExp('city.DE.%burg').test(k)).length);
    expect(san).toBe(keys.filter((k) => likeRegExp('%.San\\_%').test(k)).length);
    // Every city has its country as its scope, the rewritten one included.
    expect(scopes).toBe(new Set(cities.map((k) => k.split('.')[1])).size);
    expect((await kv.store('demo-cities').listScopes()).length).toBe(scopes);
    // An even sample, not the first 2,000 (all in AD-AF): the sections have something to count.
    expect(fr).toBeGreaterThan(0);
    expect(nz).toBeGreaterThan(0);
    expect(burg).toBeGreaterThan(0);
    expect(san).toBeGreaterThan(0);
  });

  it('replaces only its own store: a store without its marker key is refused and left as it was', async () => {
    if (server === undefined) throw new Error('the first test starts the server');
    const kv = adminClient();
    const env = { KV_ADMIN_TOKEN: ADMIN_TOKEN };

    // A user's stores: one the demo is pointed at, one named like the old demo store.
    await kv.stores.create('my-data', { history: 2 });
    await kv.store('my-data').set('precious', { keep: true });
    await kv.store('my-data').set('_kv-demo', 'not the marker');
    await kv.stores.create('cities');
    await kv.store('cities').set('user-city', 'mine');

    const refused = await demo(['--url', server.url, '--store', 'my-data', '--limit', '50'], env);
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toContain('demo refused');
    expect(refused.stderr).toContain('my-data');
    expect(await allKeys(kv, 'my-data')).toEqual(['_kv-demo', 'precious']);
    expect(await kv.store('my-data').get('precious')).toEqual({ keep: true });
    expect((await kv.stores.get('my-data'))?.revision).toBe(2);

    // Its own store (from the first test) is replaced; `cities` is not touched.
    const before = await kv.stores.get('demo-cities');
    const again = await demo(['--url', server.url, '--limit', '50'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('store demo-cities: replaced');
    expect(again.stdout).toContain('a store named "cities" exists');
    const after = await kv.stores.get('demo-cities');
    expect(after?.createdAt).not.toBe(before?.createdAt);
    expect((await allKeys(kv, 'demo-cities')).filter((k) => k.startsWith('city.'))).toHaveLength(50);
    expect(await allKeys(kv, 'cities')).toEqual(['user-city']);
    expect((await kv.stores.get('cities'))?.revision).toBe(1);

    // A new name is created, marked, and can be run again.
    const fresh = await demo(['--url', server.url, '--store', 'demo-two', '--limit', '20'], env);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('store demo-two: created');
    expect(await kv.store('demo-two').exists('_kv-demo')).toBe(true);

    const badLimit = await demo(['--url', server.url, '--limit', 'lots'], env);
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toContain('--limit');
  });
});
