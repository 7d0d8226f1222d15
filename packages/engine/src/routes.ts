/**
 * Route definitions of the protocol (docs/protocol.md), as `@hono/zod-openapi` routes: each one names
 * the zod schemas the engine validates the request with, and `/openapi.json` is generated from them.
 * Paths match core's `routes` builders (`packages/core/src/protocol.ts`).
 *
 * @module
 */
import { createRoute, z } from '@hono/zod-openapi';
import {
  AtomicBody,
  AtomicResultSchema,
  BulkDeleteBody,
  BulkGetBody,
  BulkGetResponseSchema,
  BulkResultSchema,
  BulkSetBody,
  CreatedTokenSchema,
  CreateStoreBody,
  CreateTokenBody,
  DeleteHeaders,
  DeleteQuery,
  DeleteResultSchema,
  DeleteStoreResultSchema,
  EntryParams,
  HealthSchema,
  HistoryQuery,
  HistoryResponseSchema,
  IdempotencyHeaders,
  IdParams,
  ListQuery,
  ListResponseSchema,
  PutEntryHeaders,
  ReadHeaders,
  RevokeTokenResultSchema,
  RotateSigningSecretResultSchema,
  ScopesResponseSchema,
  SetExpiryBody,
  SetExpiryResultSchema,
  SetResultSchema,
  SignedUrlBody,
  SignedUrlResultSchema,
  StoreInfoSchema,
  StoreListSchema,
  StoreParams,
  TokenListSchema,
  TokenParams,
  UpdateStoreBody,
  WireErrorSchema,
} from './schemas.js';

const ERROR_TEXT: Record<number, string> = {
  400: 'validation_error / idempotency_key_reused: malformed request or a broken limit',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'store_not_found / key_not_found / route_not_found',
  405: 'method_not_allowed',
  412: 'key_exists / revision_mismatch / store_exists',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  500: 'internal',
  501: 'not_implemented',
  503: 'unavailable',
};

/** Error responses for the given statuses, all `{ error: { code, message, details? } }`. */
function errors(...statuses: number[]) {
  const out: Record<
    number,
    { description: string; content: { 'application/json': { schema: typeof WireErrorSchema } } }
  > = {};
  for (const s of statuses) {
    out[s] = {
      description: ERROR_TEXT[s] ?? 'error',
      content: { 'application/json': { schema: WireErrorSchema } },
    };
  }
  return out;
}

function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

function jsonBody<S extends z.ZodType>(schema: S) {
  return { required: true, content: { 'application/json': { schema } } };
}

/** Response headers of an entry read (docs/protocol.md "Entry headers"). */
export const EntryResponseHeaders = z.object({
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

const TAG_STORES = 'stores';
const TAG_ENTRIES = 'entries';
const TAG_BULK = 'bulk';

// ---------------------------------------------------------------------------------------------------
// Service

/** `GET /healthz`. */
export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['service'],
  summary: 'Liveness probe',
  security: [],
  responses: { 200: json(HealthSchema, 'The engine answers') },
});

// ---------------------------------------------------------------------------------------------------
// Stores

/** `GET /v1/stores`. */
export const listStoresRoute = createRoute({
  method: 'get',
  path: '/v1/stores',
  tags: [TAG_STORES],
  summary: 'List stores',
  responses: { 200: json(StoreListSchema, 'Every store, ordered by name'), ...errors(401, 403) },
});

/** `POST /v1/stores`. */
export const createStoreRoute = createRoute({
  method: 'post',
  path: '/v1/stores',
  tags: [TAG_STORES],
  summary: 'Create a store',
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateStoreBody) },
  responses: {
    201: json(StoreInfoSchema, 'Created'),
    ...errors(400, 401, 403, 412, 413, 415),
  },
});

/** `GET /v1/stores/{store}`. */
export const getStoreRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}',
  tags: [TAG_STORES],
  summary: 'Get a store with its settings and stats',
  request: { params: StoreParams },
  responses: { 200: json(StoreInfoSchema, 'The store'), ...errors(400, 401, 403, 404) },
});

/** `PATCH /v1/stores/{store}`. */
export const updateStoreRoute = createRoute({
  method: 'patch',
  path: '/v1/stores/{store}',
  tags: [TAG_STORES],
  summary: 'Change store settings',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonBody(UpdateStoreBody) },
  responses: { 200: json(StoreInfoSchema, 'The updated store'), ...errors(400, 401, 403, 404, 413, 415) },
});

