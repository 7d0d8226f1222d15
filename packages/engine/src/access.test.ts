/**
 * Access control through Request/Response (issue 7; docs/security.md): a matrix of capability x route
 * x store/scope, scoped reads, listings, bulk calls and watch (filtered), scoped writes (new and current
 * scopes), the indistinguishable 403 for missing keys, token expiry and revocation on the next request.
 */
import type { WireError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { type CallInit, entryPath, type Harness, setup } from '../test/harness.js';
import { ensureToken, MemoryTokenStore } from './auth.js';
import { applyCommit } from './commit.js';
import type { MaybePromise, StorageTx } from './storage.js';

/** Who calls: a token with these capabilities, no token, or an unknown token. */
const TOKENS = {
  admin: ['*'],
  store: ['kv[orders]:*'],
  scoped: ['kv[orders:billing]:*'],
  other: ['kv[users]:*'],
  meta: ['kv.meta[orders]:*'],
  stores: ['kv.admin:stores'],
  tokens: ['kv.admin:tokens'],
} as const;
type Who = keyof typeof TOKENS;
const WHO = Object.keys(TOKENS) as Who[];

/** An engine with access control, the tokens above, and seeded data (through the admin token). */
interface AuthHarness extends Harness {
  tokens: MemoryTokenStore;
  /** Authorization header of a caller. */
  auth(who: Who): Record<string, string>;
  /** A request as `who`. */
  as(who: Who | 'none', method: string, path: string, init?: CallInit): Promise<Response>;
  /** Ids of the seeded entries of `orders`, by key. */
  ids: Record<string, string>;
}

const secretOf = (who: Who): string => `secret-of-${who}-0123456789`;

async function authSetup(): Promise<AuthHarness> {
  const tokens = new MemoryTokenStore();
  const h = setup({ auth: { tokens } });
  for (const who of WHO) {
    await ensureToken(tokens, { secret: secretOf(who), capabilities: [...TOKENS[who]] }, h.now());
  }
  const auth = (who: Who): Record<string, string> => ({ authorization: `Bearer ${secretOf(who)}` });
  const as = (who: Who | 'none', method: string, path: string, init: CallInit = {}): Promise<Response> =>
    h.call(method, path, {
      ...init,
      headers: { ...(who === 'none' ? {} : auth(who)), ...init.headers },
    });
  const admin = auth('admin');
  for (const name of ['orders', 'users']) {
    expect((await h.call('POST', '/v1/stores', { json: { name, history: 5 }, headers: admin })).status).toBe(
      201,
    );
  }
  const ids: Record<string, string> = {};
  const seed: Array<[string, string, string]> = [
    ['orders', 'a', 'billing'],
    ['orders', 'b', 'ops'],
    ['orders', 'c', 'billing,ops'],
    ['orders', 'd', ''],
    ['users', 'u', 'billing'],
  ];
  for (const [store, key, scopes] of seed) {
    const res = await h.call('PUT', entryPath(store, key), {
      body: `value of ${key}`,
      headers: { ...admin, 'content-type': 'text/plain', ...(scopes ? { 'kv-scopes': scopes } : {}) },
    });
    expect(res.status).toBe(201);
    ids[key] = ((await res.json()) as { id: string }).id;
  }
  return Object.assign(h, { tokens, auth, as, ids });
}

/** One request of the matrix and who may make it (with the success status); everyone else gets 403. */
interface Case {
  name: string;
  request: (ids: Record<string, string>) => [string, string, CallInit?];
  allowed: Partial<Record<Who, number>>;
}

const json = (body: unknown): CallInit => ({ json: body });
const text = (value: string, scopes?: string): CallInit => ({
  body: value,
  headers: { 'content-type': 'text/plain', ...(scopes === undefined ? {} : { 'kv-scopes': scopes }) },
});
const adminOnly = (status: number, also: Who[] = []): Partial<Record<Who, number>> =>
  Object.fromEntries(['admin', ...also].map((w) => [w, status]));
/** Allowed for the admin and the store token; for the scoped token with `scoped` (`null`: 403). */
const entryUsers = (status: number, scoped: number | null = status): Partial<Record<Who, number>> => ({
  admin: status,
  store: status,
  ...(scoped === null ? {} : { scoped }),
});

const CASES: Case[] = [
  // Stores: kv.admin:stores; GET one store: any capability on it.
  { name: 'list stores', request: () => ['GET', '/v1/stores'], allowed: adminOnly(200, ['stores']) },
  {
    name: 'create store',
    request: () => ['POST', '/v1/stores', json({ name: 'fresh' })],
    allowed: adminOnly(201, ['stores']),
  },
  {
    name: 'get store',
    request: () => ['GET', '/v1/stores/orders'],
    allowed: { admin: 200, stores: 200, store: 200, scoped: 200, meta: 200 },
  },
  {
    name: 'update store',
    request: () => ['PATCH', '/v1/stores/orders', json({ history: 2 })],
    allowed: adminOnly(200, ['stores']),
  },
  {
    name: 'delete store',
    request: () => ['DELETE', '/v1/stores/orders'],
    allowed: adminOnly(200, ['stores']),
  },
  {
    name: 'rotate signing secret',
    request: () => ['POST', '/v1/stores/orders/signing-secret'],
    allowed: adminOnly(200, ['stores']),
  },
  // Single entries: the entry's scopes decide for scoped tokens.
  { name: 'get in scope', request: () => ['GET', entryPath('orders', 'a')], allowed: entryUsers(200) },
  {
    name: 'get out of scope',
    request: () => ['GET', entryPath('orders', 'b')],
    allowed: entryUsers(200, null),
  },
  {
    name: 'get unscoped entry',
    request: () => ['GET', entryPath('orders', 'd')],
    allowed: entryUsers(200, null),
  },
  {
    name: 'get one of two scopes',
    request: () => ['GET', entryPath('orders', 'c')],
    allowed: entryUsers(200),
  },
  {
    name: 'get missing key',
    request: () => ['GET', entryPath('orders', 'zz')],
    allowed: entryUsers(404, null),
  },
  { name: 'head in scope', request: () => ['HEAD', entryPath('orders', 'a')], allowed: entryUsers(200) },
  {
    name: 'head out of scope',
    request: () => ['HEAD', entryPath('orders', 'b')],
    allowed: entryUsers(200, null),
  },
  {
    name: 'get in another store',
    request: () => ['GET', entryPath('users', 'u')],
    allowed: { admin: 200, other: 200 },
  },
  {
    name: 'put in scope',
    request: () => ['PUT', entryPath('orders', 'a'), text('new', 'billing')],
    allowed: entryUsers(200),
  },
  {
    name: 'put a new key in scope',
    request: () => ['PUT', entryPath('orders', 'n'), text('new', 'billing')],
    allowed: entryUsers(201),
  },
  {
    name: 'put with a scope outside the grant',
    request: () => ['PUT', entryPath('orders', 'n'), text('new', 'billing,ops')],
    allowed: entryUsers(201, null),
  },
  {
    name: 'put without scopes',
    request: () => ['PUT', entryPath('orders', 'n'), text('new')],
    allowed: entryUsers(201, null),
  },
  // Increments write the entry: `set`, and for scoped tokens the scopes it keeps or sets.
  {
    name: 'increment a new key in scope',
    request: () => ['POST', `${entryPath('orders', 'n')}/increment`, json({ scopes: ['billing'] })],
    allowed: entryUsers(200),
  },
  {
    name: 'increment a new key without scopes',
    request: () => ['POST', `${entryPath('orders', 'n')}/increment`, json({ delta: 2 })],
    allowed: entryUsers(200, null),
  },
  {
    name: 'increment with a scope outside the grant',
    request: () => ['POST', `${entryPath('orders', 'n')}/increment`, json({ scopes: ['billing', 'ops'] })],
    allowed: entryUsers(200, null),
  },
  {
    // The value is text, so whoever may write it gets the 400; the scoped token is refused first.
    name: 'increment an entry out of scope',
    request: () => ['POST', `${entryPath('orders', 'b')}/increment`, json({})],
    allowed: entryUsers(400, null),
  },
  {
    name: 'atomic sum creating an unscoped key',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({ mutations: [{ type: 'sum', key: 'n', value: 1 }] }),
    ],
    allowed: entryUsers(200, null),
  },
  {
    name: 'atomic max on an entry in scope',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({ mutations: [{ type: 'max', key: 'a', value: 1 }] }),
    ],
    allowed: entryUsers(400),
  },
  {
    name: 'put over an entry out of scope',
    request: () => ['PUT', entryPath('orders', 'b'), text('new', 'billing')],
    allowed: entryUsers(200, null),
  },
  {
    name: 'put over an entry with one scope out of the grant',
    request: () => ['PUT', entryPath('orders', 'c'), text('new', 'billing')],
    allowed: entryUsers(200, null),
  },
  { name: 'delete in scope', request: () => ['DELETE', entryPath('orders', 'a')], allowed: entryUsers(200) },
  {
    name: 'delete with a scope outside the grant',
    request: () => ['DELETE', entryPath('orders', 'c')],
    allowed: entryUsers(200, null),
  },
  {
    name: 'purge in scope',
    request: () => ['DELETE', `${entryPath('orders', 'a')}?purge=true`],
    allowed: entryUsers(200),
  },
  {
    name: 'purge out of scope',
    request: () => ['DELETE', `${entryPath('orders', 'b')}?purge=true`],
    allowed: entryUsers(200, null),
  },
  {
    name: 'set expiry in scope',
    request: () => ['PUT', `${entryPath('orders', 'a')}/expiry`, json({ expiresAt: null })],
    allowed: entryUsers(200),
  },
  {
    name: 'set expiry out of scope',
    request: () => ['PUT', `${entryPath('orders', 'b')}/expiry`, json({ expiresAt: null })],
    allowed: entryUsers(200, null),
  },
  {
    name: 'history in scope',
    request: () => ['GET', `${entryPath('orders', 'a')}/history`],
    allowed: entryUsers(200),
  },
  {
    name: 'history out of scope',
    request: () => ['GET', `${entryPath('orders', 'b')}/history`],
    allowed: entryUsers(200, null),
  },
  // By id: kv.meta:id_ops and get on the entry.
  {
    name: 'get by id',
    request: (ids) => ['GET', `/v1/stores/orders/ids/${ids.a}`],
    allowed: { admin: 200 },
  },
  // Listings: filtered for scoped tokens, never failed.
  { name: 'list', request: () => ['GET', '/v1/stores/orders/entries'], allowed: entryUsers(200) },
  {
    name: 'find (like)',
    request: () => ['GET', '/v1/stores/orders/entries?like=%25%25'],
    allowed: entryUsers(200),
  },
  {
    name: 'keys of a scope',
    request: () => ['GET', '/v1/stores/orders/entries?scope=ops'],
    allowed: { ...entryUsers(200), meta: 200 },
  },
  {
    name: 'keys of a scope with values',
    request: () => ['GET', '/v1/stores/orders/entries?scope=ops&values=true'],
    allowed: entryUsers(200),
  },
  {
    name: 'list scopes',
    request: () => ['GET', '/v1/stores/orders/scopes'],
    allowed: { admin: 200, meta: 200 },
  },
  // Bulk and atomic.
  {
    name: 'bulk get',
    request: () => ['POST', '/v1/stores/orders/bulk/get', json({ keys: ['a', 'b'] })],
    allowed: entryUsers(200),
  },
  {
    name: 'bulk set',
    request: () => [
      'POST',
      '/v1/stores/orders/bulk/set',
      json({ items: [{ key: 'a', value: 'eA==', scopes: ['billing'] }] }),
    ],
    allowed: entryUsers(200),
  },
  {
    name: 'bulk delete',
    request: () => ['POST', '/v1/stores/orders/bulk/delete', json({ keys: ['a'] })],
    allowed: entryUsers(200),
  },
  {
    name: 'atomic in scope',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({
        checks: [{ key: 'a', revision: null }],
        mutations: [{ type: 'set', key: 'n', value: 'eA==', scopes: ['billing'] }],
      }),
    ],
    allowed: { admin: 412, store: 412, scoped: 412 },
  },
  {
    name: 'atomic touching an entry out of scope',
    request: () => ['POST', '/v1/stores/orders/atomic', json({ mutations: [{ type: 'delete', key: 'b' }] })],
    allowed: entryUsers(200, null),
  },
  {
    name: 'atomic checking an entry out of scope',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({ checks: [{ key: 'b', revision: 1 }], mutations: [{ type: 'delete', key: 'a' }] }),
    ],
    allowed: entryUsers(412, null),
  },
  {
    name: 'watch',
    request: () => ['GET', '/v1/stores/orders/watch?updatesOnly=true'],
    allowed: entryUsers(200),
  },
  {
    name: 'sign a record URL',
    request: () => [
      'POST',
      '/v1/stores/orders/signed-urls',
      json({ kind: 'record', key: 'a', expiresInSecs: 60 }),
    ],
    allowed: entryUsers(200),
  },
  {
    name: 'sign a record URL out of scope',
    request: () => [
      'POST',
      '/v1/stores/orders/signed-urls',
      json({ kind: 'record', key: 'b', expiresInSecs: 60 }),
    ],
    allowed: entryUsers(200, null),
  },
  {
    name: 'sign a keys URL',
    request: () => ['POST', '/v1/stores/orders/signed-urls', json({ kind: 'keys', expiresInSecs: 60 })],
    allowed: entryUsers(200),
  },
  // Tokens: kv.admin:tokens.
  { name: 'list tokens', request: () => ['GET', '/v1/tokens'], allowed: adminOnly(200, ['tokens']) },
  {
    name: 'create token',
    request: () => ['POST', '/v1/tokens', json({ capabilities: ['kv:get'] })],
    allowed: adminOnly(201, ['tokens']),
  },
  {
    name: 'revoke token',
    request: () => ['DELETE', '/v1/tokens/tok_nope'],
    allowed: adminOnly(200, ['tokens']),
  },
];

