/**
 * The Apify API v2 key-value stores (docs/compat.md "Apify API v2") over kv's own stores: an Apify store
 * is a kv store (its `id` and `name` are the store name), a record a kv entry. Every operation is
 * answered by the native route's handler (`callNative`), so the bearer token's capabilities, validation,
 * the commit path and watch events are the native ones. Answers use Apify's `{ data: ... }` envelopes and
 * `{ error: { type, message } }` errors; request bodies may be compressed (`br`, `gzip`, `deflate`); the
 * public URLs `apify-client` signs with a store's `urlSigningSecretKey` are verified here.
 *
 * @module
 */
import {
  bytesToBase64Url,
  isKvError,
  JSON_CONTENT_TYPE,
  KvError,
  LIMITS,
  UnauthenticatedError,
  ValidationError,
  validateKey,
  validateStoreName,
} from '@kv/core/protocol';
import { z } from 'zod';
import { defaultGrant } from '../access.js';
import type { Principal } from '../auth.js';
import type { EngineContext } from '../context.js';
import { SMALL_JSON_BODY_BYTES } from '../json-limits.js';
import {
  type CompatApi,
  defineRoute,
  type EngineResult,
  type HandlerTable,
  type RequestContext,
  type RouteDoc,
  type RouteSpec,
} from '../pipeline.js';
import { timingSafeEqual } from '../signing.js';
import type { StorageReads } from '../storage.js';
import {
  callNative,
  hasCode,
  type NativeRouteName,
  type NativeTable,
  readDecodedBody,
  readJsonBody,
  resultJson,
} from './compat-common.js';

const TAG = 'compat: Apify';

/** The Apify route names. */
type ApifyRoute =
  | 'apifyListStores'
  | 'apifyGetOrCreateStore'
  | 'apifyGetStore'
  | 'apifyUpdateStore'
  | 'apifyDeleteStore'
  | 'apifyListKeys'
  | 'apifyGetRecord'
  | 'apifyPutRecord'
  | 'apifyDeleteRecord';

// ---------------------------------------------------------------------------------------------------
// Errors

/**
 * Apify's error `type` for a kv error: `record-not-found` for a missing store or record (what
 * `apify-client` turns into `undefined`), `token-not-valid` (401), `insufficient-permissions` (403),
 * `invalid-input` (400), `request-too-large` (413), `unsupported-content-encoding` (415),
 * `internal-server-error` (5xx); any other kv code with `-` for `_`.
 */
export function apifyErrorType(error: KvError): string {
  switch (error.code) {
    case 'key_not_found':
    case 'store_not_found':
      return 'record-not-found';
    case 'unauthenticated':
      return 'token-not-valid';
    case 'forbidden':
      return 'insufficient-permissions';
    case 'validation_error':
      return 'invalid-input';
    case 'payload_too_large':
      return 'request-too-large';
    case 'unsupported_media_type':
      return 'unsupported-content-encoding';
    default:
      return error.status >= 500 ? 'internal-server-error' : error.code.replaceAll('_', '-');
  }
}

/** Apify's answer for a thrown error: `{ error: { type, message } }`. */
function errorResult(error: unknown): EngineResult {
  const kv = isKvError(error)
    ? error
    : new KvError('Internal server error', { code: 'internal', status: 500 });
  return {
    status: kv.status || 500,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'kv-error-code': kv.code },
    body: JSON.stringify({ error: { type: apifyErrorType(kv), message: kv.message } }),
  };
}

/** `{ data }` with `status`. */
function data(value: unknown, status = 200): EngineResult {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify({ data: value }) };
}

// ---------------------------------------------------------------------------------------------------
// URL signatures (apify-client `getRecordPublicUrl` / `createKeysPublicUrl`)

const encoder = new TextEncoder();
const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