/** `DELETE /v1/stores/{store}`. */
export const deleteStoreRoute = createRoute({
  method: 'delete',
  path: '/v1/stores/{store}',
  tags: [TAG_STORES],
  summary: 'Delete a store and all its data',
  request: { params: StoreParams, headers: IdempotencyHeaders },
  responses: { 200: json(DeleteStoreResultSchema, 'Whether the store existed'), ...errors(400, 401, 403) },
});

// ---------------------------------------------------------------------------------------------------
// Entries

/** `GET /v1/stores/{store}/entries`. */
export const listEntriesRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/entries',
  tags: [TAG_ENTRIES],
  summary: 'List entries (one page)',
  request: { params: StoreParams, query: ListQuery },
  responses: { 200: json(ListResponseSchema, 'One page, in key byte order'), ...errors(400, 401, 403, 404) },
});

/** `GET /v1/stores/{store}/entries/{key}` (HEAD is the same without a body). */
export const getEntryRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/entries/{key}',
  tags: [TAG_ENTRIES],
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
});

/** `PUT /v1/stores/{store}/entries/{key}`. */
export const putEntryRoute = createRoute({
  method: 'put',
  path: '/v1/stores/{store}/entries/{key}',
  tags: [TAG_ENTRIES],
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
});

/** `DELETE /v1/stores/{store}/entries/{key}`. */
export const deleteEntryRoute = createRoute({
  method: 'delete',
  path: '/v1/stores/{store}/entries/{key}',
  tags: [TAG_ENTRIES],
  summary: 'Soft-delete (tombstone) or, with ?purge=true, purge an entry',
  request: { params: EntryParams, query: DeleteQuery, headers: DeleteHeaders },
  responses: {
    200: json(DeleteResultSchema, 'Whether something was deleted'),
    ...errors(400, 401, 403, 404, 412),
  },
});

/** `GET /v1/stores/{store}/entries/{key}/history`. */
export const historyRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/entries/{key}/history',
  tags: [TAG_ENTRIES],
  summary: 'Past revisions of a key, newest first, tombstones included',
  request: { params: EntryParams, query: HistoryQuery },
  responses: { 200: json(HistoryResponseSchema, 'History, newest first'), ...errors(400, 401, 403, 404) },
});

/** `PUT /v1/stores/{store}/entries/{key}/expiry`. */
export const setExpiryRoute = createRoute({
  method: 'put',
  path: '/v1/stores/{store}/entries/{key}/expiry',
  tags: [TAG_ENTRIES],
  summary: 'Set or clear the expiry of an entry',
  request: { params: EntryParams, headers: IdempotencyHeaders, body: jsonBody(SetExpiryBody) },
  responses: {
    200: json(SetExpiryResultSchema, 'Whether the key existed'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

/** `GET /v1/stores/{store}/ids/{id}` (HEAD too). */
export const getByIdRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/ids/{id}',
  tags: [TAG_ENTRIES],
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
});

/** `GET /v1/stores/{store}/scopes`. */
export const scopesRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/scopes',
  tags: [TAG_ENTRIES],
  summary: 'Scopes in use by live entries (AntiRaid list_scopes)',
  request: { params: StoreParams },
  responses: { 200: json(ScopesResponseSchema, 'Sorted scopes'), ...errors(400, 401, 403, 404) },
});

// ---------------------------------------------------------------------------------------------------
// Bulk and atomic

