/**
 * The route handlers of docs/protocol.md, registered on the engine's `OpenAPIHono` app with the route
 * definitions of `routes.ts` (so the request schemas the handlers validate with are the ones
 * `/openapi.json` shows). Raw-value routes (`GET`/`HEAD`/`PUT` entry, get by id) move bytes; everything
 * else is JSON.
 *
 * @module
 */
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import {
  formatEtag,
  HEADERS,
  isKvError,
  KvError,
  LIMITS,
  NotFoundError,
  RevisionMismatchError,
  routes,
  unionGrants,
  ValidationError,
  validateKey,
  validateKeyPrefix,
  validateScope,
  validateStoreConfig,
  validateStoreName,
} from '@kv/core/protocol';
import type { z } from 'zod';
import {
  authorize,
  authorizeRequest,
  canRead,
  canWrite,
  defaultGrant,
  FULL_GRANT,
  forbidden,
  type Grant,
  grantScopesParam,
  intersectGrants,
  readFilter,
  storeReadGrant,
} from './access.js';
import { authenticate, createToken, type Principal, toTokenInfo } from './auth.js';
import type { Ctx, EngineAction, EngineContext, EngineEnv } from './context.js';
import {
  decodeSegment,
  entryHeaders,
  ifNoneMatchHits,
  isJsonContentType,
  jsonResponse,
  rawPathSegments,
  readBodyLimited,
  toStoreInfo,
  toWireEntry,
  toWireHistoryItem,
  withHeaders,
} from './http.js';
import { checkJsonDepth, KEYS_JSON_BODY_BYTES, SMALL_JSON_BODY_BYTES } from './json-limits.js';
import { type ListRequest, listPage } from './listing.js';
import {
  effectiveMaxValueBytes,
  entryPath,
  entryPathOf,
  futureTime,
  idPath,
  ifMatchPrecondition,
  jsonWriteToPut,
  keyNotFound,
  parsePutHeaders,
  preconditionError,
  requireStore,
  resolveExpiry,
  storePath,
  valueTooLarge,
} from './requests.js';
import * as R from './routes.js';
import type {
  AtomicBody,
  BulkDeleteBody,
  BulkGetBody,
  BulkSetBody,
  CreateStoreBody,
  CreateTokenBody,
  DeleteQuery,
  HistoryQuery,
  ListQuery,
  SetExpiryBody,
  SignedUrlBody,
  UpdateStoreBody,
} from './schemas.js';
import { SIGNED_SCOPES_PARAM, signUrl } from './signing.js';
import type { Mutation, MutationResult, Precondition, PutOp, StoredEntry } from './storage.js';
import { openWatchStream, parseWatchQuery } from './watch.js';
import { type AtomicGrants, commitGuardedAtomic, commitGuardedEach, commitGuardedOne } from './writes.js';

type App = OpenAPIHono<EngineEnv>;
type Handler = (c: Ctx) => Promise<Response>;

/** The validated data of `target`, typed by the schema that validated it. */
function valid<S extends z.ZodType>(c: Ctx, target: 'json' | 'query'): z.output<S> {
  return (c.req.valid as (t: string) => unknown)(target) as z.output<S>;
}

/** What a JSON-body route reads: its byte limit and the actions one of which the caller must hold. */
interface JsonBodySpec {
  /** Largest body, bytes (413 past it). */
  limitBytes: number;
  /** The caller needs a grant for at least one of these on the route's store, before the body is read. */
  actions: readonly EngineAction[];
  /** Whether the path names a store (`/v1/stores/{store}/...`) the actions apply to. */
  storeInPath: boolean;
}

/**
 * Middleware of JSON-body routes, in this order: refuses a caller without any of the route's
 * capabilities (403, before a byte of the body is read: the handler's full check, with the `authorize`
 * hook, runs later), 415 unless `Content-Type` is JSON, reads the body within the route's limit (413
 * past it, without buffering the rest), refuses JSON nested deeper than `MAX_JSON_DEPTH` (400,
 * before parsing), then hands the text to the validator.
 */
