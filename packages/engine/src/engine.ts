/**
 * `createEngine`: the whole kv protocol (docs/protocol.md) as one Web-standard fetch handler
 * (`Request -> Response`) on `hono`, over a {@link Storage}. The Node server and the msw mock run exactly
 * this code (PRODUCT.md "What it is"; issue 3).
 *
 * Cross-cutting behaviour lives here: the `Kv-Request-Id` header on every response, the JSON error body
 * of every failure (core `toWireError`), 404 `route_not_found` / 405 `method_not_allowed`, request
 * validation errors from the zod schemas, `/healthz`, `/openapi.json`, and the expiry sweeper.
 *
 * @module
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import {
  API_BASE,
  HEADERS,
  isKvError,
  KvError,
  LIMITS,
  matchRoute,
  PayloadTooLargeError,
  ROUTES,
  ValidationError,
} from '@kv/core/protocol';
import { HTTPException } from 'hono/http-exception';
import { signedUrlPrincipal } from './access.js';
import { authenticate, type TokenStore } from './auth.js';
import { commit as commitTo, sweepExpired as sweepRound } from './commit.js';
import type { Authorize, Ctx, EngineContext, EngineEnv } from './context.js';
import { CursorSealer } from './cursor.js';
import { getEntry, putEntry, registerRoutes } from './handlers/index.js';
import { errorResponse, pickRequestId, withHeaders } from './http.js';
import { IdempotencyGuard } from './idempotency.js';
import { isSignedUrl, signedResponseHeaders } from './signing.js';
import type { Storage } from './storage.js';
import { WatchHub, type WatchOptions } from './watch.js';

export type { Grant } from './access.js';
export type { Authorize, AuthorizeContext, EngineAction, EngineEnv } from './context.js';

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** Where data lives (`MemoryStorage`, `SqliteStorage`, PostgreSQL). */
  storage: Storage;
  /**
   * "Now", in epoch milliseconds; tests inject a fake clock to drive expiry.
   * @default Date.now
   * @example createEngine({ storage, clock: () => fakeNow })
   */
  clock?: () => number;
  /**
   * Server-wide cap on a value's size, in bytes. A store's own `maxValueBytes` cannot exceed it.
   * @default 26214400 (25 MiB, LIMITS.defaultMaxValueBytes)
   */
  maxValueBytes?: number;
  /**
   * Largest request body of a raw write or a small JSON route (store settings, expiry), in bytes.
   * Bodies over it are refused with 413 without being buffered whole.
   * @default maxValueBytes + 1 MiB
   */
  maxBodyBytes?: number;
  /**
   * Largest JSON body of a bulk call or atomic commit, in bytes (10,000 base64 values need room).
   * @default 67108864 (64 MiB)
   */
  maxJsonBodyBytes?: number;
  /**
   * New entry ids (opaque strings, stable for the life of a key; AntiRaid `id`).
   * @default crypto.randomUUID
   */
  generateId?: () => string;
  /**
   * Entries expired per sweep round (one `expiredEntries` read, then a transaction per store) by
   * {@link Engine.sweepExpired}.
   * @default 1000
   */
  sweepBatchSize?: number;
  /**
   * Access control with tokens (issue 7; docs/security.md). When given, every route but `/healthz`,
   * `/openapi.json` and signed URLs needs `Authorization: Bearer <token>` for a live token of
   * `auth.tokens` (401 `unauthenticated` otherwise) whose capabilities allow the request (403
   * `forbidden` otherwise); `/v1/tokens` manages the tokens. Without it every request is allowed (tests,
   * the mock without a token); signed URLs are verified either way.
   * @default undefined (no access control)
   * @example createEngine({ storage, auth: { tokens: new MemoryTokenStore() } })
   */
  auth?: { tokens: TokenStore };
  /**
   * An extra access-control hook, called before any work with the action, store, key(s), scopes and
   * principal of the request, before the engine's capability checks; it can only refuse more.
   * @default allow everything
   */
  authorize?: Authorize;
  /**
   * Called with every unexpected (non-`KvError`) error, which the client sees as a 500 `internal` with a
   * generic message, and with sweeper failures. Use it to log.
   * @default ignore
   */
  onError?: (error: unknown, req: Request | undefined) => void;
  /**
   * The public base URL the `url` of a signed URL is built from (docs/security.md "Signed URLs"): an
   * absolute `http`/`https` URL, optionally with the path prefix under which a proxy serves the engine
   * (`https://example.com/kv` gives `https://example.com/kv/v1/...`). Never taken from the request's
   * `Host` header, which a client chooses. A function is read at each signing (a server learns its port
   * once listening).
   * @default 'http://localhost'
   * @example createEngine({ storage, publicUrl: 'https://kv.example.com' })
   * @throws {TypeError} from {@link createEngine} (or at signing, for a function) when not such a URL
   */
  publicUrl?: string | (() => string);
  /**
   * Watch tuning: heartbeat interval, cross-instance poll interval, batch size (docs/protocol.md "Watch").
   * @default { heartbeatMs: 15000, pollIntervalMs: 1000, batchSize: 256 }
   */
  watch?: WatchOptions;
}

