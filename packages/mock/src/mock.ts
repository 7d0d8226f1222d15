import {
  type KvSetValue,
  preparedBytes,
  prepareWrite,
  putHeaders,
  routes,
  type SetOptions,
} from '@kv/core/protocol';
import { createEngine, type Engine, hashToken, MemoryStorage, MemoryTokenStore } from '@kv/engine';
import { delay, HttpResponse, http, type RequestHandler } from 'msw';

type Scheduler = (callback: () => void) => void;

let scheduler: Scheduler | undefined;

/**
 * The cheapest macrotask scheduler of the runtime, chosen on first use: `setImmediate` in Node (it runs
 * after the timers phase, so due timers fire first), a `MessageChannel` message in browsers and workers,
 * `setTimeout` elsewhere.
 */
function scheduleMacrotask(callback: () => void): void {
  scheduler ??= pickScheduler();
  scheduler(callback);
}

function pickScheduler(): Scheduler {
  /** The part of the DOM's `MessageChannel` used here (core's lib has no DOM types). */
  interface Channel {
    port1: { onmessage: (() => void) | null };
    port2: { postMessage(message: null): void };
  }
  const g = globalThis as unknown as { setImmediate?: Scheduler; MessageChannel?: new () => Channel };
  const setImmediate = g.setImmediate;
  if (typeof setImmediate === 'function') return (callback) => setImmediate(callback);
  if (typeof g.MessageChannel === 'function') {
    const channel = new g.MessageChannel();
    const queue: Array<() => void> = [];
    channel.port1.onmessage = () => queue.shift()?.();
    return (callback) => {
      queue.push(callback);
      channel.port2.postMessage(null);
    };
  }
  return (callback) => setTimeout(callback, 0);
}

/** Resolves in a later macrotask of the event loop (see {@link scheduleMacrotask}). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => scheduleMacrotask(resolve));
}

/**
 * A fault to inject into matching requests, for testing client resilience (timeouts, retries, error
 * handling). Every rule whose `method` and `path` match a request applies to it, per kind of fault: the
 * latencies of all matching rules add up, then the matching rules are tried in order for a drop or a
 * failure and the first one that triggers decides the outcome. So a global latency rule combines with a
 * per-route failure rule. A request that got through is handled, and then loses its response when a
 * matching rule's `lostResponseRate` triggers.
 */
export interface FaultRule {
  /** HTTP method to match (`GET`, `PUT`, ...); any method when omitted. */
  method?: string;
  /** Path to match: a string prefix of the URL path (e.g. `/v1/stores/orders/entries`) or a RegExp; any path when omitted. */
  path?: string | RegExp;
  /** Added latency in ms before the request is handled: a fixed value or a `[min, max]` range drawn from the seeded PRNG. */
  latencyMs?: number | [number, number];
  /** Probability (0-1) that the request fails with `failureStatus` instead of reaching the engine. @default 0 */
  failureRate?: number;
  /** Status of injected failures; 429 responses carry `Retry-After: 0`. @default 503 */
  failureStatus?: number;
  /** Probability (0-1) that the connection is dropped (msw `HttpResponse.error()`: the client sees a network error). @default 0 */
  dropRate?: number;
  /**
   * Probability (0-1) that the request IS handled by the engine (a write is applied) and then its
   * response is lost: the connection is dropped as with `dropRate`, so the client sees a network error
   * and retries. The fault that makes a retried write without an idempotency key apply twice.
   * @default 0
   */
  lostResponseRate?: number;
}

/** One entry to seed: the value and the same options `set` takes (`ttlMs`, `metadata`, `scopes`, ...). */
export interface SeedEntry extends SetOptions {
  /** The value: JSON-serializable, string or bytes, encoded like the clients encode it. */
  value: unknown;
}

/**
 * Seed data: store name -> key -> value (or a {@link SeedEntry} when you pass `{ value, ...options }`
 * inside an `entries` wrapper). Stores are created when missing.
 *
 * @example
 * ```ts
 * mock.seed({ orders: { 'order.1': { total: 10 }, 'order.2': 'pending' } });
 * mock.seed({ orders: { entries: { 'order.3': { value: 1, ttlMs: 60_000 } } } });
 * ```
 */
export type SeedData = Record<string, Record<string, unknown> | { entries: Record<string, SeedEntry> }>;