function jsonBody(spec: JsonBodySpec) {
  return async (c: Ctx, next: () => Promise<void>): Promise<void> => {
    const principal = c.get('principal');
    if (principal !== undefined) {
      const store = spec.storeInPath ? storePath(c) : undefined;
      if (!spec.actions.some((action) => defaultGrant(principal, action, store) !== null)) {
        throw forbidden(spec.actions[0] as EngineAction);
      }
    }
    if (!isJsonContentType(c.req.header('content-type'))) {
      throw new KvError('This route takes a JSON body (Content-Type: application/json)', {
        code: 'unsupported_media_type',
        details: { field: 'Content-Type' },
      });
    }
    const bytes = await readBodyLimited(c.req.raw, spec.limitBytes);
    checkJsonDepth(bytes);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ValidationError('Request body is not valid UTF-8', { details: { field: 'body' } });
    }
    c.set('bodyBytes', bytes);
    // hono caches body promises (typed as their values): the validator's `c.req.json()` parses this text.
    c.req.bodyCache.text = Promise.resolve(text) as unknown as string;
    await next();
  };
}

function register(app: App, route: RouteConfig, handler: Handler, body?: JsonBodySpec): void {
  const withBody = body === undefined ? route : { ...route, middleware: [jsonBody(body)] };
  app.openapi(withBody as RouteConfig, handler as never);
}

/** Runs a write under the idempotency guard (no-op without an `Idempotency-Key` header). */
function idempotent(
  ctx: EngineContext,
  c: Ctx,
  store: string,
  body: Uint8Array,
  execute: () => Promise<Response>,
): Promise<Response> {
  return ctx.idempotency.run({ req: c.req.raw, store, body, execute });
}

const EMPTY = new Uint8Array(0);