/** A running engine: the fetch handler and its services. */
export interface Engine {
  /** Answers one request of the protocol. Never rejects: failures are JSON error responses. */
  fetch(req: Request): Promise<Response>;
  /** The hono app (mount it in a larger app, or add routes such as `/metrics`). */
  app: OpenAPIHono<EngineEnv>;
  /** The storage the engine runs on. */
  storage: Storage;
  /**
   * Expires every entry whose `expiresAt <= nowMs`, in batches of `sweepBatchSize`, each as an `expire`
   * write (revision bump, tombstone in history, change-log row for watchers).
   *
   * @param nowMs - "now", epoch ms @default the engine clock
   * @returns how many entries were expired
   */
  sweepExpired(nowMs?: number): Promise<number>;
  /**
   * Runs {@link Engine.sweepExpired} every `intervalMs` (one run at a time). The timer is `unref`'d where
   * the runtime supports it, so it never keeps a Node process alive. Calling it again restarts the timer.
   *
   * @param intervalMs - period in ms @default 1000
   */
  startSweeper(intervalMs?: number): void;
  /** Stops the sweeper and ends open watch streams, waits for a running sweep, then closes the storage. */
  close(): Promise<void>;
}

/** Default of {@link EngineOptions.maxJsonBodyBytes}: 64 MiB. */
export const DEFAULT_MAX_JSON_BODY_BYTES: number = 64 * 1024 * 1024;

/** Default of {@link EngineOptions.publicUrl}. */
export const DEFAULT_PUBLIC_URL = 'http://localhost';

/**
 * Normalizes a public base URL: absolute `http`/`https`, no query or fragment, no trailing `/`.
 *
 * @throws {TypeError} otherwise
 */
function normalizePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`publicUrl must be an absolute http(s) URL, got "${text}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new TypeError(`publicUrl must be an http(s) URL without query or fragment, got "${text}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** {@link EngineOptions.publicUrl} as a getter of the normalized base (a string is checked at once). */
function publicUrlOf(option: string | (() => string)): () => string {
  if (typeof option === 'function') return () => normalizePublicUrl(option());
  const base = normalizePublicUrl(option);
  return () => base;
}

/**
 * CORS headers of every answer to a signed URL: a signed URL is public (it needs no credentials), so any
 * origin may read the answer and its entry headers with a plain `fetch` (issue 7).
 */
const SIGNED_CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': [
    'content-type',
    'content-length',
    'etag',
    'cache-control',
    ...Object.values(HEADERS),
  ].join(', '),
};

/** The answer to a CORS preflight of a signed URL (needed when the browser sends e.g. `If-None-Match`). */
function signedPreflight(c: Ctx): Response {
  return new Response(null, {
    status: 204,
    headers: {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': c.req.header('access-control-request-headers') ?? '',
      'access-control-max-age': '600',
    },
  });
}

/**
 * The literal pieces around `{store}` and `{key}` of the single-entry template of core's route table
 * (`ROUTES.getEntry`, also `ROUTES.putEntry`): `['/v1/stores/', '/entries/']`, for {@link fastRoute}.
 */
const [ENTRY_PREFIX, ENTRY_MIDDLE] = ((): [string, string] => {
  const parts = ROUTES.getEntry.template.split(/\{[^}]+\}/);
  if (parts.length !== 3 || parts[2] !== '' || ROUTES.putEntry.template !== ROUTES.getEntry.template) {
    throw new Error(`fastRoute expects /<prefix>{store}<middle>{key}, not ${ROUTES.getEntry.template}`);
  }
  return [parts[0] as string, parts[1] as string];
})();