describe('capability matrix: every route x every kind of token', () => {
  describe.each(CASES)('$name', (c) => {
    it.each([...WHO, 'none' as const])('as %s', async (who) => {
      const h = await authSetup();
      const [method, path, init] = c.request(h.ids);
      const res = await h.as(who, method, path, init);
      const expected = who === 'none' ? 401 : (c.allowed[who] ?? 403);
      const stream = method === 'HEAD' || res.headers.get('content-type')?.includes('event-stream');
      const body = stream ? '' : await res.text();
      if (stream) await res.body?.cancel();
      expect(res.status, `${who}: ${method} ${path} ${body.slice(0, 300)}`).toBe(expected);
      if (expected === 401) expect(res.headers.get('kv-error-code')).toBe('unauthenticated');
      if (expected === 403) expect(res.headers.get('kv-error-code')).toBe('forbidden');
    });
  });
});

/**
 * Single-action capabilities: each route is allowed with exactly its capability (in every store form:
 * `kv:x`, `kv[orders]:x`, `kv[*]:x`, and the scoped `kv[orders:*]:x`, `kv[*:billing]:x`,
 * `kv[orders:billing]:x`, where the addressed entry `a` is in `billing`) and 403 with a neighbouring one
 * (get vs exists, delete vs purge, list vs find...), with the same action on another store, or, for a
 * single entry, with a scope the entry is not in.
 */