/** Options of {@link createKvMock}. */
export interface KvMockOptions {
  /** Origin (and optional path prefix) the client talks to, e.g. `http://kv.test`. Requests under it are handled. */
  baseUrl: string;
  /**
   * Turns access control on (docs/security.md): the engine then requires
   * `Authorization: Bearer <token>` on every route but `/healthz` and `/openapi.json` (401 without it),
   * and this token is an admin token (capability `*`). Create narrower tokens with `client.tokens.create`.
   * Without `token`, every request is allowed.
   * @default undefined (no access control)
   * @example createKvMock({ baseUrl: 'http://kv.test', token: 'test-admin-token' })
   */
  token?: string;
  /** Data created before the first request (see {@link SeedData}). Call `seed()` after `reset()` to re-seed. */
  seed?: SeedData;
  /** Faults injected into matching requests. Change them later with `mock.setFaults()`. */
  faults?: FaultRule[];
  /**
   * Seed of the PRNG that decides latency ranges, failures and drops, so a test run is repeatable. Each
   * request draws from one sequence in the order requests reach the mock: the same seed gives the same
   * outcomes for requests issued one after the other; concurrent requests share the sequence in whatever
   * order they arrive. `reset()` restarts the sequence.
   * @default 1
   */
  randomSeed?: number;
  /** Clock for the engine (ms since epoch); inject a fake one to test TTL expiry. @default Date.now */
  clock?: () => number;
  /** How often the engine's expiry sweeper runs, in ms (its timer never keeps the process alive). @default 250 */
  sweepIntervalMs?: number;
}

/** What {@link createKvMock} returns. */
export interface KvMock {
  /**
   * The `baseUrl` it was created with, without a trailing slash: the URL to give the client.
   * @example createClient({ url: mock.url })
   */
  readonly url: string;
  /** msw handlers: pass them to `setupServer(...mock.handlers)` (msw/node) or `setupWorker` (msw/browser). */
  handlers: RequestHandler[];
  /** The engine answering requests (the same code the server runs). */
  readonly engine: Engine;
  /** Its in-memory storage. */
  readonly storage: MemoryStorage;
  /** Its tokens when `token` turned access control on (the admin token first), else undefined. */
  readonly tokens: MemoryTokenStore | undefined;
  /** Drops all stores and data (a fresh `MemoryStorage`) and clears faults back to the initial ones. */
  reset(): Promise<void>;
  /** Creates stores as needed and writes the given entries through the engine. */
  seed(data: SeedData): Promise<void>;
  /** Replaces the fault rules. `[]` turns faults off. */
  setFaults(faults: FaultRule[]): void;
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ruleMatches(rule: FaultRule, method: string, path: string): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? path.startsWith(rule.path) : rule.path.test(path);
}

/** The JSON error answer of an injected failure; a 429 carries `Retry-After: 0`. */
function injectedFailure(status: number): Response {
  const headers: Record<string, string> = {};
  if (status === 429) headers['retry-after'] = '0';
  return HttpResponse.json(
    {
      error: { code: status === 429 ? 'rate_limited' : 'unavailable', message: `Injected fault (${status})` },
    },
    { status, headers },
  );
}

/**
 * Creates msw handlers that answer every request under `baseUrl` with the real kv engine on
 * `MemoryStorage` (one implementation: the server runs the same engine). Semantics of every route:
 * docs/protocol.md.
 *
 * @example
 * ```ts
 * const mock = createKvMock({ baseUrl: 'http://kv.test', seed: { app: { greeting: 'hi' } } });
 * const server = setupServer(...mock.handlers);
 * server.listen({ onUnhandledRequest: 'error' });
 * ```
 * @throws {TypeError} when `baseUrl` is not an absolute URL.
 */