/**
 * Whether a request can take the engine's single-entry fast path, and which: `GET`/`HEAD` (`'get'`) or
 * `PUT` (`'put'`) of exactly `/v1/stores/{store}/entries/{key}` (two non-empty segments, no query
 * string or fragment), whose headers pass the route's zod header schema (`PutEntryHeaders`; the read
 * route's headers always do). Anything else, including what the schema would refuse, goes through
 * the app, which answers with the validation error.
 *
 * The template's pieces come from the route table, but the match is a hand-written scan of the URL
 * rather than `matchRoute`: that one splits the path, walks the table's shapes and decodes both
 * parameters (which the handler does again): about 0.5 µs more per request, 1-4% of an in-process
 * GET (docs/architecture.md "fast path").
 */
function fastRoute(req: Request): 'get' | 'put' | undefined {
  const method = req.method;
  const put = method === 'PUT';
  if (!put && method !== 'GET' && method !== 'HEAD') return undefined;
  const url = req.url;
  const scheme = url.indexOf('://');
  if (scheme === -1) return undefined;
  const start = url.indexOf('/', scheme + 3);
  if (start === -1 || !url.startsWith(ENTRY_PREFIX, start)) return undefined;
  if (url.indexOf('?', start) !== -1 || url.indexOf('#', start) !== -1) return undefined;
  const storeStart = start + ENTRY_PREFIX.length;
  const storeEnd = url.indexOf('/', storeStart);
  if (storeEnd <= storeStart || !url.startsWith(ENTRY_MIDDLE, storeEnd)) return undefined;
  const keyStart = storeEnd + ENTRY_MIDDLE.length;
  if (keyStart >= url.length || url.indexOf('/', keyStart) !== -1) return undefined;
  if (put && !putHeadersPassSchema(req.headers)) return undefined;
  return put ? 'put' : 'get';
}

/** Whether `PutEntryHeaders` (schemas.ts) accepts these headers: the checks of its non-string fields. */
function putHeadersPassSchema(headers: Headers): boolean {
  const ttl = headers.get(HEADERS.ttlMs);
  if (ttl !== null && !/^\d{1,16}$/.test(ttl)) return false;
  const resume = headers.get(HEADERS.resume);
  if (resume !== null && resume !== 'true' && resume !== 'false') return false;
  const ifNotExists = headers.get(HEADERS.ifNotExists);
  if (ifNotExists !== null && ifNotExists !== 'true' && ifNotExists !== 'false') return false;
  const ifNoneMatch = headers.get('if-none-match');
  return ifNoneMatch === null || ifNoneMatch === '*';
}

/**
 * Creates the engine.
 *
 * @example
 * const engine = createEngine({ storage: new MemoryStorage() });
 * const res = await engine.fetch(new Request('http://kv.test/v1/stores', { method: 'POST',
 *   headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'orders' }) }));
 */
