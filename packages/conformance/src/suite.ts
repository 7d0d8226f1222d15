import {
  errorFromWire,
  isKvError,
  KeyExistsError,
  type KvClient,
  LIMITS,
  NotFoundError,
  PayloadTooLargeError,
  RevisionMismatchError,
  routes,
  StoreNotFoundError,
  UnauthenticatedError,
  UnauthorizedError,
  ValidationError,
} from '@kv/core/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { counterCases } from './counters.js';
import { queueCases } from './queues.js';

/**
 * Access to an implementation that runs with access control on (docs/security.md), for the cases that
 * need a second token or a request made without a client. Required when {@link ConformanceOptions.auth}
 * is set.
 */
export interface ConformanceAuth {
  /**
   * The admin token (capability `*`) that `createClient()`'s clients send. The suite sends it on the raw
   * HTTP requests it makes to `client.url` (wire-level limits that the client enforces or splits itself).
   * @example 'test-admin-token'
   */
  adminToken: string;
  /**
   * A client of the same implementation that sends `token` instead of the admin token: a token made with
   * `client.tokens.create`, or a made-up one to check that it is refused.
   * @example (token) => createClient({ url, token, env: {} })
   */
  clientWithToken(token: string): KvClient | Promise<KvClient>;
}

/**
 * What an implementation provides to the suite. `C` is the client type `createClient` makes (`KvClient`
 * by default; `NodeKvClient` for the Node targets, whose {@link ConformanceOptions.additionalTests} use the
 * Node-only API).
 */
export interface ConformanceTarget<C extends KvClient = KvClient> {
  /** A client for the implementation under test. Called once per suite and again for concurrency cases. */
  createClient(): C | Promise<C>;
  /** Releases what the target started (servers, msw). */
  close?(): Promise<void> | void;
  /** Tokens and raw HTTP for the access-control cases; read only when {@link ConformanceOptions.auth} is set. */
  auth?: ConformanceAuth;
  /**
   * The `fetch` the suite uses for requests made without a client (signed URLs, wire-level limits), sent to
   * the client's `url`. With msw, the default `globalThis.fetch` is the intercepted one.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * Starts losing responses on `store`: each request under `/v1/stores/{store}/` reaches the
   * implementation (a write is applied) and then, with probability `lossRate`, its response is lost (the
   * client sees a network error or a 5xx and retries with the same `Idempotency-Key`). The counter cases
   * use it to check that a retried write is applied once; without it they report that case as skipped.
   */
  losingResponses?(store: string, lossRate: number): LosingResponses<C> | Promise<LosingResponses<C>>;
}

/** What {@link ConformanceTarget.losingResponses} answers. */
export interface LosingResponses<C extends KvClient = KvClient> {
  /** A client that retries enough (10 retries or more) that no call fails from the lost responses alone. */
  createClient(): C | Promise<C>;
  /** How many requests the clients of {@link LosingResponses.createClient} sent so far, retries included. */
  requests(): number;
  /** Stops losing responses. */
  stop(): void | Promise<void>;
}

/**
 * What {@link ConformanceOptions.additionalTests} gets: the suite's target and admin client (both set once
 * the suite's `beforeAll` has run, so call them inside `it`, never while registering), and the helpers
 * the suite's own cases use.
 */
export interface ConformanceContext<C extends KvClient = KvClient> {
  /** The target's client made in `beforeAll` (the admin client when the target runs with access control). */
  client(): C;
  /** The target the suite set up. */
  target(): ConformanceTarget<C>;
  /** Creates a store with a name unique to this run (`options` as `stores.create`) and returns its handle. */
  freshStore(label: string, options?: Parameters<C['stores']['create']>[1]): Promise<ReturnType<C['store']>>;
}

/** Options of {@link describeConformance}. */
export interface ConformanceOptions<C extends KvClient = KvClient> {
  /**
   * Registers cases only this target's client can run (unstorage's `testDriver` `additionalTests`): the
   * Node client's Buffer and Node-stream API, for example. Called while registering, inside the suite's
   * `describe`, after the shared cases. Cases that any `KvClient` can run belong in the suite itself.
   */
  additionalTests?: (context: ConformanceContext<C>) => void;
  /** Skip the cases that need real wall-clock waiting (TTL expiry). Never set it to hide a failure. @default false */
  noWallClock?: boolean;
  /**
   * Whether the target's client can `watch`. Every current target can (the Chromium page bridge carries
   * watch events to Node); a future bridge that cannot carry a stream would set it false, and the watch
   * cases then report as skipped, never as passed. @default true
   */
  watch?: boolean;
  /**
   * The target runs with access control on and provides {@link ConformanceTarget.auth}. Registers the
   * access-control cases (401 for an unknown or revoked token, 403 for a missing capability or scope,
   * `tokens.create`/`list`/`revoke`, signed URLs and `rotateSigningSecret`) and the wire-level bulk limit
   * cases, which send raw HTTP requests with the admin token. Without it they are reported as skipped.
   * @default false
   */
  auth?: boolean;
  /**
   * Titles of access-control cases known to fail on this target because of a bug outside the suite. They run
   * as `it.fails` (reported, and red again once the bug is fixed); a title that names no case is an error.
   * Name the bug next to the entry. Never use it to hide a failure nobody is fixing.
   * @default []
   * @example ['rotateSigningSecret invalidates every URL signed before; URLs signed after it work']
   */
  knownFailures?: string[];
}

let storeCounter = 0;
/**
 * A store name unique to this run (`c-<label>-<time>-<n>`), so cases never share state.
 * @param label - a short word naming the case; store-name characters only
 */
export function uniqueStoreName(label: string): string {
  storeCounter += 1;
  return `c-${label}-${Date.now().toString(36)}-${storeCounter}`;
}

/**
 * Awaits `promise` and expects it to reject with a kv error (`isKvError`) of class `Ctor`, and of wire
 * `code` when given (docs/protocol.md "Errors"); returns the error for further checks.
 * @throws the vitest assertion error when the promise resolves or rejects with anything else
 */
export async function expectKvError<E>(
  promise: Promise<unknown>,
  Ctor: abstract new (...a: never[]) => E,
  code?: string,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(isKvError(error), `expected a KvError, got ${String(error)}`).toBe(true);
    expect(error).toBeInstanceOf(Ctor);
    if (code !== undefined) expect((error as { code: string }).code).toBe(code);
    return error as E;
  }
  throw new Error(`expected ${Ctor.name} to be thrown`);
}

/** The Ironflow seed's wildcard table (002_3ad0a8e54de1bfec.txt, "Wildcard patterns follow NATS subject-matching rules"). */
const NATS_TABLE: Array<{ pattern: string; matches: string[]; notMatches: string[] }> = [
  { pattern: '*', matches: ['user', 'flag'], notMatches: ['user.123'] },
  { pattern: 'user.*', matches: ['user.123', 'user.456'], notMatches: ['user.123.name', 'user:123'] },
  {
    pattern: '>',
    matches: [
      'user',
      'flag',
      'user.123',
      'user.456',
      'user.123.name',
      'user.123.name.first',
      'config.flags',
      'user:123',
    ],
    notMatches: [],
  },
  {
    pattern: 'user.>',
    matches: ['user.123', 'user.456', 'user.123.name', 'user.123.name.first'],
    notMatches: ['config.flags', 'user:123', 'user', 'flag'],
  },
];

/**
 * Registers the kv behaviour suite under `describe(name)`. Every case creates its own store, so targets may
 * share one backend. Semantics: docs/protocol.md; each case names its seed.
 *
 * @param name - label of the implementation, e.g. `mock (msw + @kv/node)`
 * @param setup - creates the target once for the suite (before all cases)
 */