async function hmacSha256(secret: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

/**
 * Apify's URL signature of `message` (`@apify/utilities` `createHmacSignature`): HMAC-SHA256 with the
 * secret, the first 30 hex digits of the digest (120 bits), written in base 62 (`0-9a-zA-Z`).
 *
 * @param secret - the store's `urlSigningSecretKey`
 * @param message - the record key, or `<version>.<expiresAt>.<storeId>` for a keys URL
 */
export async function apifySignature(secret: string, message: string): Promise<string> {
  const digest = await hmacSha256(secret, message);
  let hex = '';
  for (const byte of digest.subarray(0, 15)) hex += byte.toString(16).padStart(2, '0');
  let n = BigInt(`0x${hex}`);
  if (n === BigInt(0)) return '0';
  const base = BigInt(62);
  let out = '';
  while (n > BigInt(0)) {
    out = BASE62[Number(n % base)] + out;
    n /= base;
  }
  return out;
}

/**
 * A store's Apify `urlSigningSecretKey`: derived from the store's signing secret (HMAC-SHA256 of a fixed
 * label, base64url), so it needs no storage of its own, says nothing about the secret kv's own signed URLs
 * use, and changes when that secret is rotated (which revokes every URL signed with it).
 */
export async function urlSigningSecretKey(signingSecret: string): Promise<string> {
  return bytesToBase64Url(await hmacSha256(signingSecret, 'kv-apify-url-signing-secret-key-v1'));
}

function badSignature(): UnauthenticatedError {
  return new UnauthenticatedError('Invalid signature', { details: { reason: 'signature_invalid' } });
}

/**
 * The caller of an Apify public URL: a record URL (`signature` = the key's signature) may read that record;
 * a keys URL (`signature` = base64url of `<version>.<expiresAt>.<hmac>`, `expiresAt` epoch ms or 0 for
 * never) may list that store. Undefined when the URL carries no `signature`.
 *
 * @throws {UnauthenticatedError} 401 for a signature that does not verify, an unknown store, an expired
 *   keys URL, or a signed write
 */
async function signedPrincipal(
  storage: StorageReads,
  clock: () => number,
  method: string,
  params: Readonly<Record<string, string>>,
  target: string,
  kind: 'record' | 'keys',
): Promise<Principal | undefined> {
  const q = target.indexOf('?');
  if (q === -1 || !target.includes('signature=', q)) return undefined;
  const signature = new URLSearchParams(target.slice(q + 1)).get('signature');
  if (signature === null) return undefined;
  if (method !== 'GET' && method !== 'HEAD') throw badSignature();
  let store: string;
  try {
    store = validateStoreName(params.storeId ?? '');
  } catch {
    throw badSignature();
  }
  const record = await storage.getStore(store);
  if (record === undefined) throw badSignature();
  const secret = await urlSigningSecretKey(record.signingSecret);
  if (kind === 'record') {
    const expected = await apifySignature(secret, params.recordKey ?? '');
    if (!timingSafeEqual(signature, expected)) throw badSignature();
    return {
      via: 'signed-url',
      tokenId: undefined,
      capabilities: (['get', 'exists'] as const).map((action) => ({
        kind: 'kv' as const,
        store,
        scope: undefined,
        action,
        source: 'apify-signed-url',
      })),
    };
  }
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(base64UrlToBytes(signature));
  } catch {
    throw badSignature();
  }
  const m = /^(\d{1,3})\.(\d{1,16})\.([0-9a-zA-Z]{1,40})$/.exec(decoded);
  if (m === null) throw badSignature();
  const [, version, expiresAt, hmac] = m as unknown as [string, string, string, string];
  const expected = await apifySignature(secret, `${version}.${expiresAt}.${store}`);
  if (!timingSafeEqual(hmac, expected)) throw badSignature();
  if (expiresAt !== '0' && Number(expiresAt) <= clock()) {
    throw new UnauthenticatedError('Signed URL expired', { details: { reason: 'signature_expired' } });
  }
  return {
    via: 'signed-url',
    tokenId: undefined,
    capabilities: [{ kind: 'kv', store, scope: undefined, action: 'list', source: 'apify-signed-url' }],
  };
}

function base64UrlToBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError('not base64url');
  const b64 = text.replaceAll('-', '+').replaceAll('_', '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Descriptions

const Id = (name: string, description: string) =>
  z.string().openapi({ param: { name, in: 'path' }, description });
const StoreIdParams = z.object({ storeId: Id('storeId', 'The store: a kv store name') });
const RecordParams = StoreIdParams.extend({
  recordKey: Id('recordKey', 'The record key; may hold `/` (the rest of the path)'),
});
const ApifyData = z.object({ data: z.unknown() }).openapi('ApifyData');
const ApifyError = z
  .object({ error: z.object({ type: z.string(), message: z.string() }) })
  .openapi('ApifyError');
const jsonOf = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const failures = {
  400: jsonOf(ApifyError, 'invalid-input'),
  401: jsonOf(ApifyError, 'token-not-valid'),
  403: jsonOf(ApifyError, 'insufficient-permissions'),
  404: jsonOf(ApifyError, 'record-not-found'),
};

function doc(summary: string, params: z.ZodType | undefined, responses: RouteDoc['responses']): RouteDoc {
  return {
    tags: [TAG],
    summary,
    ...(params === undefined ? {} : { request: { params: params as z.ZodObject } }),
    responses: { ...responses, ...failures },
  };
}

// ---------------------------------------------------------------------------------------------------
// Mapping helpers

interface StoreInfo {
  name: string;
  keyCount: number;
  totalBytes: number;
  createdAt: string;
  updatedAt: string;
}

/** The query of a request target, one value per name (the last wins). */
function queryOf(c: RequestContext): URLSearchParams {
  const q = c.request.url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : c.request.url.slice(q + 1));
}