export function createEngine(options: EngineOptions): Engine {
  // Every commit and sweep through the engine wakes the watchers of the store it touched: ctx.commit
  // and sweepExpired below are the engine's only writes (the storage is never wrapped).
  const storage = options.storage;
  const watchHub = new WatchHub(storage, options.watch?.pollIntervalMs);
  const commit: EngineContext['commit'] = async (store, request) => {
    const result = await commitTo(storage, store, request);
    if (result.ok) watchHub.notify(store);
    return result;
  };
  const clock = options.clock ?? Date.now;
  const maxValueBytes = options.maxValueBytes ?? LIMITS.defaultMaxValueBytes;
  const onError = options.onError ?? (() => {});
  const ctx: EngineContext = {
    storage,
    commit,
    clock,
    maxValueBytes,
    maxBodyBytes: options.maxBodyBytes ?? maxValueBytes + 1024 * 1024,
    maxJsonBodyBytes: options.maxJsonBodyBytes ?? DEFAULT_MAX_JSON_BODY_BYTES,
    generateId: options.generateId ?? (() => crypto.randomUUID()),
    authorize: options.authorize ?? (() => true),
    tokens: options.auth?.tokens,
    idempotency: new IdempotencyGuard(storage, clock),
    watchHub,
    watchOptions: options.watch ?? {},
    cursors: new CursorSealer(),
    publicUrl: publicUrlOf(options.publicUrl ?? DEFAULT_PUBLIC_URL),
  };
  const sweepBatchSize = options.sweepBatchSize ?? 1000;

  const app = new OpenAPIHono<EngineEnv>({
    defaultHook: (result) => {
      if (!result.success) throw zodToKvError(result.error, result.target);
    },
  });

  app.use('*', async (c, next) => {
    const requestId = pickRequestId(c.req.header(HEADERS.requestId));
    c.set('requestId', requestId);
    await next();
    try {
      c.res.headers.set(HEADERS.requestId, requestId);
    } catch {
      // Immutable headers (a Response from elsewhere): copy it.
      const res = new Response(c.res.body, c.res);
      res.headers.set(HEADERS.requestId, requestId);
      c.res = undefined;
      c.res = res;
    }
  });

  // Authentication (issue 7): a signed URL carries its own grant; otherwise the bearer token, when the
  // engine checks tokens. Capabilities are checked per route (access.ts).
  app.use(`${API_BASE}/*`, async (c, next) => {
    // Cheap test first: most requests carry no signature and need no URL parsing.
    const url = c.req.url.includes('signature=') ? new URL(c.req.url) : undefined;
    if (url !== undefined && isSignedUrl(url)) {
      if (c.req.method === 'OPTIONS') return signedPreflight(c);
      try {
        c.set('principal', await signedUrlPrincipal(storage, c.req.method, url, clock()));
      } catch (error) {
        if (!isKvError(error)) throw error;
        return withHeaders(errorResponse(error), { ...SIGNED_CORS, ...signedResponseHeaders(null) });
      }
      await next();
      // nosniff on every answer; a value of a type that could run script is a download (signing.ts).
      const res = withHeaders(c.res, {
        ...SIGNED_CORS,
        ...signedResponseHeaders(c.res.headers.get('content-type')),
      });
      if (res !== c.res) {
        c.res = undefined;
        c.res = res;
      }
      return;
    }
    if (ctx.tokens !== undefined && c.req.method !== 'OPTIONS') {
      c.set('principal', await authenticate(ctx.tokens, c.req.header('authorization') ?? null, clock()));
    }
    await next();
  });

  /** The error response of a failed request: KvErrors as they are, the rest 500 (reported to onError). */
  const failure = (error: unknown, req: Request): Response => {
    if (error instanceof HTTPException) {
      const code =
        error.status === 415
          ? 'unsupported_media_type'
          : error.status === 413
            ? 'payload_too_large'
            : undefined;
      if (error.status === 400)
        return errorResponse(new ValidationError(error.message, { details: { field: 'body' } }));
      if (code !== undefined) return errorResponse(new KvError(error.message, { code }));
      return errorResponse(new KvError(error.message, { status: error.status }));
    }
    if (!isKvError(error) || error.status >= 500) onError(error, req);
    return errorResponse(error);
  };
  app.onError((error, c) => failure(error, c.req.raw));

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    // The router answers every match of the table; what is left is a path of the table with another
    // method (405 with the methods it has) or no route at all (404).
    const lookup = matchRoute(c.req.method, path);
    if (lookup.kind === 'method_not_allowed') {
      // The table's methods in its order, then HEAD where GET is (as the Allow header always read).
      const methods = lookup.allow.filter((m) => m !== 'HEAD');
      const allow = methods.includes('GET') ? [...methods, 'HEAD'] : methods;
      return errorResponse(
        new KvError(`${c.req.method} is not allowed on this route; use ${allow.join(', ')}`, {
          code: 'method_not_allowed',
          details: { allow },
        }),
        { allow: allow.join(', ') },
      );
    }
    return errorResponse(
      new KvError(`No route for ${c.req.method} ${path}`, { code: 'route_not_found', details: { path } }),
    );
  });

  registerRoutes(app, ctx);

  /**
   * The single-entry fast path: `GET`/`HEAD`/`PUT /v1/stores/{store}/entries/{key}` (no query string) run
   * the route's own handler directly, doing what the hono middleware and validators would do (request
   * id, bearer authentication, error responses) without routing, a hono context or zod. Requests the
   * validators would refuse, and signed URLs, are left to the app, so every answer is the app's.
   */
  const fastEntry = async (req: Request, route: 'get' | 'put'): Promise<Response> => {
    const requestId = { [HEADERS.requestId]: pickRequestId(req.headers.get(HEADERS.requestId)) };
    try {
      const principal =
        ctx.tokens === undefined
          ? undefined
          : await authenticate(ctx.tokens, req.headers.get('authorization'), clock());
      // The handlers put the request id in the headers they build (no Headers object to amend).
      return route === 'get'
        ? await getEntry(ctx, req, principal, requestId)
        : await putEntry(ctx, req, principal, requestId);
    } catch (error) {
      const res = withHeaders(failure(error, req), requestId);
      // As hono answers HEAD: the GET answer without its body.
      return req.method === 'HEAD' ? new Response(null, res) : res;
    }
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<unknown> | undefined;

  const sweepExpired = async (nowMs?: number): Promise<number> => {
    const now = nowMs ?? clock();
    let total = 0;
    // Bounded: each round removes what it reports, so this ends; the cap guards a faulty storage.
    for (let round = 0; round < 100_000; round++) {
      const { expired, stores } = await sweepRound(storage, now, sweepBatchSize);
      for (const store of stores) watchHub.notify(store);
      total += expired;
      if (expired < sweepBatchSize) break;
    }
    return total;
  };

  return {
    app,
    storage,
    fetch: async (req) => {
      try {
        const fast = fastRoute(req);
        if (fast !== undefined) return await fastEntry(req, fast);
        return await app.fetch(req);
      } catch (error) {
        onError(error, req);
        const res = errorResponse(error);
        res.headers.set(HEADERS.requestId, pickRequestId(req.headers.get(HEADERS.requestId)));
        return res;
      }
    },
    sweepExpired,
    startSweeper(intervalMs = 1000) {
      if (timer !== undefined) clearInterval(timer);
      timer = setInterval(() => {
        if (running !== undefined) return;
        running = sweepExpired()
          .catch((error: unknown) => onError(error, undefined))
          .finally(() => {
            running = undefined;
          });
      }, intervalMs);
      const t = timer as unknown as { unref?: unknown };
      if (typeof t === 'object' && t !== null && typeof t.unref === 'function') (t.unref as () => void)();
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      watchHub.close();
      await running;
      await storage.close();
    },
  };
}