export function describeConformance<C extends KvClient = KvClient>(
  name: string,
  setup: () => ConformanceTarget<C> | Promise<ConformanceTarget<C>>,
  options: ConformanceOptions<C> = {},
): void {
  describe(`conformance: ${name}`, () => {
    let target: ConformanceTarget<C>;
    let kv: C;
    beforeAll(async () => {
      target = await setup();
      kv = await target.createClient();
    });
    afterAll(async () => {
      await target?.close?.();
    });

    const freshStore = async (
      label: string,
      opts: Parameters<C['stores']['create']>[1] = {},
    ): Promise<ReturnType<C['store']>> => {
      const storeName = uniqueStoreName(label);
      await kv.stores.create(storeName, opts);
      return kv.store(storeName) as ReturnType<C['store']>;
    };

    const targetAuth = (): ConformanceAuth => {
      if (!target.auth)
        throw new Error('describeConformance: `options.auth` is set but the target has no `auth`');
      return target.auth;
    };
    /**
     * A request made without a client (plain `fetch`, so never retried), to `client.url`; `admin` adds the
     * admin token, `token` another one.
     */
    const rawFetch = (
      path: string,
      init: { method?: string; json?: unknown; admin?: boolean; token?: string } = {},
    ) => {
      const headers: Record<string, string> = {};
      if (init.admin) headers.authorization = `Bearer ${targetAuth().adminToken}`;
      if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
      const request: RequestInit = { method: init.method ?? 'GET', headers };
      if (init.json !== undefined) {
        headers['content-type'] = 'application/json';
        request.body = JSON.stringify(init.json);
      }
      const url = path.startsWith('http') ? path : kv.url + path;
      return (target.fetch ?? globalThis.fetch)(url, request);
    };
    /** The kv error a raw response carries, read as the clients read it. */
    const wireError = async (response: Response) =>
      errorFromWire(response.status, await response.json().catch(() => undefined));

    describe('stores', () => {
      it('create, get with stats, list, update, delete', async () => {
        const storeName = uniqueStoreName('crud');
        const created = await kv.stores.create(storeName, { history: 3 });
        expect(created).toMatchObject({
          name: storeName,
          history: 3,
          keyCount: 0,
          totalBytes: 0,
          revision: 0,
          defaultTtlMs: null,
        });
        await kv.store(storeName).set('a', 'hello');
        const info = await kv.stores.get(storeName);
        expect(info).toMatchObject({ name: storeName, keyCount: 1, totalBytes: 5, revision: 1 });
        expect((await kv.stores.list()).map((s) => s.name)).toContain(storeName);
        expect(await kv.stores.update(storeName, { history: 5, defaultTtlMs: 60_000 })).toMatchObject({
          history: 5,
          defaultTtlMs: 60_000,
        });
        expect(await kv.stores.delete(storeName)).toBe(true);
        expect(await kv.stores.get(storeName)).toBeUndefined();
        expect(await kv.stores.delete(storeName)).toBe(false);
      });

      it('a duplicate store is KeyExistsError store_exists; a bad name is ValidationError; a missing store is StoreNotFoundError', async () => {
        const s = await freshStore('dup');
        await expectKvError(kv.stores.create(s.name), KeyExistsError, 'store_exists');
        await expectKvError(kv.stores.create('bad name!'), ValidationError);
        // Checked by the client before sending: a bad name or setting never reaches the server.
        expect(() => kv.store('no spaces')).toThrow(ValidationError);
        expect(() => kv.store('x'.repeat(65))).toThrow(ValidationError);
        await expectKvError(kv.stores.create(uniqueStoreName('h'), { history: 65 }), ValidationError);
        const missing = kv.store(uniqueStoreName('missing'));
        await expectKvError(missing.set('k', 1), StoreNotFoundError, 'store_not_found');
        await expectKvError(missing.get('k'), StoreNotFoundError);
        await expectKvError(missing.list(), NotFoundError);
        await expectKvError(missing.getMany(['k']), StoreNotFoundError);
        await expectKvError(missing.atomic().set('k', 1).commit(), StoreNotFoundError);
        await expectKvError(
          kv.stores.update(missing.name, { history: 2 }),
          StoreNotFoundError,
          'store_not_found',
        );
      });
    });

    describe('entries', () => {
      it('round-trips JSON, text and bytes with typed reads (Alien get/getText/getJson)', async () => {
        const s = await freshStore('types');
        await s.set('json', { name: 'Alice', tags: ['a'], n: 1.5 });
        await s.set('text', 'héllo');
        await s.set('bytes', new Uint8Array([0, 1, 2, 255]));
        expect(await s.get('json')).toEqual({ name: 'Alice', tags: ['a'], n: 1.5 });
        expect(await s.getJson<{ name: string }>('json')).toEqual({ name: 'Alice', tags: ['a'], n: 1.5 });
        expect(await s.get('text')).toBe('héllo');
        expect(await s.getText('text')).toBe('héllo');
        expect(await s.getBytes('bytes')).toEqual(new Uint8Array([0, 1, 2, 255]));
        expect(await s.get('bytes')).toEqual(new Uint8Array([0, 1, 2, 255]));
        const stream = await s.getStream('text');
        expect(stream).toBeDefined();
        const text = await new Response(stream).text();
        expect(text).toBe('héllo');
        expect(await s.get('absent')).toBeUndefined();
        expect(await s.getText('absent')).toBeUndefined();
        expect(await s.getJson('absent')).toBeUndefined();
        expect(await s.getBytes('absent')).toBeUndefined();
        expect(await s.getStream('absent')).toBeUndefined();
        expect(await s.getEntry('absent')).toBeUndefined();
      });

      it('getEntry returns every field (AntiRaid getrecord), with metadata (Cloudflare) and scopes', async () => {
        const s = await freshStore('entry');
        const before = Date.now();
        const r = await s.set(
          'user.1',
          { a: 1 },
          { metadata: { owner: 'bob' }, scopes: ['billing', 'admin'], resume: true },
        );
        expect(r.created).toBe(true);
        const e = await s.getEntry('user.1');
        expect(e).toMatchObject({
          key: 'user.1',
          id: r.id,
          revision: r.revision,
          value: { a: 1 },
          metadata: { owner: 'bob' },
          scopes: ['admin', 'billing'],
          resume: true,
          expiresAt: null,
          size: 7,
        });
        expect(e!.contentType).toMatch(/^application\/json/);
        expect(Date.parse(e!.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
        expect(e!.updatedAt).toBe(e!.createdAt);
        await s.set('user.1', 'x', { contentType: 'text/csv' });
        const e2 = await s.getEntry('user.1');
        expect(e2!.contentType).toMatch(/^text\/csv/);
        expect(e2!.id).toBe(r.id);
        expect(e2!.createdAt).toBe(e!.createdAt);
        expect(e2!.revision).toBeGreaterThan(r.revision);
        // An absolute expiry and a scope holding a comma come back as written.
        const expiresAt = new Date(Date.now() + 3_600_000);
        await s.set('user.2', 1, { expiresAt, scopes: ['a,b', 'billing'] });
        expect(await s.getEntry('user.2')).toMatchObject({
          expiresAt: expiresAt.toISOString(),
          scopes: expect.arrayContaining(['a,b', 'billing']),
        });
      });

      it('exists without transferring a body (Alien, AntiRaid, Apify recordExists)', async () => {
        const s = await freshStore('exists');
        expect(await s.exists('k')).toBe(false);
        await s.set('k', 'v');
        expect(await s.exists('k')).toBe(true);
        await s.delete('k');
        expect(await s.exists('k')).toBe(false);
      });

      it('ifNotExists returns created: false and writes nothing when the key exists (Alien)', async () => {
        const s = await freshStore('ine');
        const first = await s.set('k', 'one', { ifNotExists: true });
        expect(first.created).toBe(true);
        const second = await s.set('k', 'two', { ifNotExists: true });
        expect(second).toMatchObject({ created: false, id: first.id, revision: first.revision });
        expect(await s.get('k')).toBe('one');
      });

      it('create throws KeyExistsError; update is compare-and-swap with RevisionMismatchError (Ironflow)', async () => {
        const s = await freshStore('cas');
        const c = await s.create('config.flags', { darkMode: true });
        const exists = await expectKvError(s.create('config.flags', {}), KeyExistsError, 'key_exists');
        expect(exists.status).toBe(412);
        expect(exists.requestId).toEqual(expect.any(String));
        const u = await s.update('config.flags', { darkMode: false }, c.revision);
        expect(u.revision).toBeGreaterThan(c.revision);
        const err = await expectKvError(
          s.update('config.flags', { x: 1 }, c.revision),
          RevisionMismatchError,
        );
        expect(err).toMatchObject({ status: 412, code: 'revision_mismatch' });
        expect(await s.get('config.flags')).toEqual({ darkMode: false });
        await expectKvError(s.set('config.flags', 1, { ifRevision: c.revision }), RevisionMismatchError);
        await expectKvError(s.update('absent', 1, 1), RevisionMismatchError);
      });

      it('setExpiry returns whether the key existed (AntiRaid setexpiry)', async () => {
        const s = await freshStore('setexp');
        await s.set('k', 'v');
        const at = new Date(Date.now() + 3_600_000);
        expect(await s.setExpiry('k', at)).toBe(true);
        expect((await s.getEntry('k'))!.expiresAt).toBe(at.toISOString());
        expect(await s.setExpiry('k', null)).toBe(true);
        expect((await s.getEntry('k'))!.expiresAt).toBeNull();
        expect(await s.setExpiry('absent', at)).toBe(false);
        expect(await s.exists('absent')).toBe(false);
        // An expiry in the past is refused and leaves the key as it was.
        await expectKvError(s.setExpiry('k', Date.now() - 1000), ValidationError);
        expect(await s.get('k')).toBe('v');
      });

      it('soft delete keeps a tombstone in history; purge removes the key and its history (Ironflow)', async () => {
        const s = await freshStore('tomb', { history: 10 });
        await s.set('k', 'v1');
        await s.set('k', 'v2');
        expect(await s.delete('k')).toBe(true);
        expect(await s.get('k')).toBeUndefined();
        expect(await s.delete('k')).toBe(false);
        const h = await s.history('k');
        expect(h.map((x) => x.operation)).toEqual(['delete', 'put', 'put']);
        expect(h.map((x) => x.value)).toEqual([undefined, 'v2', 'v1']);
        expect(h[0]!.revision).toBeGreaterThan(h[1]!.revision);
        await s.set('k', 'v3');
        expect(await s.purge('k')).toBe(true);
        expect(await s.history('k')).toEqual([]);
        expect(await s.get('k')).toBeUndefined();
        expect(await s.purge('k')).toBe(false);
      });

      it('delete with ifRevision is conditional', async () => {
        const s = await freshStore('delif');
        const r = await s.set('k', 'v');
        await expectKvError(s.delete('k', { ifRevision: r.revision + 100 }), RevisionMismatchError);
        expect(await s.exists('k')).toBe(true);
        expect(await s.delete('k', { ifRevision: r.revision })).toBe(true);
      });

      it('history keeps the store depth, newest first (NATS history)', async () => {
        const s = await freshStore('depth', { history: 3 });
        for (let i = 1; i <= 5; i++) await s.set('k', i);
        const h = await s.history('k');
        expect(h.map((x) => x.value)).toEqual([5, 4, 3]);
        const one = await freshStore('depth1');
        await one.set('k', 1);
        await one.set('k', 2);
        expect((await one.history('k')).map((x) => x.value)).toEqual([2]);
      });

      it('ids are stable for the life of a key and new after delete (AntiRaid getbyid)', async () => {
        const s = await freshStore('ids');
        const a = await s.set('k', 'one');
        const b = await s.set('k', 'two');
        expect(b.id).toBe(a.id);
        expect(b.created).toBe(false);
        expect(await s.getById(a.id)).toBe('two');
        expect((await s.getEntryById(a.id))!.key).toBe('k');
        await s.delete('k');
        expect(await s.getById(a.id)).toBeUndefined();
        const c = await s.set('k', 'three');
        expect(c.created).toBe(true);
        expect(c.id).not.toBe(a.id);
        expect(await s.getEntryById('no-such-id')).toBeUndefined();
      });

      it('keys with reserved and non-ASCII characters round-trip and list in UTF-8 byte order', async () => {
        const s = await freshStore('unicode');
        const keys = [
          'a/b',
          'q?x=1',
          'hash#frag',
          'pct%25',
          'plus+sign',
          'amp&eq=',
          'tilde~',
          'ümlaut',
          '日本',
          '😀',
          'z',
        ];
        for (const k of keys) await s.set(k, k);
        for (const k of keys) expect(await s.get(k)).toBe(k);
        const listed = (await s.list({ limit: 100 })).items.map((i) => i.key);
        const byBytes = [...keys].sort((x, y) => {
          const a = new TextEncoder().encode(x);
          const b = new TextEncoder().encode(y);
          for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
          return a.length - b.length;
        });
        expect(listed).toEqual(byBytes);
      });

      it('a read by id returns the key as written, reserved and non-ASCII characters included', async () => {
        const s = await freshStore('by-id-key');
        for (const k of ['a/b', 'pct%25', 'ümlaut,日本', '😀?x=1#f']) {
          const { id } = await s.set(k, 'v');
          expect((await s.getEntryById(id))?.key).toBe(k);
        }
      });

      it.skipIf(options.noWallClock === true)(
        'values expire after ttlMs and are never returned once expired',
        { timeout: 30_000 },
        async () => {
          const s = await freshStore('ttl');
          await s.set('short', 'v', { ttlMs: 300 });
          await s.set('long', 'v', { ttlMs: 3_600_000 });
          const e = await s.getEntry('long');
          expect(Date.parse(e!.expiresAt!)).toBeGreaterThan(Date.now() + 3_000_000);
          await vi.waitFor(
            async () => {
              expect(await s.get('short')).toBeUndefined();
            },
            { timeout: 10_000, interval: 100 },
          );
          expect(await s.exists('short')).toBe(false);
          expect((await s.list()).items.map((i) => i.key)).toEqual(['long']);
        },
      );
    });

    describe('limits', () => {
      it('keys: 512 bytes accepted, 513 rejected with ValidationError (multi-byte)', async () => {
        const s = await freshStore('keylim');
        const k512 = '😀'.repeat(128);
        await s.set(k512, 'ok');
        expect(await s.get(k512)).toBe('ok');
        const tooLong = await expectKvError(s.set(`${k512}a`, 'no'), ValidationError);
        expect(tooLong.details).toMatchObject({ field: 'key', reason: 'too_long' });
        await expectKvError(s.set('has space', 'no'), ValidationError);
        await expectKvError(s.set('', 'no'), ValidationError);
        await expectKvError(s.get('has space'), ValidationError);
        await expectKvError(s.get(''), ValidationError);
      });

      it('metadata over 1024 bytes, more than 16 scopes, a list limit over 1000 are ValidationErrors', async () => {
        const s = await freshStore('lims');
        await expectKvError(s.set('k', 1, { metadata: { big: 'x'.repeat(1100) } }), ValidationError);
        await expectKvError(
          s.set('k', 1, { scopes: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
          ValidationError,
        );
        await expectKvError(s.list({ limit: 1001 }), ValidationError);
        await expectKvError(s.list({ match: 'a', like: 'b' }), ValidationError);
        await expectKvError(s.set('k', 1, { ttlMs: 1000, expiresAt: new Date() }), ValidationError);
        await expectKvError(s.set('k', 1, { expiresAt: 'not a date' }), ValidationError);
        expect(await s.exists('k')).toBe(false);
      });

      it('a value over the store maxValueBytes is PayloadTooLargeError and writes nothing', async () => {
        const s = await freshStore('vallim', { maxValueBytes: 1024 });
        await s.set('ok', new Uint8Array(1024));
        await expectKvError(s.set('big', new Uint8Array(1025)), PayloadTooLargeError);
        expect(await s.exists('big')).toBe(false);
      });
    });

    describe('listing', () => {
      it('prefix, limit, cursor paging until complete, reverse, values', async () => {
        const s = await freshStore('list');
        await s.setMany(
          Array.from({ length: 25 }, (_, i) => ({ key: `item.${String(i).padStart(2, '0')}`, value: i })),
        );
        await s.set('other', 'x');
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await s.list(
            cursor ? { prefix: 'item.', limit: 10, cursor } : { prefix: 'item.', limit: 10 },
          );
          pages += 1;
          seen.push(...page.items.map((i) => i.key));
          if (page.complete) {
            expect(page.cursor).toBeUndefined();
            break;
          }
          cursor = page.cursor;
        }
        expect(pages).toBe(3);
        expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `item.${String(i).padStart(2, '0')}`));
        const rev = await s.list({ prefix: 'item.', limit: 3, reverse: true });
        expect(rev.items.map((i) => i.key)).toEqual(['item.24', 'item.23', 'item.22']);
        expect(rev.complete).toBe(false);
        const withValues = await s.list({ prefix: 'item.0', limit: 2, values: true });
        expect(withValues.items.map((i) => i.value)).toEqual([0, 1]);
        const noValues = await s.list({ prefix: 'item.0', limit: 2 });
        expect(noValues.items[0]!.value).toBeUndefined();
        expect(noValues.items[0]!.size).toBe(1);
      });

      it("startAfter is Apify's exclusive start key", async () => {
        const s = await freshStore('apify');
        for (const k of ['image-1', 'image-2', 'image-3', 'text-1']) await s.set(k, k);
        const page = await s.list({ startAfter: 'image-1', limit: 2 });
        expect(page.items.map((i) => i.key)).toEqual(['image-2', 'image-3']);
        expect(page.complete).toBe(false);
        const next = await s.list({ startAfter: 'image-3', limit: 2 });
        expect(next.items.map((i) => i.key)).toEqual(['text-1']);
        expect(next.complete).toBe(true);
        const exclusive: string[] = [];
        let startAfter: string | undefined;
        for (;;) {
          const p = await s.list(
            startAfter === undefined
              ? { prefix: 'image-', limit: 1 }
              : { prefix: 'image-', limit: 1, startAfter },
          );
          exclusive.push(...p.items.map((i) => i.key));
          if (p.complete || p.items.length === 0) break;
          startAfter = p.items.at(-1)!.key;
        }
        expect(exclusive).toEqual(['image-1', 'image-2', 'image-3']);
      });

      it('NATS wildcards: the Ironflow seed table', async () => {
        const s = await freshStore('nats');
        const all = [...new Set(NATS_TABLE.flatMap((r) => [...r.matches, ...r.notMatches]))];
        for (const k of all) await s.set(k, 1);
        for (const row of NATS_TABLE) {
          const keys = (await s.list({ match: row.pattern, limit: 1000 })).items.map((i) => i.key);
          for (const k of row.matches) expect(keys, `${row.pattern} should match ${k}`).toContain(k);
          for (const k of row.notMatches)
            expect(keys, `${row.pattern} should not match ${k}`).not.toContain(k);
        }
        await expectKvError(s.list({ match: 'user..x' }), ValidationError);
      });

      it('SQL LIKE: % any run, _ one character, \\ escapes, %% all (AntiRaid find)', async () => {
        const s = await freshStore('like');
        const keys = ['user_1', 'userA1', 'user%1', 'user1', 'user_12', 'admin_1', 'é_x', 'éax'];
        for (const k of keys) await s.set(k, 1);
        const find = async (like: string) =>
          (await s.list({ like, limit: 1000 })).items.map((i) => i.key).sort();
        expect(await find('user_1')).toEqual(['user%1', 'userA1', 'user_1'].sort());
        expect(await find('user\\_1')).toEqual(['user_1']);
        expect(await find('user\\%1')).toEqual(['user%1']);
        expect(await find('user%')).toEqual(['user%1', 'user1', 'userA1', 'user_1', 'user_12'].sort());
        expect(await find('%\\_1%')).toEqual(['admin_1', 'user_1', 'user_12'].sort());
        expect(await find('%%')).toEqual([...keys].sort());
        expect(await find('_\\_x')).toEqual(['é_x']);
      });

      it('scope filter and listScopes (AntiRaid keys / list_scopes)', async () => {
        const s = await freshStore('scopes');
        await s.set('a', 1, { scopes: ['billing'] });
        await s.set('b', 1, { scopes: ['billing', 'ops'] });
        await s.set('c', 1, { scopes: ['ops'] });
        await s.set('d', 1);
        expect((await s.list({ scope: 'billing' })).items.map((i) => i.key)).toEqual(['a', 'b']);
        expect((await s.list({ scope: 'ops' })).items.map((i) => i.key)).toEqual(['b', 'c']);
        expect(await s.listScopes()).toEqual(['billing', 'ops']);
        await s.delete('a');
        await s.delete('b');
        expect(await s.listScopes()).toEqual(['ops']);
      });

      it('paging is stable while the store changes: no key present throughout is repeated or skipped', async () => {
        const s = await freshStore('stable');
        const base = Array.from({ length: 120 }, (_, i) => `k.${String(i * 10).padStart(5, '0')}`);
        await s.setMany(base.map((key) => ({ key, value: 1 })));
        const seen: string[] = [];
        let cursor: string | undefined;
        let round = 0;
        for (;;) {
          const page = await s.list(cursor ? { limit: 25, cursor } : { limit: 25 });
          seen.push(...page.items.map((i) => i.key));
          if (page.complete) break;
          cursor = page.cursor;
          round += 1;
          // Between pages: insert keys before and after the cursor, and delete a not-yet-listed extra key.
          await s.set(`k.${String(round * 10 + 5).padStart(5, '0')}`, 2);
          await s.set(`k.${String(1195 - round).padStart(5, '0')}x`, 2);
          await s.delete(`k.${String(1195 - round).padStart(5, '0')}x`);
        }
        expect(new Set(seen).size).toBe(seen.length);
        for (const k of base) expect(seen).toContain(k);
      });

      it('iterators cross empty pages of a sparse filtered listing', { timeout: 60_000 }, async () => {
        const s = await freshStore('sparse');
        await s.setMany(
          Array.from({ length: 3000 }, (_, i) => ({ key: `k${String(i).padStart(4, '0')}`, value: i })),
        );
        await s.set('zz.target', 'found');
        const first = await s.list({ match: '*.target', limit: 10 });
        const keys: string[] = [];
        for await (const k of s.keys({ match: '*.target', limit: 10 })) keys.push(k);
        expect(keys).toEqual(['zz.target']);
        const values: unknown[] = [];
        for await (const e of s.entries({ like: '%.target', limit: 5 })) values.push(e.value);
        expect(values).toEqual(['found']);
        // The first page may legitimately be empty but incomplete; either way it carries no wrong key.
        expect(first.items.every((i) => i.key === 'zz.target')).toBe(true);
      });

      it('keys() and entries() iterate over every page (Alien scan)', async () => {
        const s = await freshStore('iter');
        await s.setMany(
          Array.from({ length: 230 }, (_, i) => ({ key: `p.${String(i).padStart(3, '0')}`, value: i })),
        );
        const keys: string[] = [];
        for await (const k of s.keys({ prefix: 'p.', limit: 100 })) keys.push(k);
        expect(keys.length).toBe(230);
        const none: string[] = [];
        for await (const k of s.keys({ prefix: 'none.' })) none.push(k);
        expect(none).toEqual([]);
        let sum = 0;
        for await (const e of s.entries<number>({ prefix: 'p.1', limit: 40 })) sum += e.value;
        expect(sum).toBe(Array.from({ length: 100 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0));
      });
    });

    describe('bulk and atomic', () => {
      it('setMany / getMany / deleteMany with metadata and per-item results (Cloudflare bulk)', async () => {
        const s = await freshStore('bulk');
        const r = await s.setMany([
          { key: 'a', value: { x: 1 }, metadata: { v: 1 } },
          { key: 'b', value: 'two', ttlMs: 3_600_000 },
          { key: 'c', value: new Uint8Array([3]) },
        ]);
        expect(r).toMatchObject({ successfulKeyCount: 3, unsuccessfulKeys: [] });
        expect(r.results.map((x) => x.created)).toEqual([true, true, true]);
        const got = await s.getMany(['c', 'missing', 'a']);
        // A Map in request order, with `undefined` for a missing key.
        expect([...got.keys()]).toEqual(['c', 'missing', 'a']);
        expect(got.get('a')).toMatchObject({ value: { x: 1 }, metadata: { v: 1 } });
        expect(got.get('missing')).toBeUndefined();
        expect(got.get('c')!.value).toEqual(new Uint8Array([3]));
        const fieldsOnly = await s.getMany(['a'], { values: false });
        expect(fieldsOnly.get('a')).toMatchObject({ key: 'a' });
        expect(fieldsOnly.get('a')!.contentType).toMatch(/^application\/json/);
        expect(fieldsOnly.get('a')).not.toHaveProperty('value');
        expect((await s.getMany([])).size).toBe(0);
        expect(await s.setMany([])).toEqual({ results: [], successfulKeyCount: 0, unsuccessfulKeys: [] });
        const d = await s.deleteMany(['a', 'missing']);
        expect(d.results.map((x) => [x.key, x.ok, x.created])).toEqual([
          ['a', true, true],
          ['missing', true, false],
        ]);
        expect(await s.exists('a')).toBe(false);
      });

      it('bulk partial failure lists the failed keys and applies the rest', async () => {
        const s = await freshStore('partial');
        const a = await s.set('a', 1);
        const r = await s.setMany([
          { key: 'a', value: 2, ifRevision: a.revision + 50 },
          { key: 'b', value: 2 },
          { key: 'c', value: 3, ifNotExists: true },
        ]);
        expect(r.successfulKeyCount).toBe(2);
        expect(r.unsuccessfulKeys).toEqual(['a']);
        expect(r.results[0]).toMatchObject({ key: 'a', ok: false, error: 'revision_mismatch' });
        expect(await s.get('a')).toBe(1);
        expect(await s.get('b')).toBe(2);
      });

      it('10,000 items in one setMany call, read back with getMany', { timeout: 60_000 }, async () => {
        const s = await freshStore('bulk10k');
        const items = Array.from({ length: 10_000 }, (_, i) => ({ key: `n.${i}`, value: i }));
        const r = await s.setMany(items);
        expect(r.successfulKeyCount).toBe(10_000);
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 10_000 });
        const got = await s.getMany(['n.0', 'n.9999']);
        expect([got.get('n.0')!.value, got.get('n.9999')!.value]).toEqual([0, 9999]);
      });

      it('10,000 keys in one getMany and one deleteMany call; 10,000 mutations in one atomic commit', {
        timeout: 120_000,
      }, async () => {
        const s = await freshStore('bulk10k-more');
        const keys = Array.from({ length: LIMITS.maxBulkItems }, (_, i) => `n.${i}`);
        const commit = s.atomic();
        for (const [i, key] of keys.entries()) commit.set(key, i);
        expect(await commit.commit()).toMatchObject({ ok: true });
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 10_000 });
        const got = await s.getMany(keys);
        expect(got.size).toBe(10_000);
        expect(got.get('n.4321')!.value).toBe(4321);
        const deleted = await s.deleteMany(keys);
        expect(deleted).toMatchObject({ successfulKeyCount: 10_000, unsuccessfulKeys: [] });
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 0 });
      });

      it('an atomic commit over 10,000 mutations or 10,000 checks is a ValidationError and writes nothing', {
        timeout: 60_000,
      }, async () => {
        const s = await freshStore('atomic-limit');
        const over = LIMITS.maxBulkItems + 1;
        const tooManySets = s.atomic();
        for (let i = 0; i < over; i++) tooManySets.set(`n.${i}`, i);
        await expectKvError(tooManySets.commit(), ValidationError);
        const tooManyChecks = s.atomic();
        for (let i = 0; i < over; i++) tooManyChecks.check(`c.${i}`, null);
        tooManyChecks.set('written', true);
        await expectKvError(tooManyChecks.commit(), ValidationError);
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 0, totalBytes: 0 });
        expect(await s.exists('written')).toBe(false);
      });

      it('over 10,000 items the client splits setMany, getMany and deleteMany into requests of 10,000 at most', {
        timeout: 120_000,
      }, async () => {
        // The client's documented contract (StoreHandle.setMany: "one request per 10,000 items"); the
        // server's refusal of a larger single request is the wire-level case below.
        const s = await freshStore('bulk-split');
        const over = LIMITS.maxBulkItems + 1;
        const keys = Array.from({ length: over }, (_, i) => `n.${i}`);
        const set = await s.setMany(keys.map((key, i) => ({ key, value: i })));
        expect(set).toMatchObject({ successfulKeyCount: over, unsuccessfulKeys: [] });
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: over });
        const got = await s.getMany(keys);
        expect(got.size).toBe(over);
        expect(got.get(`n.${over - 1}`)!.value).toBe(over - 1);
        expect(await s.deleteMany(keys)).toMatchObject({ successfulKeyCount: over, unsuccessfulKeys: [] });
        expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 0 });
      });

      it.skipIf(!options.auth)(
        'on the wire, a bulk get/set/delete or atomic body over 10,000 items is 413 payload_too_large and changes nothing',
        { timeout: 60_000 },
        async () => {
          const s = await freshStore('wire-limit');
          await s.set('keep', 'kept');
          const before = (await kv.stores.get(s.name))!;
          const over = LIMITS.maxBulkItems + 1;
          const keys = Array.from({ length: over }, (_, i) => `n.${i}`);
          const value = btoa('1');
          const write = (key: string) => ({ key, value, contentType: 'application/json' });
          const bodies: Array<[string, unknown, string]> = [
            [routes.bulkSet(s.name), { items: keys.map(write) }, 'items'],
            [routes.bulkGet(s.name), { keys }, 'keys'],
            [routes.bulkDelete(s.name), { keys: [...keys.slice(1), 'keep'] }, 'keys'],
            [
              routes.atomic(s.name),
              { checks: [], mutations: keys.map((k) => ({ type: 'set', ...write(k) })) },
              'mutations',
            ],
            [
              routes.atomic(s.name),
              {
                checks: keys.map((key) => ({ key, revision: null })),
                mutations: [{ type: 'delete', key: 'keep' }],
              },
              'checks',
            ],
          ];
          for (const [path, json, field] of bodies) {
            const response = await rawFetch(path, { method: 'POST', json, admin: true });
            const error = await wireError(response);
            expect(error, `${path} ${field}`).toBeInstanceOf(PayloadTooLargeError);
            expect(error).toMatchObject({
              status: 413,
              code: 'payload_too_large',
              details: { field, maxItems: 10_000 },
            });
          }
          expect(await kv.stores.get(s.name)).toMatchObject({ keyCount: 1, revision: before.revision });
          expect(await s.get('keep')).toBe('kept');
          // 10,000 is accepted in one request.
          const ok = await rawFetch(routes.bulkSet(s.name), {
            method: 'POST',
            json: { items: keys.slice(0, LIMITS.maxBulkItems).map(write) },
            admin: true,
          });
          expect(ok.status).toBe(200);
          expect(await ok.json()).toMatchObject({ successfulKeyCount: 10_000 });
        },
      );

      it('atomic commits are all or nothing (Deno KV)', async () => {
        const s = await freshStore('atomic');
        const a = await s.set('a', 1);
        const ok = await s
          .atomic()
          .check('a', a.revision)
          .check('new', null)
          .set('a', 2)
          .set('new', 'n')
          .delete('gone')
          .commit();
        expect(ok.ok).toBe(true);
        expect(await s.get('a')).toBe(2);
        expect(await s.get('new')).toBe('n');
        const fail = await s.atomic().check('a', a.revision).set('a', 3).set('other', 'o').commit();
        expect(fail).toEqual({ ok: false, failedKeys: ['a'] });
        expect(await s.get('a')).toBe(2);
        expect(await s.exists('other')).toBe(false);
        // Checks without a mutation commit nothing: refused.
        await expectKvError(s.atomic().check('a', 1).commit(), ValidationError);
      });
    });

    counterCases<C>({
      client: () => kv,
      target: () => target,
      freshStore: (label) => freshStore(label),
      watch: options.watch !== false,
      auth: options.auth === true,
    });

    queueCases<C>({
      client: () => kv,
      target: () => target,
      freshStore: (label) => freshStore(label),
      auth: options.auth === true,
    });

    describe('watch', () => {
      // Reads `count` events from one iterator without closing it (a `break` out of `for await` would
      // end the subscription, as iterator `return()` does).
      const iterators = new WeakMap<object, AsyncIterator<unknown>>();
      const collect = async <T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> => {
        let it = iterators.get(iterable) as AsyncIterator<T> | undefined;
        if (!it) {
          it = iterable[Symbol.asyncIterator]();
          iterators.set(iterable, it);
        }
        const out: T[] = [];
        while (out.length < count) {
          const step = await it.next();
          if (step.done) break;
          out.push(step.value);
        }
        return out;
      };

      const watchIt = it.skipIf(options.watch === false);

      watchIt(
        'delivers every acknowledged write once, in revision order, under concurrent writers (Ironflow watch)',
        {
          timeout: 60_000,
        },
        async () => {
          const s = await freshStore('watch-order');
          await s.set('seed', 0);
          const from = (await kv.stores.get(s.name))!.revision;
          const watch = s.watch({ fromRevision: from });
          const acknowledged: number[] = [];
          await Promise.all(
            Array.from({ length: 4 }, async (_, w) => {
              for (let i = 0; i < 25; i++) acknowledged.push((await s.set(`w${w}.${i % 5}`, i)).revision);
            }),
          );
          await s.delete('w0.0');
          const deletedAt = (await kv.stores.get(s.name))!.revision;
          acknowledged.push(deletedAt);
          const events = await collect(watch, acknowledged.length);
          watch.stop();
          expect(events.map((e) => e.revision)).toEqual([...acknowledged].sort((a, b) => a - b));
          expect(events.at(-1)).toMatchObject({
            type: 'delete',
            key: 'w0.0',
            value: undefined,
            store: s.name,
          });
          expect(events.filter((e) => e.type === 'put').every((e) => typeof e.value === 'number')).toBe(true);
        },
      );

      watchIt(
        'filters with NATS wildcards and prefixes; callbacks form with stop() and onClose',
        {
          timeout: 30_000,
        },
        async () => {
          const s = await freshStore('watch-filter');
          const from = (await kv.stores.get(s.name))!.revision;
          const matched = s.watch({ fromRevision: from, match: 'user.*' });
          const seen: string[] = [];
          let closed = false;
          const done = new Promise<void>((resolve) => {
            const sub = s.watch(
              { fromRevision: from, prefix: 'order.' },
              {
                onUpdate: (e) => {
                  seen.push(e.key);
                  if (seen.length === 2) sub.stop();
                },
                onClose: () => {
                  closed = true;
                  resolve();
                },
              },
            );
          });
          for (const k of ['user.1', 'user.1.name', 'order.1', 'config', 'user.2', 'order.2'])
            await s.set(k, k);
          expect((await collect(matched, 2)).map((e) => e.key)).toEqual(['user.1', 'user.2']);
          matched.stop();
          await done;
          expect(seen).toEqual(['order.1', 'order.2']);
          expect(closed).toBe(true);
        },
      );

      watchIt(
        'resume: true first delivers entries marked resume (AntiRaid KeyResume); expiry is an expire event (KeyExpiry)',
        {
          timeout: 30_000,
        },
        async () => {
          const s = await freshStore('watch-resume');
          await s.set('job.1', { step: 3 }, { resume: true });
          await s.set('job.2', 'not resumable');
          const watch = s.watch({ resume: true, updatesOnly: true });
          const [first] = await collect(watch, 1);
          expect(first).toMatchObject({ type: 'resume', key: 'job.1', resume: true, value: { step: 3 } });
          if (!options.noWallClock) {
            await s.set('short', 'v', { ttlMs: 200 });
            const events = await collect(watch, 2);
            expect(events.map((e) => [e.type, e.key])).toEqual([
              ['put', 'short'],
              ['expire', 'short'],
            ]);
          }
          watch.stop();
        },
      );

      it.skipIf(options.watch === false || options.noWallClock === true)(
        'a key written again after it expired is an expire event between the two puts (KeyExpiry)',
        { timeout: 30_000 },
        async () => {
          const s = await freshStore('watch-reexpire');
          const from = (await kv.stores.get(s.name))!.revision;
          const watch = s.watch({ fromRevision: from });
          await s.set('short', 'v1', { ttlMs: 200 });
          await vi.waitFor(
            async () => {
              expect(await s.get('short')).toBeUndefined();
            },
            { timeout: 10_000, interval: 50 },
          );
          // Whether the sweeper or this write records the expiry, watchers see it exactly once.
          await s.set('short', 'v2');
          const events = await collect(watch, 3);
          expect(events.map((e) => [e.type, e.key])).toEqual([
            ['put', 'short'],
            ['expire', 'short'],
            ['put', 'short'],
          ]);
          expect(events[1]!.revision).toBeLessThan(events[2]!.revision);
          watch.stop();
        },
      );

      watchIt('a watch on a missing store fails with StoreNotFoundError', async () => {
        const missing = kv.store(uniqueStoreName('watch-missing'));
        const watch = missing.watch({});
        await expectKvError(collect(watch, 1), StoreNotFoundError);
      });

      watchIt(
        'purge is a purge event without a value, after the delete and put events of the key (Ironflow purge)',
        {
          timeout: 30_000,
        },
        async () => {
          const s = await freshStore('watch-purge', { history: 5 });
          await s.set('k', 'v1');
          const from = (await kv.stores.get(s.name))!.revision;
          const watch = s.watch({ fromRevision: from });
          await s.set('k', 'v2');
          await s.delete('k');
          await s.set('k', 'v3');
          expect(await s.purge('k')).toBe(true);
          // A purge of a missing key is a no-op: it takes no revision and sends no event.
          expect(await s.purge('absent')).toBe(false);
          await s.set('after', 1);
          const events = await collect(watch, 5);
          watch.stop();
          expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
            ['put', 'k', 'v2'],
            ['delete', 'k', undefined],
            ['put', 'k', 'v3'],
            ['purge', 'k', undefined],
            ['put', 'after', 1],
          ]);
          const revisions = events.map((e) => e.revision);
          expect(revisions).toEqual(Array.from({ length: 5 }, (_, i) => from + 1 + i));
          expect(events[3]).toMatchObject({ store: s.name, key: 'k' });
        },
      );

      watchIt(
        'key= watches exactly one key: its current value first, then its writes, literally (no wildcard, no prefix)',
        {
          timeout: 30_000,
        },
        async () => {
          const s = await freshStore('watch-key');
          await s.set('user.1', 'initial');
          await s.set('user.10', 'x');
          const from = (await kv.stores.get(s.name))!.revision;
          const one = s.watch({ key: 'user.1' });
          // Without fromRevision the watch starts with the key's current value (NATS KV's default watch).
          expect((await collect(one, 1)).map((e) => [e.type, e.key, e.value])).toEqual([
            ['put', 'user.1', 'initial'],
          ]);
          // `user.*` is a literal key here: it matches only itself, never user.1 or user.2.
          const literal = s.watch({ key: 'user.*', fromRevision: from });
          for (const k of ['user.10', 'user.1.name', 'user', 'user.2', 'user.*', 'user.1']) await s.set(k, k);
          await s.delete('user.1');
          await s.set('user.*', 'again');
          const events = await collect(one, 2);
          one.stop();
          expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
            ['put', 'user.1', 'user.1'],
            ['delete', 'user.1', undefined],
          ]);
          const literalEvents = await collect(literal, 2);
          literal.stop();
          expect(literalEvents.map((e) => [e.type, e.key, e.value])).toEqual([
            ['put', 'user.*', 'user.*'],
            ['put', 'user.*', 'again'],
          ]);
        },
      );

      watchIt(
        'includeHistory replays every revision still in each key history, oldest first, then live writes (NATS includeHistory)',
        {
          timeout: 30_000,
        },
        async () => {
          const s = await freshStore('watch-history', { history: 3 });
          for (const v of [1, 2, 3, 4]) await s.set('a', v);
          await s.set('b', 'b1');
          await s.delete('b');
          await s.set('b', 'b2');
          await s.set('other.c', 'not watched');
          const expected: Array<[string, string, number, unknown]> = [];
          for (const key of ['a', 'b']) {
            for (const h of (await s.history(key)).reverse())
              expected.push([h.operation, key, h.revision, h.value]);
          }
          // The store keeps 3 revisions per key: `a` replays 2, 3, 4 (not 1).
          expect(expected.filter(([, key]) => key === 'a').map(([, , , value]) => value)).toEqual([2, 3, 4]);
          const watch = s.watch({ includeHistory: true, match: '*' });
          const replayed = await collect(watch, expected.length);
          expect(replayed.map((e) => [e.type, e.key, e.revision, e.value])).toEqual(expected);
          const live = await s.set('a', 5);
          const [next] = await collect(watch, 1);
          watch.stop();
          expect(next).toMatchObject({ type: 'put', key: 'a', value: 5, revision: live.revision });
        },
      );
    });

    describe('concurrency', () => {
      it('8 clients x 100 compare-and-swap increments end at exactly 800 (Ironflow read-modify-write)', {
        timeout: 180_000,
      }, async () => {
        const s = await freshStore('counter');
        const start = await s.set('counter', 0);
        const clients = await Promise.all(Array.from({ length: 8 }, () => target.createClient()));
        // A barrier on the first attempt: every client has read revision `start` before any of them writes,
        // so exactly one of those 8 updates wins and 7 must be refused. Later rounds race, and a refused
        // client backs off for a random part of a few attempts' time before it reads again (exponential
        // backoff with full jitter, as a real read-modify-write loop does): the same contention with far
        // fewer wasted attempts, which dominate this case's time on slower clients (the browser bridge).
        let arrived = 0;
        let release!: () => void;
        const barrier = new Promise<void>((resolve) => {
          release = resolve;
        });
        let conflicts = 0;
        const won: number[] = [];
        await Promise.all(
          clients.map(async (c) => {
            const h = c.store(s.name);
            let first = true;
            for (let i = 0; i < 100; i++) {
              for (let refused = 0; ; refused++) {
                const began = performance.now();
                const e = await h.getEntry<number>('counter');
                if (first) {
                  first = false;
                  arrived += 1;
                  if (arrived === clients.length) release();
                  await barrier;
                }
                try {
                  won.push((await h.update('counter', e!.value + 1, e!.revision)).revision);
                  break;
                } catch (error) {
                  if (!(error instanceof RevisionMismatchError)) throw error;
                  conflicts += 1;
                  const attemptMs = performance.now() - began;
                  const backoffMs = Math.random() * attemptMs * 2 ** Math.min(refused, 3);
                  await new Promise((resolve) => setTimeout(resolve, backoffMs));
                }
              }
            }
          }),
        );
        const final = await s.getEntry<number>('counter');
        expect(final!.value).toBe(800);
        // Every successful update took its own revision, one after the other: no lost or doubled write.
        expect(new Set(won).size).toBe(800);
        expect(final!.revision).toBe(start.revision + 800);
        expect(conflicts).toBeGreaterThanOrEqual(clients.length - 1);
      });
    });

    // Opt-in (`options.auth`): the target runs with access control on (docs/protocol.md "Access control").
    describe.skipIf(!options.auth)('access control', () => {
      // A case the target declares as failing (`options.knownFailures`) runs as `it.fails`: it is reported,
      // and turns red once the bug is fixed, so that the entry is then removed.
      const known = new Set(options.knownFailures ?? []);
      const authIt = (title: string, fn: () => Promise<void>): void => {
        // A known failure that hangs gives up after 5 s rather than holding the run for the full timeout.
        if (known.delete(title)) it.fails(title, { timeout: 5_000 }, fn);
        else it(title, { timeout: 15_000 }, fn);
      };
      authIt('an unknown token, or none, is UnauthenticatedError (401) on every route', async () => {
        const s = await freshStore('authn');
        await s.set('k', 'v');
        const stranger = await targetAuth().clientWithToken('kv_conformance-not-a-real-token');
        const error = await expectKvError(stranger.stores.list(), UnauthenticatedError, 'unauthenticated');
        expect(error).toMatchObject({ status: 401 });
        await expectKvError(stranger.store(s.name).get('k'), UnauthenticatedError, 'unauthenticated');
        await expectKvError(stranger.store(s.name).set('k', 'x'), UnauthenticatedError);
        await expectKvError(stranger.tokens.list(), UnauthenticatedError);
        const anonymous = await rawFetch(routes.entry(s.name, 'k'));
        expect(await wireError(anonymous)).toMatchObject({ status: 401, code: 'unauthenticated' });
        expect(await s.get('k')).toBe('v');
      });

      authIt(
        'tokens.create / list / revoke; a token lacking the capability is UnauthorizedError (403)',
        async () => {
          const s = await freshStore('authz');
          const other = await freshStore('authz-other');
          await s.set('k', 'v');
          await other.set('k', 'o');
          const created = await kv.tokens.create({
            capabilities: [`kv[${s.name}]:get`],
            description: 'conformance reader',
          });
          expect(created).toMatchObject({
            id: expect.any(String),
            capabilities: [`kv[${s.name}]:get`],
            description: 'conformance reader',
            expiresAt: null,
            revokedAt: null,
          });
          expect(created.token).toEqual(expect.any(String));
          const listed = await kv.tokens.list();
          const info = listed.find((t) => t.id === created.id);
          expect(info).toMatchObject({ capabilities: [`kv[${s.name}]:get`], revokedAt: null });
          expect(info).not.toHaveProperty('token');
          expect(JSON.stringify(listed)).not.toContain(created.token);

          const reader = await targetAuth().clientWithToken(created.token);
          expect(await reader.store(s.name).get('k')).toBe('v');
          const denied = await expectKvError(
            reader.store(s.name).set('k', 'x'),
            UnauthorizedError,
            'forbidden',
          );
          expect(denied).toMatchObject({ status: 403 });
          await expectKvError(reader.store(s.name).delete('k'), UnauthorizedError, 'forbidden');
          await expectKvError(reader.store(other.name).get('k'), UnauthorizedError, 'forbidden');
          await expectKvError(
            reader.stores.create(uniqueStoreName('denied')),
            UnauthorizedError,
            'forbidden',
          );
          await expectKvError(reader.tokens.list(), UnauthorizedError, 'forbidden');
          await expectKvError(reader.tokens.create({ capabilities: ['*'] }), UnauthorizedError, 'forbidden');
          expect(await s.get('k')).toBe('v');

          expect(await kv.tokens.revoke(created.id)).toBe(true);
          expect(await kv.tokens.revoke(created.id)).toBe(false);
          await expectKvError(reader.store(s.name).get('k'), UnauthenticatedError, 'unauthenticated');
          const revoked = (await kv.tokens.list()).find((t) => t.id === created.id);
          expect(revoked?.revokedAt).toEqual(expect.any(String));
        },
      );

      authIt(
        'a token with a rateLimit gets exactly its requests per window: of 50 concurrent requests 10 pass, 40 are 429 rate_limited with Retry-After',
        async () => {
          const s = await freshStore('ratelimited');
          const rateLimit = { requests: 10, perSeconds: 60 };
          const created = await kv.tokens.create({ capabilities: [`kv[${s.name}]:get`], rateLimit });
          expect(created.rateLimit).toEqual(rateLimit);
          expect((await kv.tokens.list()).find((t) => t.id === created.id)?.rateLimit).toEqual(rateLimit);
          // Windows are whole minutes of the server's clock (this machine's): start well inside one, so
          // the 50 requests cannot straddle two.
          const left = 60_000 - (Date.now() % 60_000);
          if (left < 8_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
          const answers = await Promise.all(
            Array.from({ length: 50 }, () => rawFetch(routes.entry(s.name, 'k'), { token: created.token })),
          );
          const statuses = answers.map((r) => r.status);
          expect(statuses.filter((status) => status === 404)).toHaveLength(10);
          expect(statuses.filter((status) => status === 429)).toHaveLength(40);
          const refused = answers.find((r) => r.status === 429) as Response;
          const retryAfter = Number(refused.headers.get('retry-after'));
          expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
          const error = await wireError(refused);
          expect(error).toMatchObject({ status: 429, code: 'rate_limited' });
          expect(error.details).toMatchObject({
            limit: 10,
            perSeconds: 60,
            retryAfterMs: expect.any(Number),
          });
          expect(Math.ceil((error.details?.retryAfterMs as number) / 1000)).toBe(retryAfter);
          // Read, not cancelled: cancelling an msw response's body never settles.
          await Promise.all(answers.map((r) => (r.bodyUsed ? undefined : r.text())));
          // The admin token has no limit; the limited token's count is its own.
          expect(await s.get('k')).toBeUndefined();
        },
      );

      authIt('a bad rateLimit is a ValidationError (400) and creates no token', async () => {
        const before = (await kv.tokens.list()).length;
        await expectKvError(
          kv.tokens.create({ capabilities: ['kv:get'], rateLimit: { requests: 10, perSeconds: 86_401 } }),
          ValidationError,
        );
        for (const rateLimit of [
          { requests: 0, perSeconds: 1 },
          { requests: 10 },
          { requests: 1.5, perSeconds: 1 },
        ]) {
          const response = await rawFetch(routes.tokens(), {
            method: 'POST',
            json: { capabilities: ['kv:get'], rateLimit },
            admin: true,
          });
          expect(await wireError(response)).toMatchObject({ status: 400, code: 'validation_error' });
        }
        expect(await kv.tokens.list()).toHaveLength(before);
      });

      authIt(
        'a scoped capability reaches only its scope: out of scope or missing is 403, listings leave them out',
        async () => {
          const s = await freshStore('authscope');
          await s.set('bill.1', 1, { scopes: ['billing'] });
          await s.set('ops.1', 2, { scopes: ['ops'] });
          await s.set('plain', 3);
          const { token } = await kv.tokens.create({
            capabilities: [`kv[${s.name}:billing]:get`, `kv[${s.name}:billing]:list`],
          });
          const scoped = (await targetAuth().clientWithToken(token)).store(s.name);
          expect(await scoped.get('bill.1')).toBe(1);
          await expectKvError(scoped.get('ops.1'), UnauthorizedError, 'forbidden');
          await expectKvError(scoped.get('plain'), UnauthorizedError, 'forbidden');
          await expectKvError(scoped.get('missing'), UnauthorizedError, 'forbidden');
          expect((await scoped.list()).items.map((i) => i.key)).toEqual(['bill.1']);
        },
      );

      authIt('signed URLs work with plain fetch and no token; an altered one is 401 (Apify)', async () => {
        const s = await freshStore('signed');
        await s.set('report', 'hello');
        await s.set('r.1', 1);
        await s.set('r.2', 2);
        await s.set('x', 3);
        const before = Date.now();
        const record = await s.createRecordUrl('report', { expiresInSecs: 60 });
        const keys = await s.createKeysUrl({ prefix: 'r.', expiresInSecs: 60 });
        expect(Date.parse(record.expiresAt)).toBeGreaterThanOrEqual(before + 55_000);
        expect(Date.parse(record.expiresAt)).toBeLessThanOrEqual(Date.now() + 65_000);

        const got = await rawFetch(record.url);
        expect(got.status).toBe(200);
        expect(await got.text()).toBe('hello');
        expect(got.headers.get('access-control-allow-origin')).toBe('*');
        const listing = await rawFetch(keys.url);
        expect(listing.status).toBe(200);
        const page = (await listing.json()) as {
          items: Array<{ key: string; value?: unknown }>;
          complete: boolean;
        };
        expect(page.items.map((i) => i.key)).toEqual(['r.1', 'r.2']);
        expect(page.items.every((i) => i.value === undefined)).toBe(true);
        expect(page.complete).toBe(true);

        // The signature covers the path and the query: another key or prefix does not verify.
        const otherKey = record.url.replace('/entries/report', '/entries/x');
        expect(otherKey).not.toBe(record.url);
        expect(await wireError(await rawFetch(otherKey))).toMatchObject({
          status: 401,
          code: 'unauthenticated',
        });
        const otherPrefix = keys.url.replace('prefix=r.', 'prefix=x');
        expect(otherPrefix).not.toBe(keys.url);
        expect(await wireError(await rawFetch(otherPrefix))).toMatchObject({ status: 401 });
      });

      authIt(
        'rotateSigningSecret invalidates every URL signed before; URLs signed after it work',
        async () => {
          const s = await freshStore('rotate');
          await s.set('report', 'hello');
          const record = await s.createRecordUrl('report', { expiresInSecs: 60 });
          const keys = await s.createKeysUrl({ expiresInSecs: 60 });
          expect((await rawFetch(record.url)).status).toBe(200);
          expect((await rawFetch(keys.url)).status).toBe(200);
          await s.rotateSigningSecret();
          for (const url of [record.url, keys.url]) {
            const error = await wireError(await rawFetch(url));
            expect(error, url).toBeInstanceOf(UnauthenticatedError);
            expect(error).toMatchObject({
              status: 401,
              code: 'unauthenticated',
              details: { reason: 'signature_invalid' },
            });
          }
          // A URL signed after the rotation works again.
          const fresh = await s.createRecordUrl('report', { expiresInSecs: 60 });
          expect(await (await rawFetch(fresh.url)).text()).toBe('hello');
        },
      );

      if (known.size > 0) {
        throw new Error(
          `describeConformance: options.knownFailures names no access-control case: ${[...known].join(', ')}`,
        );
      }
    });

    if (options.additionalTests !== undefined) {
      describe('target-specific cases', () => {
        options.additionalTests?.({ client: () => kv, target: () => target, freshStore });
      });
    }
  });
}