interface ActionCase {
  name: string;
  request: (ids: Record<string, string>) => [string, string, CallInit?];
  /** Success status. */
  status: number;
  /** Capability sets (one token each) that are allowed. */
  allow: Array<string | string[]>;
  /** Capability sets that get 403. */
  deny: Array<string | string[]>;
}

/** Every store form of entry action `a` that reaches entry `a` of `orders` (scope billing). */
const reach = (a: string): string[] => [
  `kv:${a}`,
  `kv[orders]:${a}`,
  `kv[*]:${a}`,
  `kv[orders:*]:${a}`,
  `kv[*:billing]:${a}`,
  `kv[orders:billing]:${a}`,
];
/** Forms of action `a` that miss the store `orders`. */
const otherStore = (a: string): string[] => [`kv[users]:${a}`, `kv[users:billing]:${a}`];
/** Forms of action `a` on `orders` that miss entry `a` by scope (single reads and writes are 403). */
const otherScope = (a: string): string[] => [`kv[orders:ops]:${a}`, `kv[*:ops]:${a}`];
/** The same action in other namespaces or as neighbours: `kv[orders]:n` and `kv:n` for each. */
const neighbours = (...actions: string[]): string[] => actions.flatMap((n) => [`kv[orders]:${n}`, `kv:${n}`]);

const SET_A = (): CallInit => text('new', 'billing');
/** A `sign` capability with the read capability of the same reach (`kv[orders]:sign` -> `kv[orders]:get`). */
function alsoRead(action: 'get' | 'list'): (sign: string) => string[] {
  return (sign) => [sign, sign.replace(/:sign$/, `:${action}`)];
}

