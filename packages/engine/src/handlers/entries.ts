/**
 * Single entries (docs/protocol.md "Entries"): read (`GET`/`HEAD`, raw bytes with the entry headers),
 * write (`PUT`, raw body, options in headers), delete or purge, set the expiry, history, and read by id.
 *
 * @module
 */
import { formatEtag, isKvError, NotFoundError } from '@kv/core/protocol';
import { z } from 'zod';
import { authorize, canRead, canWrite, defaultGrant, forbidden, type Grant } from '../access.js';
import type { EngineContext } from '../context.js';
import { entryHeaders, ifNoneMatchHits, jsonResult, toWireHistoryItem } from '../http.js';
import {
  defineRoute,
  type EngineResult,
  type HandlerTable,
  type RequestContext,
  type RouteDoc,
  readBodyLimited,
} from '../pipeline.js';
import {
  effectiveMaxValueBytes,
  entryPath,
  futureTime,
  idPath,
  ifMatchPrecondition,
  keyNotFound,
  parsePutHeaders,
  preconditionError,
  requireStore,
  resolveExpiry,
  valueTooLarge,
} from '../requests.js';
import {
  DeleteHeaders,
  DeleteQuery,
  DeleteResultSchema,
  EntryParams,
  HistoryQuery,
  HistoryResponseSchema,
  IdempotencyHeaders,
  IdParams,
  PutEntryHeaders,
  ReadHeaders,
  SetExpiryBody,
  SetExpiryResultSchema,
  SetResultSchema,
} from '../schemas.js';
import type { Mutation, MutationResult, PutOp, StoredEntry } from '../storage.js';
import { commitGuardedOne } from '../writes.js';
import { bodyLimits, EMPTY, errors, idempotent, json, jsonRequest } from './common.js';

const TAG = 'entries';

/** Response headers of an entry read (docs/protocol.md "Entry headers"). */
const EntryResponseHeaders = z.object({
  ETag: z.string().openapi({ description: '"<revision>"', example: '"42"' }),
  'Kv-Id': z.string(),
  'Kv-Revision': z.string(),
  'Kv-Metadata': z.string().exactOptional().openapi({ description: 'percent-encoded JSON object' }),
  'Kv-Scopes': z.string().exactOptional().openapi({ description: 'percent-encoded scopes joined with ","' }),
  'Kv-Expires-At': z.string().exactOptional().openapi({ description: 'ISO 8601' }),
  'Kv-Created-At': z.string(),
  'Kv-Updated-At': z.string(),
  'Kv-Resume': z.enum(['true', 'false']),
  'Content-Length': z.string(),
});

const RawValue = z.string().openapi({ format: 'binary', description: 'The raw value bytes' });

const getEntryDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Read an entry: raw value bytes, fields in headers',
  request: { params: EntryParams, headers: ReadHeaders },
  responses: {
    200: {
      description: 'The value; Content-Type is the entry content type',
      headers: EntryResponseHeaders,
      content: { '*/*': { schema: RawValue } },
    },
    304: { description: 'If-None-Match matched the current revision', headers: EntryResponseHeaders },
    ...errors(400, 401, 403, 404),
  },
};

const getByIdDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Read an entry by its id (AntiRaid getbyid); Kv-Key names the key',
  request: { params: IdParams, headers: ReadHeaders },
  responses: {
    200: {
      description: 'The value; headers as for GET entry plus Kv-Key',
      headers: EntryResponseHeaders.extend({ 'Kv-Key': z.string() }),
      content: { '*/*': { schema: RawValue } },
    },
    304: { description: 'If-None-Match matched the current revision' },
    ...errors(400, 401, 403, 404),
  },
};

const putEntryDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Write an entry: raw value bytes as the body, options in headers',
  request: {
    params: EntryParams,
    headers: PutEntryHeaders,
    body: {
      required: true,
      description: 'The raw value bytes; Content-Type becomes the entry content type',
      content: { '*/*': { schema: RawValue } },
    },
  },
  responses: {
    200: json(SetResultSchema, 'Overwritten, or (Kv-If-Not-Exists) nothing written: created false'),
    201: json(SetResultSchema, 'Created'),
    ...errors(400, 401, 403, 404, 412, 413),
  },
};

const deleteEntryDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Soft-delete (tombstone) or, with ?purge=true, purge an entry',
  request: { params: EntryParams, query: DeleteQuery, headers: DeleteHeaders },
  responses: {
    200: json(DeleteResultSchema, 'Whether something was deleted'),
    ...errors(400, 401, 403, 404, 412),
  },
};

const setExpiryDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Set or clear the expiry of an entry',
  request: { params: EntryParams, headers: IdempotencyHeaders, body: jsonRequest(SetExpiryBody) },
  responses: {
    200: json(SetExpiryResultSchema, 'Whether the key existed'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const getHistoryDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Past revisions of a key, newest first, tombstones included',
  request: { params: EntryParams, query: HistoryQuery },
  responses: { 200: json(HistoryResponseSchema, 'History, newest first'), ...errors(400, 401, 403, 404) },
};

/** HEAD of a raw-value read (the GET route answers it; RFC 9110 section 9.3.2), for `/openapi.json`. */
const entryHeadDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Whether an entry exists, with its fields in headers and no body (exists)',
  responses: {
    200: { description: 'Exists' },
    304: { description: 'Unchanged' },
    404: { description: 'key_not_found' },
  },
};

/**
 * The single-entry routes: `getEntry` (and HEAD), `getById` (and HEAD), `putEntry`,
 * `deleteEntry`, `setExpiry`, `getHistory`.
 */
export function routes(
  ctx: EngineContext,
): Pick<HandlerTable, 'getEntry' | 'getById' | 'putEntry' | 'deleteEntry' | 'setExpiry' | 'getHistory'> {
  const { storage } = ctx;
  const { small } = bodyLimits(ctx);

  const getEntry = defineRoute(getEntryDoc, (c) => readEntry(ctx, c), undefined, {
    headDoc: { ...entryHeadDoc, request: { params: EntryParams } },
  });

  const getById = defineRoute(
    getByIdDoc,
    async (c) => {
      const { store, id } = idPath(c);
      await authorize(ctx, c, 'id_ops', { store });
      // By id is AntiRaid `getbyid`: kv.meta:id_ops, and the read itself (get, or exists for HEAD).
      const action = c.method === 'HEAD' ? 'exists' : 'get';
      const principal = c.principal;
      const grant = defaultGrant(principal, action, store);
      if (grant === null) throw forbidden(action);
      const entry = await storage.getById(store, id, ctx.clock());
      checkRead(grant, entry, action);
      if (entry === undefined) {
        throw new NotFoundError('No live entry has this id', { code: 'key_not_found', details: { id } });
      }
      return entryResult(c, entry, true);
    },
    undefined,
    { headDoc: { ...entryHeadDoc, request: { params: IdParams } } },
  );

  const putEntry = defineRoute(putEntryDoc, (c) => writeEntry(ctx, c));

  const deleteEntry = defineRoute(deleteEntryDoc, async (c) => {
    const { store, key } = entryPath(c);
    const q = c.query as z.output<typeof DeleteQuery>;
    const purge = q.purge === 'true';
    const im = c.header('if-match');
    const precondition = im === undefined ? undefined : ifMatchPrecondition(im);
    const grant = await authorize(ctx, c, purge ? 'purge' : 'delete', { store, key });
    await requireStore(ctx, store);
    const op: Mutation = { type: purge ? 'purge' : 'delete', key };
    if (precondition !== undefined) op.precondition = precondition;
    const render = (result: MutationResult): EngineResult => {
      if (result.status === 'failed') throw preconditionError(result, precondition);
      if (result.status === 'noop') return jsonResult({ deleted: false });
      return jsonResult({ deleted: true, revision: result.revision });
    };
    return idempotent(ctx, c, store, EMPTY, async (recorder) =>
      render(await commitGuardedOne(ctx, store, op, grant, recorder && { recorder, render })),
    );
  });

  const setExpiry = defineRoute(
    setExpiryDoc,
    async (c) => {
      const { store, key } = entryPath(c);
      const body = c.body as z.output<typeof SetExpiryBody>;
      const grant = await authorize(ctx, c, 'set_expiry', { store, key });
      await requireStore(ctx, store);
      const expiresAt = body.expiresAt === null ? null : futureTime(body.expiresAt, ctx.clock());
      const op: Mutation = { type: 'setExpiry', key, expiresAt };
      const render = (result: MutationResult): EngineResult =>
        result.status !== 'applied'
          ? jsonResult({ existed: false })
          : jsonResult({ existed: true, revision: result.revision });
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) =>
        render(await commitGuardedOne(ctx, store, op, grant, recorder && { recorder, render })),
      );
    },
    small(['set_expiry']),
  );

  const getHistory = defineRoute(getHistoryDoc, async (c) => {
    const { store, key } = entryPath(c);
    const q = c.query as z.output<typeof HistoryQuery>;
    const grant = await authorize(ctx, c, 'history', { store, key });
    const values = q.values !== 'false';
    let items = await storage.history(store, key);
    if (!grant.all) {
      // A scoped caller sees the revisions in its scopes; none (or no history) is the one 403.
      items = items.filter((r) => canRead(grant, r.scopes));
      if (items.length === 0) throw forbidden('history');
    }
    return jsonResult({ items: items.map((r) => toWireHistoryItem(r, values)) });
  });

  return { getEntry, getById, putEntry, deleteEntry, setExpiry, getHistory };
}