/** JSON body fields whose length is the 10,000-item bulk limit (bulk get/set/delete, atomic). */
const BULK_LIST_FIELDS: ReadonlySet<string> = new Set(['keys', 'items', 'checks', 'mutations']);

/**
 * A zod validation failure as a kv error: 413 for a bulk list over 10,000 items (docs/protocol.md
 * "Bulk"), 400 `validation_error` naming the field and its limit for any other list that is too long
 * (e.g. a token's 256 capabilities), else 400 with the first issue.
 */
function zodToKvError(
  error: {
    issues: ReadonlyArray<{
      code: string;
      path: PropertyKey[];
      message: string;
      origin?: string;
      maximum?: unknown;
    }>;
  },
  target: string,
): KvError {
  const issues = error.issues.slice(0, 20).map((i) => ({
    path: i.path.map(String).join('.'),
    code: i.code,
    message: i.message,
  }));
  const first = error.issues[0];
  const tooMany = error.issues.find(
    (i) => i.code === 'too_big' && i.origin === 'array' && i.path.length === 1 && target === 'json',
  );
  if (tooMany !== undefined) {
    const field = String(tooMany.path[0]);
    if (BULK_LIST_FIELDS.has(field) && Number(tooMany.maximum) === LIMITS.maxBulkItems) {
      return new PayloadTooLargeError(`At most ${LIMITS.maxBulkItems} items per request`, {
        details: { field, maxItems: LIMITS.maxBulkItems },
      });
    }
    const maxItems = Number(tooMany.maximum);
    return new ValidationError(`Invalid body: ${field}: at most ${maxItems} ${field} allowed`, {
      details: { field, reason: 'too_many', maxItems, target, issues },
    });
  }
  const where = first === undefined || first.path.length === 0 ? target : first.path.map(String).join('.');
  const field = target === 'json' ? where : first?.path.map(String).join('.') || target;
  return new ValidationError(
    `Invalid ${target === 'json' ? 'body' : target}: ${where}: ${first?.message ?? 'invalid'}`,
    {
      details: { field, target, issues },
    },
  );
}