const ACTION_CASES: ActionCase[] = [
  {
    name: 'GET entry: get',
    request: () => ['GET', entryPath('orders', 'a')],
    status: 200,
    allow: reach('get'),
    deny: [...neighbours('exists', 'history', 'list', 'set'), ...otherStore('get'), ...otherScope('get')],
  },
  {
    name: 'HEAD entry: exists or get',
    request: () => ['HEAD', entryPath('orders', 'a')],
    status: 200,
    allow: [...reach('exists'), 'kv[orders]:get', 'kv[*:billing]:get'],
    deny: [...neighbours('history', 'list', 'set'), ...otherStore('exists'), ...otherScope('exists')],
  },
  {
    name: 'PUT entry: set',
    request: () => ['PUT', entryPath('orders', 'a'), SET_A()],
    status: 200,
    allow: reach('set'),
    deny: [...neighbours('set_expiry', 'delete', 'get'), ...otherStore('set'), ...otherScope('set')],
  },
  {
    name: 'PUT expiry: set_expiry',
    request: () => ['PUT', `${entryPath('orders', 'a')}/expiry`, json({ expiresAt: null })],
    status: 200,
    allow: reach('set_expiry'),
    deny: [...neighbours('set', 'delete'), ...otherStore('set_expiry'), ...otherScope('set_expiry')],
  },
  {
    name: 'DELETE entry: delete',
    request: () => ['DELETE', entryPath('orders', 'a')],
    status: 200,
    allow: reach('delete'),
    deny: [...neighbours('purge', 'set'), ...otherStore('delete'), ...otherScope('delete')],
  },
  {
    name: 'DELETE entry ?purge=true: purge',
    request: () => ['DELETE', `${entryPath('orders', 'a')}?purge=true`],
    status: 200,
    allow: reach('purge'),
    deny: [...neighbours('delete', 'set'), ...otherStore('purge'), ...otherScope('purge')],
  },
  {
    name: 'GET history: history',
    request: () => ['GET', `${entryPath('orders', 'a')}/history`],
    status: 200,
    allow: reach('history'),
    deny: [...neighbours('get', 'list'), ...otherStore('history'), ...otherScope('history')],
  },
  {
    name: 'GET by id: kv.meta:id_ops and get',
    request: (ids) => ['GET', `/v1/stores/orders/ids/${ids.a}`],
    status: 200,
    allow: [
      ['kv.meta:id_ops', 'kv:get'],
      ['kv.meta[orders]:id_ops', 'kv[orders]:get'],
      ['kv.meta[*]:id_ops', 'kv[*:billing]:get'],
      ['kv.meta:*', 'kv[orders:billing]:get'],
    ],
    deny: [
      'kv.meta:id_ops',
      'kv:get',
      ['kv.meta:id_ops', 'kv:exists'],
      ['kv.meta:keys', 'kv:get'],
      ['kv.meta:list_scopes', 'kv:get'],
      ['kv.meta[users]:id_ops', 'kv:get'],
      ['kv.meta:id_ops', 'kv[orders:ops]:get'],
    ],
  },
  {
    name: 'HEAD by id: kv.meta:id_ops and exists (or get)',
    request: (ids) => ['HEAD', `/v1/stores/orders/ids/${ids.a}`],
    status: 200,
    allow: [
      ['kv.meta:id_ops', 'kv:exists'],
      ['kv.meta[orders]:id_ops', 'kv[orders:billing]:get'],
    ],
    deny: ['kv.meta:id_ops', ['kv.meta:id_ops', 'kv:set'], ['kv.meta:keys', 'kv:exists']],
  },
  {
    name: 'GET entries: list',
    request: () => ['GET', '/v1/stores/orders/entries'],
    status: 200,
    // A listing is filtered, not failed: any scope form is allowed.
    allow: [...reach('list'), 'kv[orders:ops]:list'],
    deny: [...neighbours('find', 'get', 'watch'), 'kv.meta[orders]:keys', ...otherStore('list')],
  },
  {
    name: 'GET entries ?like: find',
    request: () => ['GET', '/v1/stores/orders/entries?like=a%25'],
    status: 200,
    allow: [...reach('find'), 'kv[orders:ops]:find'],
    deny: [...neighbours('list', 'get'), 'kv.meta[orders]:keys', ...otherStore('find')],
  },
  {
    name: 'GET entries ?match: find',
    request: () => ['GET', '/v1/stores/orders/entries?match=*'],
    status: 200,
    allow: ['kv:find', 'kv[orders]:find', 'kv[*:billing]:find'],
    deny: [...neighbours('list'), ...otherStore('find')],
  },
  {
    name: 'GET entries ?scope: list or kv.meta:keys',
    request: () => ['GET', '/v1/stores/orders/entries?scope=ops'],
    status: 200,
    allow: [
      ...reach('list'),
      'kv.meta:keys',
      'kv.meta[orders]:keys',
      'kv.meta[*]:keys',
      'kv.meta[orders:ops]:keys',
      'kv.meta[*:ops]:keys',
    ],
    deny: [
      ...neighbours('find', 'get'),
      'kv.meta[orders]:list_scopes',
      'kv.meta[orders]:id_ops',
      'kv.meta[users]:keys',
      ...otherStore('list'),
    ],
  },
  {
    name: 'GET entries ?scope&values=true: list only',
    request: () => ['GET', '/v1/stores/orders/entries?scope=ops&values=true'],
    status: 200,
    allow: reach('list'),
    deny: ['kv.meta:keys', 'kv.meta[orders]:keys', 'kv.meta[orders:ops]:keys', ...neighbours('find')],
  },
  {
    name: 'GET scopes: kv.meta:list_scopes',
    request: () => ['GET', '/v1/stores/orders/scopes'],
    status: 200,
    allow: ['kv.meta:list_scopes', 'kv.meta[orders]:list_scopes', 'kv.meta[*]:list_scopes', 'kv.meta:*'],
    deny: [
      'kv.meta[orders]:keys',
      'kv.meta[orders]:id_ops',
      'kv.meta[users]:list_scopes',
      ...neighbours('list', 'get'),
      'kv[orders]:*',
    ],
  },
  {
    name: 'POST bulk/get: get',
    request: () => ['POST', '/v1/stores/orders/bulk/get', json({ keys: ['a', 'b'] })],
    status: 200,
    allow: [...reach('get'), 'kv[orders:ops]:get'],
    deny: [...neighbours('exists', 'list'), ...otherStore('get')],
  },
  {
    name: 'POST bulk/set: set',
    request: () => [
      'POST',
      '/v1/stores/orders/bulk/set',
      json({ items: [{ key: 'a', value: 'eA==', scopes: ['billing'] }] }),
    ],
    status: 200,
    allow: reach('set'),
    deny: [...neighbours('set_expiry', 'delete'), ...otherStore('set')],
  },
  {
    name: 'POST bulk/delete: delete',
    request: () => ['POST', '/v1/stores/orders/bulk/delete', json({ keys: ['a'] })],
    status: 200,
    allow: reach('delete'),
    deny: [...neighbours('purge', 'set'), ...otherStore('delete')],
  },
  {
    name: 'POST atomic set: set',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({ mutations: [{ type: 'set', key: 'a', value: 'eA==', scopes: ['billing'] }] }),
    ],
    status: 200,
    allow: reach('set'),
    deny: [...neighbours('delete', 'get'), ...otherStore('set'), ...otherScope('set')],
  },
  {
    name: 'POST atomic delete: delete',
    request: () => ['POST', '/v1/stores/orders/atomic', json({ mutations: [{ type: 'delete', key: 'a' }] })],
    status: 200,
    allow: reach('delete'),
    deny: [...neighbours('purge', 'set'), ...otherStore('delete'), ...otherScope('delete')],
  },
  {
    name: 'POST atomic check + set: get and set',
    request: () => [
      'POST',
      '/v1/stores/orders/atomic',
      json({
        checks: [{ key: 'a', revision: 1 }],
        mutations: [{ type: 'set', key: 'n', value: 'eA==', scopes: ['billing'] }],
      }),
    ],
    status: 200,
    allow: [
      ['kv:get', 'kv:set'],
      ['kv[orders:billing]:get', 'kv[orders:billing]:set'],
    ],
    deny: ['kv:set', 'kv:get', ['kv:exists', 'kv:set'], ['kv[orders:ops]:get', 'kv:set']],
  },
  {
    name: 'GET watch: watch',
    request: () => ['GET', '/v1/stores/orders/watch?updatesOnly=true'],
    status: 200,
    allow: [...reach('watch'), 'kv[orders:ops]:watch'],
    deny: [...neighbours('list', 'get', 'history'), ...otherStore('watch')],
  },
  {
    name: 'POST signed-urls (record): sign',
    request: () => [
      'POST',
      '/v1/stores/orders/signed-urls',
      json({ kind: 'record', key: 'a', expiresInSecs: 60 }),
    ],
    status: 200,
    // Signing reaches only what the signer may read: sign with get, in the same reach.
    allow: reach('sign').map(alsoRead('get')),
    deny: [...neighbours('get', 'list'), ...otherStore('sign'), ...otherScope('sign'), ...reach('sign')],
  },
  {
    name: 'POST signed-urls (keys): sign',
    request: () => ['POST', '/v1/stores/orders/signed-urls', json({ kind: 'keys', expiresInSecs: 60 })],
    status: 200,
    // A keys URL needs list as well as sign (a scoped list binds the URL to its scopes).
    allow: [...reach('sign'), 'kv[orders:ops]:sign'].map(alsoRead('list')),
    deny: [
      ...neighbours('get', 'list'),
      ...otherStore('sign'),
      ...reach('sign'),
      ['kv[orders]:sign', 'kv:get'],
    ],
  },
  {
    name: 'GET stores: kv.admin:stores',
    request: () => ['GET', '/v1/stores'],
    status: 200,
    allow: ['kv.admin:stores', 'kv.admin:*'],
    deny: ['kv.admin:tokens', 'kv:list', 'kv[*]:*', 'kv.meta:*'],
  },
  {
    name: 'POST stores: kv.admin:stores',
    request: () => ['POST', '/v1/stores', json({ name: 'fresh' })],
    status: 201,
    allow: ['kv.admin:stores', 'kv.admin:*'],
    deny: ['kv.admin:tokens', 'kv:set', 'kv[*]:*'],
  },
  {
    name: 'GET store: kv.admin:stores or any capability on it',
    request: () => ['GET', '/v1/stores/orders'],
    status: 200,
    allow: [
      'kv.admin:stores',
      'kv[orders]:exists',
      'kv[orders:ops]:list',
      'kv.meta[orders]:keys',
      'kv:get',
      'kv[*]:sign',
    ],
    deny: ['kv.admin:tokens', 'kv[users]:get', 'kv.meta[users]:keys'],
  },
  {
    name: 'PATCH store: kv.admin:stores',
    request: () => ['PATCH', '/v1/stores/orders', json({ history: 2 })],
    status: 200,
    allow: ['kv.admin:stores'],
    deny: ['kv.admin:tokens', 'kv[orders]:*', 'kv.meta[orders]:*'],
  },
  {
    name: 'DELETE store: kv.admin:stores',
    request: () => ['DELETE', '/v1/stores/orders'],
    status: 200,
    allow: ['kv.admin:stores'],
    deny: ['kv.admin:tokens', 'kv[orders]:*', 'kv[orders]:purge'],
  },
  {
    name: 'POST signing-secret: kv.admin:stores',
    request: () => ['POST', '/v1/stores/orders/signing-secret'],
    status: 200,
    allow: ['kv.admin:stores'],
    deny: ['kv.admin:tokens', 'kv[orders]:sign', 'kv[orders]:*'],
  },
  {
    name: 'GET tokens: kv.admin:tokens',
    request: () => ['GET', '/v1/tokens'],
    status: 200,
    allow: ['kv.admin:tokens', 'kv.admin:*'],
    deny: ['kv.admin:stores', 'kv:*', 'kv.meta:*'],
  },
  {
    name: 'POST tokens: kv.admin:tokens',
    request: () => ['POST', '/v1/tokens', json({ capabilities: ['kv:get'] })],
    status: 201,
    allow: ['kv.admin:tokens'],
    deny: ['kv.admin:stores', 'kv:*'],
  },
  {
    name: 'DELETE token: kv.admin:tokens',
    request: () => ['DELETE', '/v1/tokens/tok_nope'],
    status: 200,
    allow: ['kv.admin:tokens'],
    deny: ['kv.admin:stores', 'kv:*'],
  },
];