/** Registers every route of the protocol except the service routes. */
export function registerRoutes(app: App, ctx: EngineContext): void {
  const { storage } = ctx;
  // Each JSON route reads what it can legitimately need (json-limits.ts; docs/security.md).
  const jsonLimit = Math.min(ctx.maxBodyBytes, ctx.maxJsonBodyBytes);
  const small = (actions: readonly EngineAction[], storeInPath = true): JsonBodySpec => ({
    limitBytes: Math.min(SMALL_JSON_BODY_BYTES, jsonLimit),
    actions,
    storeInPath,
  });
  const keysBody = (action: EngineAction): JsonBodySpec => ({
    limitBytes: Math.min(KEYS_JSON_BODY_BYTES, ctx.maxJsonBodyBytes),
    actions: [action],
    storeInPath: true,
  });
  // Bulk set and atomic commits carry values: bounded by maxJsonBodyBytes only.
  const valuesBody = (actions: readonly EngineAction[]): JsonBodySpec => ({
    limitBytes: ctx.maxJsonBodyBytes,
    actions,
    storeInPath: true,
  });

  // -------------------------------------------------------------------------------------------------
  // Stores

  register(app, R.listStoresRoute, async (c) => {
    await authorize(ctx, c, 'stores');
    const stores = await storage.listStores();
    return jsonResponse({ items: stores.map(toStoreInfo) });
  });

  register(
    app,
    R.createStoreRoute,
    async (c) => {
      const body = valid<typeof CreateStoreBody>(c, 'json');
      const name = validateStoreName(body.name);
      await authorize(ctx, c, 'stores', { store: name });
      const { name: _n, ...settings } = body;
      const config = validateStoreConfig(settings, false);
      const maxValueBytes = checkStoreMaxValue(ctx, settings.maxValueBytes);
      return idempotent(ctx, c, '', c.get('bodyBytes'), async () => {
        const record = await storage.createStore(
          name,
          {
            history: config.history ?? LIMITS.minHistory,
            defaultTtlMs: config.defaultTtlMs ?? null,
            maxValueBytes: maxValueBytes ?? Math.min(LIMITS.defaultMaxValueBytes, ctx.maxValueBytes),
          },
          ctx.clock(),
          randomSecret(),
        );
        return jsonResponse(toStoreInfo(record), 201);
      });
    },
    small(['stores'], false),
  );

  register(app, R.getStoreRoute, async (c) => {
    const store = storePath(c);
    // kv.admin:stores, or any capability on this store (a token may look at the store it uses).
    await authorize(ctx, c, 'stores', { store }, storeReadGrant(c.get('principal'), store));
    return jsonResponse(toStoreInfo(await requireStore(ctx, store)));
  });

  register(
    app,
    R.updateStoreRoute,
    async (c) => {
      const store = storePath(c);
      await authorize(ctx, c, 'stores', { store });
      const body = valid<typeof UpdateStoreBody>(c, 'json');
      const patch = validateStoreConfig(body, true);
      checkStoreMaxValue(ctx, patch.maxValueBytes);
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const record = await storage.updateStore(store, patch, ctx.clock());
        return jsonResponse(toStoreInfo(record));
      });
    },
    small(['stores']),
  );

  register(app, R.deleteStoreRoute, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    return idempotent(ctx, c, store, EMPTY, async () => {
      const deleted = await storage.deleteStore(store);
      return jsonResponse({ deleted });
    });
  });

  // -------------------------------------------------------------------------------------------------
  // Listing and scopes

  register(app, R.listEntriesRoute, async (c) => {
    const store = storePath(c);
    const q = valid<typeof ListQuery>(c, 'query');
    const limit = q.limit === undefined ? LIMITS.defaultListLimit : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) {
      throw new ValidationError(`limit must be an integer from 1 to ${LIMITS.maxListLimit}`, {
        details: { field: 'limit', reason: 'out_of_range', min: 1, max: LIMITS.maxListLimit },
      });
    }
    const req: ListRequest = {
      prefix: q.prefix === undefined ? '' : validateKeyPrefix(q.prefix),
      limit,
      reverse: q.reverse === 'true',
      values: q.values === 'true',
    };
    if (q.match !== undefined) req.match = q.match;
    if (q.like !== undefined) req.like = q.like;
    if (q.scope !== undefined) req.scope = validateScope(q.scope);
    if (q.startAfter !== undefined) req.startAfter = validateKeyPrefix(q.startAfter);
    if (q.cursor !== undefined) req.cursor = q.cursor;
    const action = req.match !== undefined || req.like !== undefined ? 'find' : 'list';
    const principal = c.get('principal');
    // A plain scope listing without values is AntiRaid `keys(scope)`: `kv.meta:keys` allows it too.
    const grant =
      action === 'list' && req.scope !== undefined && !req.values
        ? unionGrants(defaultGrant(principal, 'list', store), defaultGrant(principal, 'keys', store))
        : defaultGrant(principal, action, store);
    const granted = await authorize(
      ctx,
      c,
      action,
      { store, ...(req.scope === undefined ? {} : { scopes: [req.scope] }) },
      grant,
    );
    const filter = readFilter(granted);
    if (filter !== undefined) req.canRead = filter;
    const record = await requireStore(ctx, store);
    // Cursors go out sealed: the last key examined may be an entry this caller cannot read.
    const secret = record.signingSecret;
    const page = await listPage(storage, store, req, ctx.clock(), {
      encode: (position) => ctx.cursors.seal(secret, store, position),
      decode: (cursor) => ctx.cursors.open(secret, store, cursor),
    });
    const body: { items: unknown[]; cursor?: string; complete: boolean } = {
      items: page.items.map((e) => toWireEntry(e, req.values)),
      complete: page.complete,
    };
    if (page.cursor !== undefined) body.cursor = page.cursor;
    return jsonResponse(body);
  });

  register(app, R.scopesRoute, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'list_scopes', { store });
    return jsonResponse({ items: await storage.listScopes(store, ctx.clock()) });
  });

  // -------------------------------------------------------------------------------------------------
  // Single entries

  register(app, R.getEntryRoute, (c) => getEntry(ctx, c.req.raw, c.get('principal')));

  register(app, R.getByIdRoute, async (c) => {
    const { store, id } = idPath(c);
    await authorize(ctx, c, 'id_ops', { store });
    // By id is AntiRaid `getbyid`: kv.meta:id_ops, and the read itself (get, or exists for HEAD).
    const action = c.req.raw.method === 'HEAD' ? 'exists' : 'get';
    const principal = c.get('principal');
    const grant = defaultGrant(principal, action, store);
    if (grant === null) throw forbidden(action);
    const entry = await storage.getById(store, id, ctx.clock());
    checkRead(grant, entry, action);
    if (entry === undefined) {
      throw new NotFoundError('No live entry has this id', { code: 'key_not_found', details: { id } });
    }
    return entryResponse(c.req.raw, entry, { [HEADERS.key]: encodeURIComponent(entry.key) });
  });

  register(app, R.putEntryRoute, (c) => putEntry(ctx, c.req.raw, c.get('principal')));

  register(app, R.deleteEntryRoute, async (c) => {
    const { store, key } = entryPath(c);
    const q = valid<typeof DeleteQuery>(c, 'query');
    const purge = q.purge === 'true';
    const im = c.req.header('if-match');
    const precondition = im === undefined ? undefined : ifMatchPrecondition(im);
    const grant = await authorize(ctx, c, purge ? 'purge' : 'delete', { store, key });
    await requireStore(ctx, store);
    return idempotent(ctx, c, store, EMPTY, async () => {
      const op: Mutation = { type: purge ? 'purge' : 'delete', key };
      if (precondition !== undefined) op.precondition = precondition;
      const result = await commitGuardedOne(ctx, store, op, grant);
      if (result.status === 'failed') throw preconditionError(result, precondition);
      if (result.status === 'noop') return jsonResponse({ deleted: false });
      return jsonResponse({ deleted: true, revision: result.revision });
    });
  });

  register(
    app,
    R.setExpiryRoute,
    async (c) => {
      const { store, key } = entryPath(c);
      const body = valid<typeof SetExpiryBody>(c, 'json');
      const grant = await authorize(ctx, c, 'set_expiry', { store, key });
      await requireStore(ctx, store);
      const expiresAt = body.expiresAt === null ? null : futureTime(body.expiresAt, ctx.clock());
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const result = await commitGuardedOne(ctx, store, { type: 'setExpiry', key, expiresAt }, grant);
        if (result.status !== 'applied') return jsonResponse({ existed: false });
        return jsonResponse({ existed: true, revision: result.revision });
      });
    },
    small(['set_expiry']),
  );

  register(app, R.historyRoute, async (c) => {
    const { store, key } = entryPath(c);
    const q = valid<typeof HistoryQuery>(c, 'query');
    const grant = await authorize(ctx, c, 'history', { store, key });
    const values = q.values !== 'false';
    let items = await storage.history(store, key);
    if (!grant.all) {
      // A scoped caller sees the revisions in its scopes; none (or no history) is the one 403.
      items = items.filter((r) => canRead(grant, r.scopes));
      if (items.length === 0) throw forbidden('history');
    }
    return jsonResponse({ items: items.map((r) => toWireHistoryItem(r, values)) });
  });

  // -------------------------------------------------------------------------------------------------
  // Bulk and atomic

  register(
    app,
    R.bulkGetRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof BulkGetBody>(c, 'json');
      body.keys.forEach((key, index) => {
        withIndex(index, 'keys', () => validateKey(key));
      });
      const grant = await authorize(ctx, c, 'get', { store, keys: body.keys });
      const values = body.values ?? true;
      const found = await storage.getMany(store, body.keys, ctx.clock(), values);
      return jsonResponse({
        items: body.keys.map((key, i) => {
          const entry = found[i];
          // An entry outside a scoped caller's grant is reported as missing (filtered, not failed).
          return entry === undefined || !canRead(grant, entry.scopes)
            ? { key, found: false }
            : { ...toWireEntry(entry, values), found: true };
        }),
      });
    },
    keysBody('get'),
  );

  register(
    app,
    R.bulkSetRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof BulkSetBody>(c, 'json');
      const grant = await authorize(ctx, c, 'set', { store, keys: body.items.map((i) => i.key) });
      const record = await requireStore(ctx, store);
      const nowMs = ctx.clock();
      // Per-item validation: a bad item is reported in its result; the others are written.
      const prepared: Array<{ put: PutOp; ifNotExists: boolean } | KvError> = body.items.map((item) => {
        try {
          if (item.ifNotExists === true && item.ifRevision !== undefined) {
            throw new ValidationError('Give either ifNotExists or ifRevision, not both', {
              details: { field: 'ifRevision', reason: 'conflict' },
            });
          }
          const put = jsonWriteToPut(ctx, record, item, nowMs);
          if (item.ifNotExists === true) put.precondition = { kind: 'absent' };
          if (item.ifRevision !== undefined)
            put.precondition = { kind: 'revision', revision: item.ifRevision };
          return { put, ifNotExists: item.ifNotExists === true };
        } catch (error) {
          if (isKvError(error)) return error;
          throw error;
        }
      });
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const puts = prepared.filter((p): p is { put: PutOp; ifNotExists: boolean } => !isKvError(p));
        const committed = await commitGuardedEach(
          ctx,
          store,
          puts.map((p) => p.put),
          grant,
        );
        let next = 0;
        const results = prepared.map((p, i) => {
          const key = body.items[i]?.key ?? '';
          if (isKvError(p)) return itemError(key, p);
          const r = committed[next++] as MutationResult | KvError;
          if (isKvError(r)) return itemError(key, r);
          if (r.status === 'failed') {
            if (p.ifNotExists && r.failure === 'key_exists') {
              return { key, ok: true, ...idRev(r), created: false };
            }
            return itemError(key, preconditionError(r, p.put.precondition));
          }
          return { key, ok: true, ...idRev(r), created: r.created === true };
        });
        return jsonResponse(bulkResult(results));
      });
    },
    valuesBody(['set']),
  );

  register(
    app,
    R.bulkDeleteRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof BulkDeleteBody>(c, 'json');
      const grant = await authorize(ctx, c, 'delete', { store, keys: body.keys });
      await requireStore(ctx, store);
      const prepared = body.keys.map((key): Mutation | KvError => {
        try {
          return { type: 'delete', key: validateKey(key) };
        } catch (error) {
          if (isKvError(error)) return error;
          throw error;
        }
      });
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const ops = prepared.filter((p): p is Mutation => !isKvError(p));
        const committed = await commitGuardedEach(ctx, store, ops, grant);
        let next = 0;
        const results = prepared.map((p, i) => {
          const key = body.keys[i] ?? '';
          if (isKvError(p)) return itemError(key, p);
          const r = committed[next++] as MutationResult | KvError;
          if (isKvError(r)) return itemError(key, r);
          return r.status === 'applied'
            ? { key, ok: true, ...idRev(r), created: true }
            : { key, ok: true, created: false };
        });
        return jsonResponse(bulkResult(results));
      });
    },
    keysBody('delete'),
  );

  register(
    app,
    R.atomicRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof AtomicBody>(c, 'json');
      const checks = body.checks ?? [];
      const keys = [...checks.map((k) => k.key), ...body.mutations.map((m) => m.key)];
      // The hook sees one `set`; capabilities are checked per part: get for checks, set and delete for
      // the mutations of each type.
      await authorize(ctx, c, 'set', { store, keys }, FULL_GRANT);
      const principal = c.get('principal');
      const need = (action: 'get' | 'set' | 'delete', wanted: boolean): Grant | undefined => {
        if (!wanted) return undefined;
        const grant = defaultGrant(principal, action, store);
        if (grant === null) throw forbidden(action);
        return grant;
      };
      const grants: AtomicGrants = {
        get: need('get', checks.length > 0),
        // An empty commit (it answers the store revision) needs set, like any commit.
        set: need('set', body.mutations.some((m) => m.type === 'set') || body.mutations.length === 0),
        delete: need(
          'delete',
          body.mutations.some((m) => m.type === 'delete'),
        ),
      };
      const scoped = [grants.get, grants.set, grants.delete].some((g) => g !== undefined && !g.all);
      const record = await requireStore(ctx, store);
      const nowMs = ctx.clock();
      const storageChecks = checks.map((check, index) => ({
        key: withIndex(index, 'checks', () => validateKey(check.key)),
        precondition: (check.revision === null
          ? { kind: 'absent' }
          : { kind: 'revision', revision: check.revision }) satisfies Precondition as Precondition,
      }));
      const mutations = body.mutations.map(
        (m, index): Mutation =>
          withIndex(index, 'mutations', () =>
            m.type === 'set'
              ? jsonWriteToPut(ctx, record, m, nowMs)
              : { type: 'delete', key: validateKey(m.key) },
          ),
      );
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const result = scoped
          ? await commitGuardedAtomic(ctx, store, storageChecks, mutations, grants)
          : await storage.commit(store, {
              mode: 'atomic',
              checks: storageChecks,
              mutations,
              nowMs: ctx.clock(),
            });
        if (!result.ok) {
          throw new RevisionMismatchError('An atomic check failed; nothing was written', {
            details: { failedKeys: result.failedKeys },
          });
        }
        return jsonResponse({ ok: true, revision: result.revision });
      });
    },
    valuesBody(['set', 'delete']),
  );

  // -------------------------------------------------------------------------------------------------
  // Watch (issue 8): Server-Sent Events over the store's change log

  register(app, R.watchRoute, async (c) => {
    const store = storePath(c);
    const query = parseWatchQuery(new URL(c.req.url), c.req.header('last-event-id') ?? null);
    const grant = await authorize(ctx, c, 'watch', { store });
    await requireStore(ctx, store);
    const filter = readFilter(grant);
    const tokens = ctx.tokens;
    const authorization = c.req.header('authorization') ?? null;
    const revalidate =
      tokens !== undefined && c.get('principal')?.via === 'token'
        ? async (): Promise<void> => {
            await authenticate(tokens, authorization, ctx.clock());
          }
        : undefined;
    const body = await openWatchStream({
      storage,
      hub: ctx.watchHub,
      store,
      query,
      signal: c.req.raw.signal,
      now: ctx.clock,
      options: ctx.watchOptions,
      // A scoped caller sees the events of the entries it may read (tombstones keep their scopes).
      ...(filter === undefined ? {} : { canRead: filter }),
      // A token revoked or expired while watching ends the stream at its next wake-up.
      ...(revalidate === undefined ? {} : { revalidate }),
    });
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
    });
  });
  // -------------------------------------------------------------------------------------------------
  // Signed URLs (issue 7; Apify getRecordPublicUrl / createKeysPublicUrl)

  register(
    app,
    R.signedUrlRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof SignedUrlBody>(c, 'json');
      const signGrant = await authorize(ctx, c, 'sign', {
        store,
        ...(body.kind === 'record' ? { key: body.key } : {}),
      });
      // A signed URL reaches what its signer may both sign and read: get for a record, list for a
      // listing (docs/security.md "Signed URLs").
      const readAction = body.kind === 'record' ? 'get' : 'list';
      const grant = intersectGrants(signGrant, defaultGrant(c.get('principal'), readAction, store));
      if (grant === null) throw forbidden(readAction);
      const nowMs = ctx.clock();
      // Only the path and query are signed; the returned URL's origin is the configured public URL.
      const path = new URL('http://kv.invalid/');
      if (body.kind === 'record') {
        const key = validateKey(body.key);
        // A scoped signer may only publish a record it could read (missing is the same 403).
        if (!grant.all) {
          const entry = await storage.get(store, key, nowMs);
          if (entry === undefined || !canRead(grant, entry.scopes)) throw forbidden(readAction);
        }
        path.pathname = routes.entry(store, key);
      } else {
        path.pathname = routes.entries(store);
        if (body.prefix !== undefined) path.searchParams.set('prefix', validateKeyPrefix(body.prefix));
        if (body.limit !== undefined) path.searchParams.set('limit', String(body.limit));
      }
      // The URL carries the scopes it may reach, so it never reaches more than the signer could read.
      const scopes = grantScopesParam(grant);
      if (scopes !== undefined) path.searchParams.set(SIGNED_SCOPES_PARAM, scopes);
      const record = await requireStore(ctx, store);
      const expiresAtSecs = Math.floor(nowMs / 1000) + body.expiresInSecs;
      const signed = await signUrl(path, record.signingSecret, expiresAtSecs);
      const signedPath = signed.pathname + signed.search;
      return jsonResponse({
        url: ctx.publicUrl() + signedPath,
        path: signedPath,
        expiresAt: new Date(expiresAtSecs * 1000).toISOString(),
      });
    },
    small(['sign']),
  );

  register(app, R.rotateSigningSecretRoute, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    await storage.rotateSigningSecret(store, randomSecret(), ctx.clock());
    return jsonResponse({ rotated: true });
  });

  // -------------------------------------------------------------------------------------------------
  // Tokens (issue 7): kv.admin:tokens

  const tokenStore = () => {
    if (ctx.tokens === undefined) {
      throw new KvError('Access control is off on this server (the engine has no token store)', {
        code: 'not_implemented',
        status: 501,
      });
    }
    return ctx.tokens;
  };

  register(
    app,
    R.createTokenRoute,
    async (c) => {
      const body = valid<typeof CreateTokenBody>(c, 'json');
      await authorize(ctx, c, 'tokens');
      const created = await createToken(tokenStore(), body, ctx.clock());
      return jsonResponse(created, 201, { 'cache-control': 'no-store' });
    },
    small(['tokens'], false),
  );

  register(app, R.listTokensRoute, async (c) => {
    await authorize(ctx, c, 'tokens');
    const records = await tokenStore().list();
    return jsonResponse({ items: records.map(toTokenInfo) });
  });

  register(app, R.revokeTokenRoute, async (c) => {
    const segs = rawPathSegments(c.req.url);
    // ['v1', 'tokens', id]
    const id = decodeSegment(segs[2] ?? '', 'id');
    await authorize(ctx, c, 'tokens');
    const revoked = await tokenStore().revoke(id, ctx.clock());
    return jsonResponse({ revoked });
  });
}

