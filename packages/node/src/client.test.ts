import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, ValidationError } from '@kv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, resolveClientOptions } from './client.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveClientOptions / createClient configuration', () => {
  it('reads KV_URL and KV_TOKEN from the environment', () => {
    expect(resolveClientOptions({ env: { KV_URL: 'http://a.test', KV_TOKEN: ' t1 ' } })).toEqual({
      url: 'http://a.test',
      token: 't1',
    });
  });

  it('explicit options override the environment', () => {
    expect(
      resolveClientOptions({
        url: 'http://b.test',
        token: 't2',
        timeoutMs: 5,
        env: { KV_URL: 'http://a.test', KV_TOKEN: 't1' },
      }),
    ).toEqual({ url: 'http://b.test', token: 't2', timeoutMs: 5 });
  });

  it('reads the token from KV_TOKEN_FILE (trimmed) when KV_TOKEN is unset; tokenFile overrides both', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file\n');
    expect(resolveClientOptions({ env: { KV_URL: 'http://a.test', KV_TOKEN_FILE: file } }).token).toBe(
      'from-file',
    );
    expect(
      resolveClientOptions({ env: { KV_URL: 'http://a.test', KV_TOKEN: 'env', KV_TOKEN_FILE: file } }).token,
    ).toBe('env');
    expect(
      resolveClientOptions({ tokenFile: file, env: { KV_URL: 'http://a.test', KV_TOKEN: 'env' } }).token,
    ).toBe('from-file');
  });

  it('explains a missing URL, an unreadable or empty token file: a ConfigurationError before any request', () => {
    expect(() => resolveClientOptions({ env: {} })).toThrow(/KV_URL=http:\/\/127\.0\.0\.1:8787/);
    expect(() => resolveClientOptions({ env: {} })).toThrow(ConfigurationError);
    let sent = 0;
    const fetch = async (): Promise<Response> => {
      sent++;
      return new Response(null, { status: 500 });
    };
    let error: unknown;
    try {
      createClient({ env: {}, fetch });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'configuration_error', status: 0, requestId: undefined });
    expect(sent).toBe(0);
    expect(() =>
      resolveClientOptions({ env: { KV_URL: 'http://a.test', KV_TOKEN_FILE: join(dir, 'nope') } }),
    ).toThrow(/Cannot read the token file/);
    expect(() =>
      resolveClientOptions({ env: { KV_URL: 'http://a.test', KV_TOKEN_FILE: join(dir, 'nope') } }),
    ).toThrow(ConfigurationError);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '  \n');
    expect(() => resolveClientOptions({ url: 'http://a.test', tokenFile: empty, env: {} })).toThrow(/empty/);
  });

  it('reads the environment once, in createClient', async () => {
    const env: Record<string, string | undefined> = { KV_URL: 'http://first.test', KV_TOKEN: 'one' };
    const seen: Request[] = [];
    const kv = createClient({
      env,
      fetch: async (input, init) => {
        seen.push(new Request(input, init));
        return new Response(JSON.stringify({ items: [] }), {
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    env.KV_URL = 'http://second.test';
    env.KV_TOKEN = 'two';
    await kv.stores.list();
    expect(kv.url).toBe('http://first.test');
    expect(seen[0]?.url).toBe('http://first.test/v1/stores');
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer one');
  });

  it('returns the same handle for the same store name', () => {
    const kv = createClient({ url: 'http://a.test', env: {} });
    expect(kv.store('s')).toBe(kv.store('s'));
    expect(() => kv.store('bad/name')).toThrow(ValidationError);
  });
});