describe('capability matrix: every route x single-action and wildcard-store capabilities', () => {
  const rows = ACTION_CASES.flatMap((c) => [
    ...c.allow.map((caps) => ({ c, caps: [caps].flat(), expected: c.status })),
    ...c.deny.map((caps) => ({ c, caps: [caps].flat(), expected: 403 })),
  ]);
  it.each(rows.map((r) => [r.c.name, r.caps.join(' '), r.expected, r] as const))(
    '%s with %s: %i',
    async (_name, _caps, expected, { c, caps }) => {
      const h = await authSetup();
      const secret = 'single-action-secret-0123456789';
      await ensureToken(h.tokens, { secret, capabilities: caps }, h.now());
      const [method, path, init = {}] = c.request(h.ids);
      const res = await h.call(method, path, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${secret}` },
      });
      const stream = method === 'HEAD' || res.headers.get('content-type')?.includes('event-stream');
      const body = stream ? '' : await res.text();
      if (stream) await res.body?.cancel();
      expect(res.status, `${caps.join(' ')}: ${method} ${path} ${body.slice(0, 300)}`).toBe(expected);
      if (expected === 403) expect(res.headers.get('kv-error-code')).toBe('forbidden');
    },
  );

  it('covers every route of the engine', () => {
    const routes = new Set(
      ACTION_CASES.map((c) => {
        const [method, path] = c.request({ a: 'ID' });
        return `${method} ${path.split('?')[0]}`;
      }),
    );
    for (const route of [
      'GET /v1/stores',
      'POST /v1/stores',
      'GET /v1/stores/orders',
      'PATCH /v1/stores/orders',
      'DELETE /v1/stores/orders',
      'POST /v1/stores/orders/signing-secret',
      'GET /v1/stores/orders/entries/a',
      'HEAD /v1/stores/orders/entries/a',
      'PUT /v1/stores/orders/entries/a',
      'DELETE /v1/stores/orders/entries/a',
      'PUT /v1/stores/orders/entries/a/expiry',
      'GET /v1/stores/orders/entries/a/history',
      'GET /v1/stores/orders/ids/ID',
      'HEAD /v1/stores/orders/ids/ID',
      'GET /v1/stores/orders/entries',
      'GET /v1/stores/orders/scopes',
      'POST /v1/stores/orders/bulk/get',
      'POST /v1/stores/orders/bulk/set',
      'POST /v1/stores/orders/bulk/delete',
      'POST /v1/stores/orders/atomic',
      'GET /v1/stores/orders/watch',
      'POST /v1/stores/orders/signed-urls',
      'GET /v1/tokens',
      'POST /v1/tokens',
      'DELETE /v1/tokens/tok_nope',
    ]) {
      expect(routes.has(route), route).toBe(true);
    }
  });
});

describe('by id: kv.meta:id_ops and get on the entry', () => {
  it('needs both; a scoped get makes a missing id the same 403 as an id out of scope', async () => {
    const h = await authSetup();
    const admin = h.auth('admin');
    const mk = async (caps: string[]): Promise<string> => {
      const res = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
        json: { capabilities: caps },
        headers: admin,
      });
      return res.token;
    };
    const both = await mk(['kv.meta[orders]:id_ops', 'kv[orders]:get']);
    const scoped = await mk(['kv.meta[orders]:id_ops', 'kv[orders:billing]:get']);
    const idOnly = await mk(['kv.meta[orders]:id_ops']);
    const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
    const res = await h.call('GET', `/v1/stores/orders/ids/${h.ids.a}`, bearer(both));
    expect(res.status).toBe(200);
    expect(res.headers.get('kv-key')).toBe('a');
    await h.error('GET', '/v1/stores/orders/ids/nope', 404, 'key_not_found', bearer(both));
    await h.error('GET', `/v1/stores/orders/ids/${h.ids.a}`, 403, 'forbidden', bearer(idOnly));
    expect((await h.call('GET', `/v1/stores/orders/ids/${h.ids.a}`, bearer(scoped))).status).toBe(200);
    const out = await h.error('GET', `/v1/stores/orders/ids/${h.ids.b}`, 403, 'forbidden', bearer(scoped));
    const missing = await h.error('GET', '/v1/stores/orders/ids/nope', 403, 'forbidden', bearer(scoped));
    expect(missing).toEqual(out);
  });
});

describe('scoped tokens', () => {
  it('a missing key is the same 403, with the same body, as a key out of scope (GET and HEAD)', async () => {
    const h = await authSetup();
    const out = await h.as('scoped', 'GET', entryPath('orders', 'b'));
    const missing = await h.as('scoped', 'GET', entryPath('orders', 'never-written'));
    expect(out.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(await missing.text()).toBe(await out.text());
    const headOut = await h.as('scoped', 'HEAD', entryPath('orders', 'b'));
    const headMissing = await h.as('scoped', 'HEAD', entryPath('orders', 'never-written'));
    expect([headOut.status, headMissing.status]).toEqual([403, 403]);
    expect(headMissing.headers.get('kv-error-code')).toBe(headOut.headers.get('kv-error-code'));
    // History and signing follow the same rule.
    const hOut = await h.as('scoped', 'GET', `${entryPath('orders', 'b')}/history`);
    const hMissing = await h.as('scoped', 'GET', `${entryPath('orders', 'never')}/history`);
    expect(await hMissing.text()).toBe(await hOut.text());
    const sign = (key: string) =>
      h.as('scoped', 'POST', '/v1/stores/orders/signed-urls', {
        json: { kind: 'record', key, expiresInSecs: 9 },
      });
    expect(await (await sign('never')).text()).toBe(await (await sign('b')).text());
  });

  it('listings are filtered, not failed, and pages stay full', async () => {
    const h = await authSetup();
    const admin = h.auth('admin');
    for (let i = 0; i < 30; i++) {
      await h.put('orders', `k${String(i).padStart(2, '0')}`, 'v', {
        ...admin,
        'kv-scopes': i % 3 === 0 ? 'billing' : 'ops',
      });
    }
    const keysOf = async (who: Who, query: string): Promise<string[]> => {
      const keys: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const q = `${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`;
        const page = await h.json<{
          items: Array<{ key: string; scopes: string[] }>;
          cursor?: string;
          complete: boolean;
        }>('GET', `/v1/stores/orders/entries?${q}`, 200, { headers: h.auth(who) });
        for (const item of page.items) keys.push(item.key);
        if (page.complete) return keys;
        cursor = page.cursor;
      }
    };
    const visible = [
      'a',
      'c',
      ...Array.from({ length: 10 }, (_, i) => `k${String(i * 3).padStart(2, '0')}`),
    ].sort();
    expect(await keysOf('scoped', 'limit=3')).toEqual(visible);
    expect(await keysOf('scoped', 'limit=1000&values=true')).toEqual(visible);
    expect(await keysOf('scoped', 'like=k%25')).toEqual(visible.filter((k) => k.startsWith('k')));
    expect(await keysOf('scoped', 'match=*')).toEqual(visible);
    // A scope filter outside the grant lists only entries that are also in a granted scope.
    expect(await keysOf('scoped', 'scope=ops')).toEqual(['c']);
    expect((await keysOf('store', 'limit=1000')).length).toBe(34);
    const page = await h.json<{ items: unknown[] }>('GET', '/v1/stores/orders/entries?limit=5', 200, {
      headers: h.auth('scoped'),
    });
    expect(page.items).toHaveLength(5);
  });

  it('kv.meta[store:scope]:keys lists the keys of that scope only, without values', async () => {
    const h = await authSetup();
    const { token } = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv.meta[orders:ops]:keys'] },
      headers: h.auth('admin'),
    });
    const headers = { authorization: `Bearer ${token}` };
    const page = await h.json<{ items: Array<{ key: string }> }>(
      'GET',
      '/v1/stores/orders/entries?scope=ops',
      200,
      {
        headers,
      },
    );
    expect(page.items.map((i) => i.key)).toEqual(['b', 'c']);
    const other = await h.json<{ items: unknown[] }>('GET', '/v1/stores/orders/entries?scope=billing', 200, {
      headers,
    });
    // Entries of scope billing that are also in ops are the ones this grant reaches.
    expect(other.items).toEqual([expect.objectContaining({ key: 'c' })]);
    await h.error('GET', '/v1/stores/orders/entries?scope=ops&values=true', 403, 'forbidden', { headers });
    await h.error('GET', '/v1/stores/orders/entries', 403, 'forbidden', { headers });
  });

  it('bulk get reports entries out of scope as not found', async () => {
    const h = await authSetup();
    const res = await h.json<{ items: Array<{ key: string; found: boolean }> }>(
      'POST',
      '/v1/stores/orders/bulk/get',
      200,
      { json: { keys: ['a', 'b', 'c', 'd', 'zz'] }, headers: h.auth('scoped') },
    );
    expect(res.items.map((i) => [i.key, i.found])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
      ['d', false],
      ['zz', false],
    ]);
    expect(res.items[1]).toEqual({ key: 'b', found: false });
  });

  it('bulk set and delete: per-item forbidden errors, the other items are written', async () => {
    const h = await authSetup();
    const headers = h.auth('scoped');
    const set = await h.json<{
      results: Array<{ key: string; ok: boolean; error?: string; created?: boolean }>;
      successfulKeyCount: number;
      unsuccessfulKeys: string[];
    }>('POST', '/v1/stores/orders/bulk/set', 200, {
      headers,
      json: {
        items: [
          { key: 'a', value: 'MQ==', scopes: ['billing'] },
          { key: 'b', value: 'Mg==', scopes: ['billing'] },
          { key: 'new1', value: 'Mw==', scopes: ['billing', 'ops'] },
          { key: 'new2', value: 'NA==', scopes: ['billing'] },
          { key: 'new2', value: 'NQ==', scopes: ['billing'], ifRevision: 1 },
          { key: 'new3', value: 'Ng==' },
          { key: 'a', value: 'Nw==', scopes: ['billing'], ifNotExists: true },
        ],
      },
    });
    expect(set.results.map((r) => [r.key, r.ok, r.error ?? r.created])).toEqual([
      ['a', true, false],
      ['b', false, 'forbidden'],
      ['new1', false, 'forbidden'],
      ['new2', true, true],
      ['new2', false, 'revision_mismatch'],
      ['new3', false, 'forbidden'],
      ['a', true, false],
    ]);
    expect(set.unsuccessfulKeys).toEqual(['b', 'new1', 'new2', 'new3']);
    const admin = h.auth('admin');
    expect(await (await h.call('GET', entryPath('orders', 'a'), { headers: admin })).text()).toBe('1');
    expect(await (await h.call('GET', entryPath('orders', 'b'), { headers: admin })).text()).toBe(
      'value of b',
    );
    await h.error('GET', entryPath('orders', 'new1'), 404, 'key_not_found', { headers: admin });
    const del = await h.json<{
      results: Array<{ key: string; ok: boolean; error?: string; created?: boolean }>;
    }>('POST', '/v1/stores/orders/bulk/delete', 200, { headers, json: { keys: ['a', 'b', 'c', 'zz'] } });
    expect(del.results.map((r) => [r.key, r.ok, r.error ?? r.created])).toEqual([
      ['a', true, true],
      ['b', false, 'forbidden'],
      ['c', false, 'forbidden'],
      ['zz', true, false],
    ]);
  });

  it('a write checks the entry it replaces at the revision it writes over (no overwrite after a scope change)', async () => {
    const h = await authSetup();
    const admin = h.auth('admin');
    // Another writer moves `a` out of billing between the scoped caller's check and its commit.
    const original = h.storage.transaction.bind(h.storage);
    let raced = false;
    // The next transaction is the scoped caller's put of `a`: the other writer commits just before it.
    h.storage.transaction = async <T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T> => {
      if (!raced) {
        raced = true;
        await original(store, (tx) =>
          applyCommit(tx, {
            mode: 'each',
            nowMs: h.now(),
            mutations: [
              {
                type: 'put',
                key: 'a',
                value: new TextEncoder().encode('moved'),
                contentType: 'text/plain',
                metadata: null,
                scopes: ['ops'],
                expiresAt: null,
                resume: false,
                newId: 'x',
              },
            ],
          }),
        );
      }
      return original(store, fn);
    };
    await h.error('PUT', entryPath('orders', 'a'), 403, 'forbidden', {
      ...text('mine', 'billing'),
      headers: { ...h.auth('scoped'), 'content-type': 'text/plain', 'kv-scopes': 'billing' },
    });
    expect(raced).toBe(true);
    expect(await (await h.call('GET', entryPath('orders', 'a'), { headers: admin })).text()).toBe('moved');
  });

  it('preconditions keep their answers: If-None-Match, If-Match, Kv-If-Not-Exists', async () => {
    const h = await authSetup();
    const headers = { ...h.auth('scoped'), 'content-type': 'text/plain', 'kv-scopes': 'billing' };
    await h.error('PUT', entryPath('orders', 'a'), 412, 'key_exists', {
      body: 'x',
      headers: { ...headers, 'if-none-match': '*' },
    });
    const mismatch = await h.error('PUT', entryPath('orders', 'a'), 412, 'revision_mismatch', {
      body: 'x',
      headers: { ...headers, 'if-match': '"999"' },
    });
    expect(mismatch.error.details).toMatchObject({ currentRevision: 1, expectedRevision: 999 });
    const kept = await h.json<{ created: boolean; revision: number }>('PUT', entryPath('orders', 'a'), 200, {
      body: 'x',
      headers: { ...headers, 'kv-if-not-exists': 'true' },
    });
    expect(kept).toMatchObject({ created: false, revision: 1 });
    const ok = await h.json<{ revision: number }>('PUT', entryPath('orders', 'a'), 200, {
      body: 'x',
      headers: { ...headers, 'if-match': '"1"' },
    });
    expect(ok.revision).toBe(5);
    await h.error('DELETE', entryPath('orders', 'a'), 412, 'revision_mismatch', {
      headers: { ...h.auth('scoped'), 'if-match': '"1"' },
    });
    expect(await h.json('DELETE', entryPath('orders', 'zz'), 200, { headers: h.auth('scoped') })).toEqual({
      deleted: false,
    });
  });

  it('purge needs every revision in the history in scope', async () => {
    const h = await authSetup();
    // `a` was in ops before it moved to billing: its history holds an ops revision.
    const admin = { ...h.auth('admin'), 'content-type': 'text/plain' };
    await h.call('PUT', entryPath('orders', 'p'), { body: '1', headers: { ...admin, 'kv-scopes': 'ops' } });
    await h.call('PUT', entryPath('orders', 'p'), {
      body: '2',
      headers: { ...admin, 'kv-scopes': 'billing' },
    });
    expect(
      await h.json('DELETE', entryPath('orders', 'p'), 200, { headers: h.auth('scoped') }),
    ).toMatchObject({
      deleted: true,
    });
    await h.error('DELETE', `${entryPath('orders', 'p')}?purge=true`, 403, 'forbidden', {
      headers: h.auth('scoped'),
    });
    // The history shows the billing revisions only.
    const history = await h.json<{ items: Array<{ operation: string; scopes: string[] }> }>(
      'GET',
      `${entryPath('orders', 'p')}/history`,
      200,
      { headers: h.auth('scoped') },
    );
    expect(history.items.map((i) => [i.operation, i.scopes])).toEqual([
      ['delete', ['billing']],
      ['put', ['billing']],
    ]);
  });

  it('atomic: checks need get on the checked entry; a failed check is still 412 with failedKeys', async () => {
    const h = await authSetup();
    const headers = h.auth('scoped');
    const failed = await h.error('POST', '/v1/stores/orders/atomic', 412, 'revision_mismatch', {
      headers,
      json: { checks: [{ key: 'a', revision: 99 }], mutations: [{ type: 'delete', key: 'a' }] },
    });
    expect(failed.error.details).toEqual({ failedKeys: ['a'] });
    const ok = await h.json<{ ok: boolean }>('POST', '/v1/stores/orders/atomic', 200, {
      headers,
      json: {
        checks: [
          { key: 'a', revision: 1 },
          { key: 'fresh', revision: null },
        ],
        mutations: [
          { type: 'set', key: 'fresh', value: 'eA==', scopes: ['billing'] },
          { type: 'delete', key: 'a' },
        ],
      },
    });
    expect(ok.ok).toBe(true);
    await h.error('POST', '/v1/stores/orders/atomic', 403, 'forbidden', {
      headers,
      json: { mutations: [{ type: 'set', key: 'x', value: 'eA==', scopes: ['ops'] }] },
    });
    const { token } = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv[orders]:set'] },
      headers: h.auth('admin'),
    });
    // set alone cannot check (checks reveal revisions): get is needed too.
    await h.error('POST', '/v1/stores/orders/atomic', 403, 'forbidden', {
      headers: { authorization: `Bearer ${token}` },
      json: { checks: [{ key: 'b', revision: 2 }], mutations: [{ type: 'set', key: 'x', value: 'eA==' }] },
    });
  });

  it('watch delivers only the events of entries in scope', async () => {
    const h = await authSetup();
    const controller = new AbortController();
    const res = await h.as('scoped', 'GET', '/v1/stores/orders/watch', { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let textSoFar = '';
    const readUntil = async (done: () => boolean): Promise<void> => {
      while (!done()) {
        const chunk = await reader.read();
        if (chunk.done) return;
        textSoFar += decoder.decode(chunk.value);
      }
    };
    // The initial values (the entries in scope), then `ready`.
    await readUntil(() => textSoFar.includes('event: ready'));
    const admin = { ...h.auth('admin'), 'content-type': 'text/plain' };
    await h.call('PUT', entryPath('orders', 'w1'), { body: '1', headers: { ...admin, 'kv-scopes': 'ops' } });
    await h.call('PUT', entryPath('orders', 'w2'), {
      body: '2',
      headers: { ...admin, 'kv-scopes': 'billing' },
    });
    await h.call('DELETE', entryPath('orders', 'b'), { headers: admin });
    await h.call('DELETE', entryPath('orders', 'a'), { headers: admin });
    await readUntil(() => textSoFar.includes('event: delete'));
    controller.abort();
    await reader.cancel().catch(() => {});
    const seen = textSoFar
      .split('\n\n')
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)?.[1],
        data: /^data: (.*)$/m.exec(block)?.[1],
      }))
      .filter((e) => e.event !== undefined && e.event !== 'ready')
      .map((e) => [e.event, (JSON.parse(e.data as string) as { key: string }).key]);
    expect(seen).toEqual([
      ['put', 'a'],
      ['put', 'c'],
      ['put', 'w2'],
      ['delete', 'a'],
    ]);
  });
});

describe('tokens', () => {
  it('create (secret once, hash only), list (no secrets), revoke; malformed capabilities are 400', async () => {
    const h = await authSetup();
    const admin = h.auth('admin');
    const created = await h.json<{
      id: string;
      token: string;
      capabilities: string[];
      expiresAt: string | null;
    }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv[orders]:get'], description: 'reader' },
      headers: admin,
    });
    expect(created.token).toMatch(/^kv_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({
      capabilities: ['kv[orders]:get'],
      expiresAt: null,
      description: 'reader',
    });
    const records = await h.tokens.list();
    expect(JSON.stringify(records)).not.toContain(created.token);
    const list = await h.json<{ items: Array<Record<string, unknown>> }>('GET', '/v1/tokens', 200, {
      headers: admin,
    });
    expect(list.items.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.token);
    for (const t of list.items)
      expect(Object.keys(t).sort()).toEqual([
        'capabilities',
        'createdAt',
        'description',
        'expiresAt',
        'id',
        'rateLimit',
        'revokedAt',
      ]);
    const reader = { authorization: `Bearer ${created.token}` };
    expect((await h.call('GET', entryPath('orders', 'a'), { headers: reader })).status).toBe(200);
    expect(await h.json('DELETE', `/v1/tokens/${created.id}`, 200, { headers: admin })).toEqual({
      revoked: true,
    });
    expect(await h.json('DELETE', `/v1/tokens/${created.id}`, 200, { headers: admin })).toEqual({
      revoked: false,
    });
    // Effective on the next request.
    await h.error('GET', entryPath('orders', 'a'), 401, 'unauthenticated', { headers: reader });
    for (const capabilities of [
      ['kv:read'],
      ['kv[bad name]:get'],
      [],
      ['kv.admin[orders]:stores'],
      'kv:get',
    ]) {
      const body = await h.error('POST', '/v1/tokens', 400, 'validation_error', {
        json: { capabilities },
        headers: admin,
      });
      expect(body.error.details).toMatchObject({ field: 'capabilities' });
    }
    await h.error('POST', '/v1/tokens', 400, 'validation_error', {
      json: { capabilities: ['kv:get'], expiresAt: new Date(h.now() - 1).toISOString() },
      headers: admin,
    });
  });

  it('a watch stream ends with an unauthenticated error event once its token is revoked', async () => {
    const h = await authSetup();
    const admin = h.auth('admin');
    const created = await h.json<{ id: string; token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv[orders]:watch'] },
      headers: admin,
    });
    const res = await h.call('GET', '/v1/stores/orders/watch?updatesOnly=true', {
      headers: { authorization: `Bearer ${created.token}` },
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let all = '';
    const readUntil = async (done: () => boolean): Promise<void> => {
      while (!done()) {
        const chunk = await reader.read();
        if (chunk.done) return;
        all += decoder.decode(chunk.value);
      }
    };
    await readUntil(() => all.includes('event: ready'));
    await h.put('orders', 'before', 'v', admin);
    await readUntil(() => all.includes('"key":"before"'));
    await h.json('DELETE', `/v1/tokens/${created.id}`, 200, { headers: admin });
    await h.put('orders', 'after', 'v', admin);
    // Read to the end of the stream: it closes after the error event.
    await readUntil(() => false);
    expect(all).not.toContain('"key":"after"');
    expect(all).toMatch(/event: error\ndata: \{"error":\{"code":"unauthenticated"/);
  });

  it('expiry is effective on the next request (engine clock)', async () => {
    const h = await authSetup();
    const { token } = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv:get'], expiresAt: new Date(h.now() + 60_000).toISOString() },
      headers: h.auth('admin'),
    });
    const headers = { authorization: `Bearer ${token}` };
    expect((await h.call('GET', entryPath('orders', 'a'), { headers })).status).toBe(200);
    h.advance(59_999);
    expect((await h.call('GET', entryPath('orders', 'a'), { headers })).status).toBe(200);
    h.advance(1);
    await h.error('GET', entryPath('orders', 'a'), 401, 'unauthenticated', { headers });
  });

  it('missing, malformed, unknown, revoked and expired tokens get the same 401 message', async () => {
    const h = await authSetup();
    const revoked = await h.json<{ id: string; token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv:get'] },
      headers: h.auth('admin'),
    });
    await h.call('DELETE', `/v1/tokens/${revoked.id}`, { headers: h.auth('admin') });
    const expired = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities: ['kv:get'], expiresAt: new Date(h.now() + 1000).toISOString() },
      headers: h.auth('admin'),
    });
    h.advance(1000);
    const messages = new Set<string>();
    for (const authorization of [
      undefined,
      'Basic abc',
      'Bearer',
      'Bearer kv_unknown',
      `Bearer ${revoked.token}`,
      `Bearer ${expired.token}`,
    ]) {
      const body: WireError = await h.error('GET', '/v1/stores', 401, 'unauthenticated', {
        headers: authorization === undefined ? {} : { authorization },
      });
      messages.add(body.error.message);
      expect(JSON.stringify(body)).not.toContain('kv_unknown');
    }
    expect(messages.size).toBe(1);
  });

  it('/healthz and /openapi.json need no token; unknown /v1 routes do', async () => {
    const h = await authSetup();
    expect((await h.call('GET', '/healthz')).status).toBe(200);
    expect((await h.call('GET', '/openapi.json')).status).toBe(200);
    await h.error('GET', '/v1/nope', 401, 'unauthenticated');
    await h.error('GET', '/v1/nope', 404, 'route_not_found', { headers: h.auth('admin') });
  });

  it('idempotency records are scoped by token: the same key from another token is a new write', async () => {
    const h = await authSetup();
    const put = (who: Who) =>
      h.as(who, 'PUT', entryPath('orders', 'idem'), {
        body: 'v',
        headers: { 'content-type': 'text/plain', 'idempotency-key': 'k-1', 'if-none-match': '*' },
      });
    expect((await put('admin')).status).toBe(201);
    const replay = await put('admin');
    expect(replay.status).toBe(201);
    expect(replay.headers.get('kv-idempotent-replayed')).toBe('true');
    const other = await put('store');
    expect(other.status).toBe(412);
    expect(other.headers.get('kv-idempotent-replayed')).toBeNull();
    // A refused (403) attempt is not stored: the token gets the answer again, not a replay.
    expect((await put('other')).status).toBe(403);
  });

  it('token routes answer 501 when the engine has no token store', async () => {
    const h = setup();
    await h.error('GET', '/v1/tokens', 501, 'not_implemented');
    await h.error('POST', '/v1/tokens', 501, 'not_implemented', { json: { capabilities: ['kv:get'] } });
  });
});