/** GET/HEAD answer for an entry: raw bytes with the entry headers, or 304 on a matching If-None-Match. */
function entryResponse(req: Request, entry: StoredEntry, extraHeaders?: Record<string, string>): Response {
  const headers = entryHeaders(entry);
  if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
  if (ifNoneMatchHits(req.headers.get('if-none-match'), entry.revision)) {
    delete headers['content-type'];
    return new Response(null, { status: 304, headers });
  }
  headers['content-length'] = String(entry.size);
  const head = req.method === 'HEAD';
  return new Response(head || entry.size === 0 ? null : (entry.value as Uint8Array<ArrayBuffer>), {
    status: 200,
    headers,
  });
}

function etagHeader(revision: number | undefined): Record<string, string> {
  return revision === undefined ? {} : { etag: formatEtag(revision) };
}

/**
 * The post-read check of a scoped caller: the entry must exist and have a scope the grant reaches. A
 * missing entry is the same 403 as an entry out of reach, so the answer never says whether a key the
 * caller may not read exists. Unscoped grants read everything (a missing key stays a 404).
 */
function checkRead(grant: Grant, entry: StoredEntry | undefined, action: 'get' | 'exists'): void {
  if (grant.all) return;
  if (entry === undefined || !canRead(grant, entry.scopes)) throw forbidden(action);
}