export function createKvMock(options: KvMockOptions): KvMock {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const initialFaults = options.faults ?? [];
  let faults = initialFaults;
  let random = prng(options.randomSeed ?? 1);
  const token = options.token;
  if (token !== undefined && !/^[\x21-\x7e]{1,512}$/.test(token)) {
    throw new TypeError('kv mock: `token` must be 1-512 visible ASCII characters (it travels in a header)');
  }
  const adminHeaders: Record<string, string> =
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  const makeEngine = (): {
    engine: Engine;
    storage: MemoryStorage;
    tokens: MemoryTokenStore | undefined;
    ready: Promise<void>;
  } => {
    const storage = new MemoryStorage();
    // Signed URLs point at the mock itself (its base URL, prefix included), like a server's --public-url.
    const engineOptions: Parameters<typeof createEngine>[0] = {
      storage,
      publicUrl: `${base.origin}${prefix}`,
    };
    if (options.clock) engineOptions.clock = options.clock;
    let tokens: MemoryTokenStore | undefined;
    let ready: Promise<void> = Promise.resolve();
    if (token !== undefined) {
      const store = new MemoryTokenStore();
      tokens = store;
      engineOptions.auth = { tokens: store };
      // The admin token is stored hashed, like every token (the engine never keeps a secret).
      ready = (async () => {
        await store.insert({
          id: 'tok_mock_admin',
          hash: await hashToken(token),
          capabilities: ['*'],
          description: 'kv mock admin token',
          createdAt: (options.clock ?? Date.now)(),
          expiresAt: null,
          revokedAt: null,
        });
      })();
    }
    const engine = createEngine(engineOptions);
    // Like the server: expired entries become `expire` writes that watchers see (reads hide them at once).
    engine.startSweeper(options.sweepIntervalMs ?? 250);
    return { engine, storage, tokens, ready };
  };
  let current = makeEngine();
  let pendingSeed: Promise<void> | undefined;

  /** Applies every matching rule: latencies add up; the first drop or failure that triggers decides. */
  const injectFaults = async (method: string, path: string): Promise<Response | undefined> => {
    const matching = faults.filter((r) => ruleMatches(r, method, path));
    if (matching.length === 0) return undefined;
    let latencyMs = 0;
    for (const rule of matching) {
      if (rule.latencyMs === undefined) continue;
      const [min, max] = Array.isArray(rule.latencyMs) ? rule.latencyMs : [rule.latencyMs, rule.latencyMs];
      latencyMs += min === max ? min : min + (max - min) * random();
    }
    // Decide before waiting, so a request's draws do not interleave with those of requests sent meanwhile.
    let outcome: Response | undefined;
    for (const rule of matching) {
      if (rule.dropRate !== undefined && random() < rule.dropRate) {
        outcome = HttpResponse.error();
        break;
      }
      if (rule.failureRate !== undefined && random() < rule.failureRate) {
        outcome = injectedFailure(rule.failureStatus ?? 503);
        break;
      }
    }
    if (latencyMs > 0) await delay(Math.round(latencyMs));
    return outcome;
  };

  /** Whether a matching rule's `lostResponseRate` triggers for this request (drawn before it is handled). */
  const loseResponse = (method: string, path: string): boolean =>
    faults.some(
      (r) =>
        r.lostResponseRate !== undefined && ruleMatches(r, method, path) && random() < r.lostResponseRate,
    );

  const handle = async (request: Request): Promise<Response> => {
    // A socket answers in a later macrotask; msw alone answers in microtasks, which would starve timers
    // in a user's `while (!stop) await store.set(...)` loop. Yield once per request, as a socket would.
    await yieldToEventLoop();
    await current.ready;
    if (pendingSeed) await pendingSeed;
    const url = new URL(request.url);
    const path = url.pathname.slice(prefix.length) || '/';
    const injected = await injectFaults(request.method, path);
    if (injected) return injected;
    const lost = loseResponse(request.method, path);
    // The engine sees the path without the mock's prefix, exactly as the server would.
    const target = new URL(path + url.search, 'http://kv.mock');
    const init: RequestInit = { method: request.method, headers: request.headers };
    if (request.method !== 'GET' && request.method !== 'HEAD' && request.body) {
      const body = await request.arrayBuffer();
      if (body.byteLength > 0) init.body = body;
    }
    const response = await current.engine.fetch(new Request(target, init));
    if (!lost) return response;
    await response.body?.cancel();
    return HttpResponse.error();
  };

  const seed = async (data: SeedData): Promise<void> => {
    await current.ready;
    for (const [store, content] of Object.entries(data)) {
      const exists = await current.engine.fetch(
        new Request(`http://kv.mock${routes.store(store)}`, { headers: adminHeaders }),
      );
      if (exists.status === 404) {
        const res = await current.engine.fetch(
          new Request(`http://kv.mock${routes.stores()}`, {
            method: 'POST',
            headers: { ...adminHeaders, 'content-type': 'application/json' },
            body: JSON.stringify({ name: store }),
          }),
        );
        if (!res.ok) throw new Error(`kv mock: cannot create store ${store}: ${await res.text()}`);
      }
      const entries: Record<string, SeedEntry> =
        'entries' in content && typeof content.entries === 'object' && content.entries !== null
          ? (content.entries as Record<string, SeedEntry>)
          : Object.fromEntries(Object.entries(content).map(([k, v]) => [k, { value: v }]));
      for (const [key, entry] of Object.entries(entries)) {
        // The client's own write path: the same checks and headers as `set` (conditions ignored).
        const write = prepareWrite(key, entry.value as KvSetValue, entry, null);
        const headers = { ...adminHeaders, ...putHeaders(write) };
        // Encoded bytes are never a view of a SharedArrayBuffer; the DOM lib's `BodyInit` (the mock also
        // compiles for browsers) accepts only ArrayBuffer-backed views.
        const body = (await preparedBytes(write)) as Uint8Array<ArrayBuffer>;
        const res = await current.engine.fetch(
          new Request(`http://kv.mock${routes.entry(store, key)}`, { method: 'PUT', headers, body }),
        );
        if (!res.ok) throw new Error(`kv mock: cannot seed ${store}/${key}: ${await res.text()}`);
      }
    }
  };

  if (options.seed) pendingSeed = seed(options.seed);

  const pattern = `${base.origin}${prefix}/*`;
  return {
    url: `${base.origin}${prefix}`,
    handlers: [http.all(pattern, ({ request }) => handle(request))],
    get engine() {
      return current.engine;
    },
    get storage() {
      return current.storage;
    },
    get tokens() {
      return current.tokens;
    },
    async reset() {
      await current.engine.close();
      current = makeEngine();
      faults = initialFaults;
      random = prng(options.randomSeed ?? 1);
      pendingSeed = undefined;
    },
    async seed(data) {
      await seed(data);
    },
    setFaults(next) {
      faults = next;
    },
  };
}