/** GET/HEAD answer for an entry: raw bytes with the entry headers, or 304 on a matching If-None-Match. */
function entryResult(c: RequestContext, entry: StoredEntry, byId: boolean): EngineResult {
  const headers = entryHeaders(entry, byId);
  if (ifNoneMatchHits(c.header('if-none-match'), entry.revision)) {
    delete headers['content-type'];
    return { status: 304, headers };
  }
  headers['content-length'] = String(entry.size);
  // HEAD: the pipeline drops the body; it is not even handed over.
  return { status: 200, headers, body: c.method === 'HEAD' || entry.size === 0 ? undefined : entry.value };
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

/**
 * `GET`/`HEAD /v1/stores/{store}/entries/{key}` (docs/protocol.md "Read an entry"): the raw value with
 * the entry headers, 304 on a matching `If-None-Match`.
 *
 * @throws KvError 400/403/404 as the route documents
 */
async function readEntry(ctx: EngineContext, c: RequestContext): Promise<EngineResult> {
  const { store, key } = entryPath(c);
  const action = c.method === 'HEAD' ? 'exists' : 'get';
  const grant = await authorize(ctx, c, action, { store, key });
  // Storage methods throw StoreNotFoundError for a missing store: no separate lookup on reads.
  const entry = await ctx.storage.get(store, key, ctx.clock());
  checkRead(grant, entry, action);
  if (entry === undefined) throw keyNotFound(key);
  return entryResult(c, entry, false);
}

/**
 * `PUT /v1/stores/{store}/entries/{key}` (docs/protocol.md "Write an entry"): the raw body is the value,
 * options come from headers (their shape validated by the route's header schema).
 *
 * @throws KvError 400/403/404/412/413 as the route documents
 */
async function writeEntry(ctx: EngineContext, c: RequestContext): Promise<EngineResult> {
  const { store, key } = entryPath(c);
  const opts = parsePutHeaders(c);
  const grant = await authorize(ctx, c, 'set', { store, key, scopes: opts.scopes });
  if (!canWrite(grant, opts.scopes)) throw forbidden('set');
  const record = await requireStore(ctx, store);
  const limit = effectiveMaxValueBytes(ctx, record);
  let value: Uint8Array;
  try {
    value = await readBodyLimited(c.request, Math.min(limit, ctx.maxBodyBytes));
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
  const render = (result: MutationResult): EngineResult => {
    if (result.status === 'failed') {
      if (opts.ifNotExists && result.failure === 'key_exists') {
        return jsonResult(
          { id: result.id, revision: result.revision, created: false },
          200,
          etagHeader(result.revision),
        );
      }
      throw preconditionError(result, opts.precondition);
    }
    const created = result.created === true;
    return jsonResult(
      { id: result.id, revision: result.revision, created },
      created ? 201 : 200,
      etagHeader(result.revision),
    );
  };
  return ctx.idempotency.run({
    req: c.request,
    store,
    body: value,
    execute: async (recorder) =>
      // Committed at the time its TTL was counted from: expiresAt - updatedAt is exactly the TTL.
      render(await commitGuardedOne(ctx, store, put, grant, recorder && { recorder, render }, nowMs)),
  });
}