function idRev(r: MutationResult): { id?: string; revision?: number } {
  const out: { id?: string; revision?: number } = {};
  if (r.id !== undefined) out.id = r.id;
  if (r.revision !== undefined) out.revision = r.revision;
  return out;
}

function itemError(key: string, error: KvError): { key: string; ok: false; error: string; message: string } {
  return { key, ok: false, error: error.code, message: error.message };
}

function bulkResult(results: Array<{ key: string; ok: boolean }>): {
  results: Array<{ key: string; ok: boolean }>;
  successfulKeyCount: number;
  unsuccessfulKeys: string[];
} {
  const unsuccessfulKeys = results.filter((r) => !r.ok).map((r) => r.key);
  return { results, successfulKeyCount: results.length - unsuccessfulKeys.length, unsuccessfulKeys };
}

/** Runs a per-item check of a whole-request validation, adding the item's index to the error. */
function withIndex<T>(index: number, field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (isKvError(error)) {
      throw new (error.constructor as typeof KvError)(`${field}[${index}]: ${error.message}`, {
        code: error.code,
        status: error.status,
        details: { ...error.details, index, list: field },
      });
    }
    throw error;
  }
}

/**
 * Checks an explicit store `maxValueBytes` against the server-wide cap.
 *
 * @throws {ValidationError} when it is above the cap
 */