/** `POST /v1/stores/{store}/bulk/get`. */
export const bulkGetRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/bulk/get',
  tags: [TAG_BULK],
  summary: 'Read up to 10,000 keys',
  request: { params: StoreParams, body: jsonBody(BulkGetBody) },
  responses: {
    200: json(BulkGetResponseSchema, 'One item per key, in request order'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

/** `POST /v1/stores/{store}/bulk/set`. */
export const bulkSetRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/bulk/set',
  tags: [TAG_BULK],
  summary: 'Write up to 10,000 entries, each independently',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonBody(BulkSetBody) },
  responses: {
    200: json(BulkResultSchema, 'Per-item results'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

/** `POST /v1/stores/{store}/bulk/delete`. */
export const bulkDeleteRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/bulk/delete',
  tags: [TAG_BULK],
  summary: 'Soft-delete up to 10,000 keys',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonBody(BulkDeleteBody) },
  responses: {
    200: json(BulkResultSchema, 'Per-item results'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

/** `POST /v1/stores/{store}/atomic`. */
export const atomicRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/atomic',
  tags: [TAG_BULK],
  summary: 'Atomic commit: checks and mutations, all or nothing (Deno KV)',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonBody(AtomicBody) },
  responses: {
    200: json(AtomicResultSchema, 'Every check held; every mutation applied'),
    ...errors(400, 401, 403, 404, 412, 413, 415),
  },
});

// ---------------------------------------------------------------------------------------------------
// Access control (issue 7)

/** `POST /v1/stores/{store}/signed-urls` (`sign`). */
export const signedUrlRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/signed-urls',
  tags: ['access'],
  summary:
    'Create a signed read-only URL for a record or a key listing (Apify getRecordPublicUrl / createKeysPublicUrl)',
  request: { params: StoreParams, body: jsonBody(SignedUrlBody) },
  responses: {
    200: json(SignedUrlResultSchema, 'The signed URL; it works with no token until expiresAt'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

/** `POST /v1/stores/{store}/signing-secret` (`kv.admin:stores`). */
export const rotateSigningSecretRoute = createRoute({
  method: 'post',
  path: '/v1/stores/{store}/signing-secret',
  tags: ['access'],
  summary: "Rotate the store's URL-signing secret: every URL signed before stops working",
  request: { params: StoreParams },
  responses: {
    200: json(RotateSigningSecretResultSchema, 'Rotated'),
    ...errors(400, 401, 403, 404),
  },
});

/** `POST /v1/tokens` (`kv.admin:tokens`). */
export const createTokenRoute = createRoute({
  method: 'post',
  path: '/v1/tokens',
  tags: ['access'],
  summary: 'Create a token; its secret is in this response only',
  request: { body: jsonBody(CreateTokenBody) },
  responses: {
    201: json(CreatedTokenSchema, 'Created; store the secret now'),
    ...errors(400, 401, 403, 413, 415, 501),
  },
});

/** `GET /v1/tokens` (`kv.admin:tokens`). */
export const listTokensRoute = createRoute({
  method: 'get',
  path: '/v1/tokens',
  tags: ['access'],
  summary: 'List tokens (never their secrets), oldest first',
  responses: {
    200: json(TokenListSchema, 'Every token, revoked and expired ones included'),
    ...errors(401, 403, 501),
  },
});

/** `DELETE /v1/tokens/{id}` (`kv.admin:tokens`). */
export const revokeTokenRoute = createRoute({
  method: 'delete',
  path: '/v1/tokens/{id}',
  tags: ['access'],
  summary: 'Revoke a token; effective on the next request',
  request: { params: TokenParams },
  responses: {
    200: json(RevokeTokenResultSchema, 'Whether a token was revoked'),
    ...errors(400, 401, 403, 501),
  },
});

// ---------------------------------------------------------------------------------------------------
// Watch (issue 8)

/** `GET /v1/stores/{store}/watch`: Server-Sent Events of every write (issue 8; docs/protocol.md "Watch"). */
export const watchRoute = createRoute({
  method: 'get',
  path: '/v1/stores/{store}/watch',
  tags: ['watch'],
  summary: 'Server-Sent Events stream of changes: put, delete, purge, expire (id: revision), resume, ready',
  request: {
    params: StoreParams,
    query: z.object({
      match: z.string().exactOptional().openapi({ description: 'NATS wildcard filter on keys' }),
      prefix: z.string().exactOptional().openapi({ description: 'Key prefix filter' }),
      key: z.string().exactOptional().openapi({ description: 'Single-key filter' }),
      fromRevision: z
        .string()
        .exactOptional()
        .openapi({ description: 'Deliver every write after this revision (Last-Event-ID does the same)' }),
      includeHistory: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: replay each key history first' }),
      updatesOnly: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: only writes after the watch starts' }),
      resume: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: first the live entries marked resume' }),
    }),
  },
  responses: {
    200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...errors(400, 401, 403, 404, 410),
  },
});