/** A whole number from the query within `[min, max]`, else `fallback` when absent. */
function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`${name} must be a whole number from ${min} to ${max}`, {
      details: { field: name, reason: 'out_of_range', min, max },
    });
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Routes

/**
 * The Apify API v2 key-value store routes, each answered through a native handler of `native`.
 *
 * @param ctx - the engine context (storage for signatures, body limits, public URL)
 * @param native - the native routes' handlers
 */
export function routes(ctx: EngineContext, native: NativeTable): Pick<HandlerTable, ApifyRoute> {
  const plain: CompatApi = { errorResult };
  const signed = (kind: 'record' | 'keys'): CompatApi => ({
    errorResult,
    signedPrincipal: (method, params, target) =>
      signedPrincipal(ctx.storage, ctx.clock, method, params, target, kind),
  });
  const route = (
    d: RouteDoc,
    handle: (c: RequestContext, store: string) => Promise<EngineResult>,
    api: CompatApi = plain,
    headDoc?: RouteDoc,
  ): RouteSpec =>
    defineRoute(d, (c) => handle(c, c.params.storeId ?? ''), undefined, {
      compat: api,
      ...(headDoc === undefined ? {} : { headDoc }),
    });
  const call = (c: RequestContext, name: NativeRouteName, args: Parameters<typeof callNative>[3]) =>
    callNative(native, c, name, args);

  /**
   * The Apify store object; `urlSigningSecretKey` only for a caller with unscoped `sign`, `get` and `list`
   * on the store.
   */
  const storeObject = async (c: RequestContext, info: StoreInfo): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {
      id: info.name,
      name: info.name,
      title: null,
      userId: 'kv',
      createdAt: info.createdAt,
      modifiedAt: info.updatedAt,
      accessedAt: info.updatedAt,
      actId: null,
      actRunId: null,
      generalAccess: 'RESTRICTED',
      stats: { keyCount: info.keyCount, s3StorageBytes: info.totalBytes },
    };
    // Apify's URLs carry no scopes: the key goes only to a caller who may sign, read and list every
    // entry of the store (what a record or keys URL then grants).
    const full = (['sign', 'get', 'list'] as const).every(
      (action) => defaultGrant(c.principal, action, info.name)?.all === true,
    );
    if (full) {
      const record = await ctx.storage.getStore(info.name);
      if (record !== undefined) out.urlSigningSecretKey = await urlSigningSecretKey(record.signingSecret);
    }
    return out;
  };

  const apifyListStores = route(
    doc('List key-value stores (kv stores)', undefined, { 200: jsonOf(ApifyData, 'One page of stores') }),
    async (c) => {
      const q = queryOf(c);
      const offset = intParam(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(q, 'limit', 1000, 1, 1000);
      const desc = q.get('desc') === '1' || q.get('desc') === 'true';
      const { items } = resultJson<{ items: StoreInfo[] }>(await call(c, 'listStores', { params: {} }));
      if (desc) items.reverse();
      const page = items.slice(offset, offset + limit);
      return data({
        total: items.length,
        offset,
        limit,
        count: page.length,
        desc,
        items: await Promise.all(page.map((s) => storeObject(c, s))),
      });
    },
  );

  const apifyGetOrCreateStore = route(
    doc('Get the store named ?name=, creating it when missing', undefined, {
      200: jsonOf(ApifyData, 'The store existed'),
      201: jsonOf(ApifyData, 'Created'),
    }),
    async (c) => {
      const given = queryOf(c).get('name');
      const name = given === null || given === '' ? `unnamed-${crypto.randomUUID()}` : given;
      validateStoreName(name);
      try {
        const info = resultJson<StoreInfo>(await call(c, 'getStore', { params: { store: name } }));
        return data(await storeObject(c, info));
      } catch (error) {
        if (!hasCode(error, 'store_not_found')) throw error;
      }
      try {
        const info = resultJson<StoreInfo>(await call(c, 'createStore', { params: {}, body: { name } }));
        return data(await storeObject(c, info), 201);
      } catch (error) {
        // Created by another caller in between: answer it.
        if (!hasCode(error, 'store_exists')) throw error;
        const info = resultJson<StoreInfo>(await call(c, 'getStore', { params: { store: name } }));
        return data(await storeObject(c, info));
      }
    },
  );

  const apifyGetStore = route(
    doc('Get a store', StoreIdParams, { 200: jsonOf(ApifyData, 'The store') }),
    async (c, store) => {
      const info = resultJson<StoreInfo>(await call(c, 'getStore', { params: { store } }));
      return data(await storeObject(c, info));
    },
  );

  const apifyUpdateStore = route(
    doc('Update a store: kv stores keep their name, so only the same name is accepted', StoreIdParams, {
      200: jsonOf(ApifyData, 'The store'),
    }),
    async (c, store) => {
      const { value } = await readJsonBody(c.request, Math.min(SMALL_JSON_BODY_BYTES, ctx.maxBodyBytes));
      const name = (value as { name?: unknown } | null)?.name;
      if (name !== undefined && name !== null && name !== store) {
        throw new ValidationError('kv stores cannot be renamed: name must be the store id', {
          details: { field: 'name', reason: 'not_supported' },
        });
      }
      const info = resultJson<StoreInfo>(await call(c, 'updateStore', { params: { store }, body: {} }));
      return data(await storeObject(c, info));
    },
  );

  const apifyDeleteStore = route(
    doc('Delete a store and its records', StoreIdParams, { 204: { description: 'Deleted' } }),
    async (c, store) => {
      const { deleted } = resultJson<{ deleted: boolean }>(
        await call(c, 'deleteStore', { params: { store } }),
      );
      if (!deleted) {
        throw new KvError(`Store "${store}" does not exist`, { code: 'store_not_found', status: 404 });
      }
      return { status: 204, headers: {} };
    },
  );

  const apifyListKeys = route(
    doc('List keys: exclusiveStartKey, limit, prefix', StoreIdParams, {
      200: jsonOf(ApifyData, 'One page of keys'),
    }),
    async (c, store) => {
      const q = queryOf(c);
      const limit = intParam(q, 'limit', 1000, 1, LIMITS.maxListLimit);
      const query: Record<string, string> = { limit: String(limit) };
      const prefix = q.get('prefix');
      if (prefix !== null && prefix !== '') query.prefix = prefix;
      const start = q.get('exclusiveStartKey');
      if (start !== null && start !== '') query.startAfter = start;
      type Page = { items: Array<{ key: string; size: number }>; cursor?: string; complete: boolean };
      let page = resultJson<Page>(await call(c, 'listEntries', { params: { store }, query }));
      // A scoped caller's page can be empty before the end: go on (bounded) so `items` is empty only at
      // the end, which is where apify-client stops.
      for (let i = 0; i < 100 && page.items.length === 0 && !page.complete && page.cursor; i++) {
        page = resultJson<Page>(
          await call(c, 'listEntries', { params: { store }, query: { ...query, cursor: page.cursor } }),
        );
      }
      const base = `${ctx.publicUrl()}/v2/key-value-stores/${encodeURIComponent(store)}/records/`;
      const items = page.items.map((e) => ({
        key: e.key,
        size: e.size,
        recordPublicUrl: base + encodeURIComponent(e.key),
      }));
      const last = items[items.length - 1];
      return data({
        items,
        count: items.length,
        limit,
        exclusiveStartKey: start,
        isTruncated: !page.complete,
        nextExclusiveStartKey: page.complete || last === undefined ? null : last.key,
      });
    },
    signed('keys'),
  );

  const recordHeadDoc: RouteDoc = {
    tags: [TAG],
    summary: 'Whether a record exists',
    request: { params: RecordParams },
    responses: { 200: { description: 'Exists' }, 404: { description: 'record-not-found' } },
  };

  const apifyGetRecord = route(
    doc('Read a record: its bytes with its content type', RecordParams, {
      200: { description: 'The value', content: { '*/*': { schema: z.string() } } },
    }),
    async (c, store) => {
      const key = validateKey(c.params.recordKey ?? '');
      const res = await call(c, 'getEntry', { params: { store, key }, method: c.method });
      if (queryOf(c).get('attachment') === 'true') res.headers['content-disposition'] = 'attachment';
      return res;
    },
    signed('record'),
    recordHeadDoc,
  );

  const apifyPutRecord = route(
    doc('Write a record: the body (br/gzip/deflate accepted) with its Content-Type', RecordParams, {
      201: { description: 'Written' },
    }),
    async (c, store) => {
      const key = validateKey(c.params.recordKey ?? '');
      const raw = await readDecodedBody(c.request, ctx.maxBodyBytes);
      const headers: Record<string, string> = {};
      const type = c.header('content-type');
      if (type !== undefined) headers['content-type'] = type;
      await call(c, 'putEntry', { params: { store, key }, headers, raw });
      return { status: 201, headers: {} };
    },
  );

  const apifyDeleteRecord = route(
    doc('Delete a record (a missing one succeeds too)', RecordParams, { 204: { description: 'Deleted' } }),
    async (c, store) => {
      const key = validateKey(c.params.recordKey ?? '');
      await call(c, 'deleteEntry', { params: { store, key } });
      return { status: 204, headers: {} };
    },
  );

  return {
    apifyListStores,
    apifyGetOrCreateStore,
    apifyGetStore,
    apifyUpdateStore,
    apifyDeleteStore,
    apifyListKeys,
    apifyGetRecord,
    apifyPutRecord,
    apifyDeleteRecord,
  };
}