function checkStoreMaxValue(ctx: EngineContext, maxValueBytes: number | undefined): number | undefined {
  if (maxValueBytes !== undefined && maxValueBytes > ctx.maxValueBytes) {
    throw new ValidationError(`maxValueBytes may be at most ${ctx.maxValueBytes} on this server`, {
      details: { field: 'maxValueBytes', reason: 'out_of_range', max: ctx.maxValueBytes },
    });
  }
  return maxValueBytes;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * `GET`/`HEAD /v1/stores/{store}/entries/{key}` (docs/protocol.md "Read an entry"): the raw value with
 * the entry headers, 304 on a matching `If-None-Match`. Shared by the hono route and the engine's fast
 * path, which calls it once the request id, authentication and request validation are done.
 *
 * @param req - the request (its method tells GET from HEAD)
 * @param principal - the authenticated caller (undefined when access control is off)
 * @param extraHeaders - headers to add to the answer (the fast path's `Kv-Request-Id`)
 * @throws KvError 400/403/404 as the route documents
 */
export async function getEntry(
  ctx: EngineContext,
  req: Request,
  principal: Principal | undefined,
  extraHeaders?: Record<string, string>,
): Promise<Response> {
  const { store, key } = entryPathOf(req.url);
  const action = req.method === 'HEAD' ? 'exists' : 'get';
  const grant = await authorizeRequest(ctx, req, principal, action, { store, key });
  // Storage methods throw StoreNotFoundError for a missing store: no separate lookup on reads.
  const entry = await ctx.storage.get(store, key, ctx.clock());
  checkRead(grant, entry, action);
  if (entry === undefined) throw keyNotFound(key);
  return entryResponse(req, entry, extraHeaders);
}

/**
 * `PUT /v1/stores/{store}/entries/{key}` (docs/protocol.md "Write an entry"): the raw body is the value,
 * options come from headers. Shared by the hono route and the engine's fast path, as {@link getEntry}.
 *
 * @throws KvError 400/403/404/412/413 as the route documents
 */
export async function putEntry(
  ctx: EngineContext,
  req: Request,
  principal: Principal | undefined,
  extraHeaders?: Record<string, string>,
): Promise<Response> {
  const { store, key } = entryPathOf(req.url);
  const opts = parsePutHeaders(req);
  const grant = await authorizeRequest(ctx, req, principal, 'set', { store, key, scopes: opts.scopes });
  if (!canWrite(grant, opts.scopes)) throw forbidden('set');
  const record = await requireStore(ctx, store);
  const limit = effectiveMaxValueBytes(ctx, record);
  let value: Uint8Array;
  try {
    value = await readBodyLimited(req, Math.min(limit, ctx.maxBodyBytes));
  } catch (error) {
    if (isKvError(error) && error.code === 'payload_too_large') {
      throw valueTooLarge(undefined, limit, key);
    }
    throw error;
  }
  const nowMs = ctx.clock();
  const put: PutOp = {
    type: 'put',
    key,
    value,
    contentType: opts.contentType,
    metadata: opts.metadata as PutOp['metadata'],
    scopes: opts.scopes,
    expiresAt: resolveExpiry(opts, record, nowMs),
    resume: opts.resume,
    newId: ctx.generateId(),
  };
  if (opts.precondition !== undefined) put.precondition = opts.precondition;
  const res = await ctx.idempotency.run({
    req,
    store,
    body: value,
    execute: async () => {
      const result = await commitGuardedOne(ctx, store, put, grant);
      if (result.status === 'failed') {
        if (opts.ifNotExists && result.failure === 'key_exists') {
          return jsonResponse({ id: result.id, revision: result.revision, created: false }, 200, {
            ...etagHeader(result.revision),
            ...extraHeaders,
          });
        }
        throw preconditionError(result, opts.precondition);
      }
      const created = result.created === true;
      return jsonResponse({ id: result.id, revision: result.revision, created }, created ? 201 : 200, {
        ...etagHeader(result.revision),
        ...extraHeaders,
      });
    },
  });
  // Answers of the idempotency guard itself (replays, stored refusals) were not built here.
  return extraHeaders !== undefined && req.headers.has(HEADERS.idempotencyKey)
    ? withHeaders(res, extraHeaders)
    : res;
}
