/**
 * The Cloudflare Workers KV REST API (API v4; docs/compat.md "Cloudflare KV REST API") over kv's own
 * stores: a namespace is a kv store (its `id` and `title` are the store name), a key a kv entry. Every
 * operation is answered by the native route's handler (`callNative`), so the bearer token's capabilities,
 * validation, the commit path and watch events are the native ones. Answers use Cloudflare's envelope
 * `{ success, errors, messages, result, result_info }` and its error codes.
 *
 * @module
 */
import {
  BYTES_CONTENT_TYPE,
  base64ToBytes,
  bytesToBase64,
  isKvError,
  JSON_CONTENT_TYPE,
  KvError,
  LIMITS,
  ValidationError,
} from '@kv/core/protocol';
import { z } from 'zod';
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
import {
  callNative,
  type NativeRouteName,
  type NativeTable,
  readDecodedBody,
  readJsonBody,
  resultJson,
} from './compat-common.js';

const TAG = 'compat: Cloudflare KV';
const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** The Cloudflare route names. */
type CfRoute =
  | 'cfListNamespaces'
  | 'cfCreateNamespace'
  | 'cfGetNamespace'
  | 'cfRenameNamespace'
  | 'cfDeleteNamespace'
  | 'cfListKeys'
  | 'cfGetValue'
  | 'cfPutValue'
  | 'cfDeleteValue'
  | 'cfGetMetadata'
  | 'cfBulkPut'
  | 'cfBulkDeleteLegacy'
  | 'cfBulkDelete'
  | 'cfBulkGet';

// ---------------------------------------------------------------------------------------------------
// Envelope and errors

/** A Cloudflare API v4 message: `{ code, message }`. */
interface CfMessage {
  code: number;
  message: string;
}

/**
 * Cloudflare's error code for a kv error (the Workers KV API's codes: 10000 authentication, 10009 key not
 * found, 10011 malformed namespace id, 10012 malformed request, 10013 namespace not found, 10014 namespace
 * exists, 10024 payload too large, 10028 invalid limit; 10001 for server failures).
 */
export function cloudflareCode(error: KvError): number {
  const field = (error.details as { field?: unknown } | undefined)?.field;
  switch (error.code) {
    case 'unauthenticated':
    case 'forbidden':
      return 10000;
    case 'key_not_found':
      return 10009;
    case 'store_not_found':
      return 10013;
    case 'store_exists':
      return 10014;
    case 'payload_too_large':
      return 10024;
    case 'validation_error':
      if (field === 'limit') return 10028;
      if (field === 'store') return 10011;
      return 10012;
    default:
      return error.status >= 500 ? 10001 : 10012;
  }
}

/** A Cloudflare success envelope. */
function ok(result: unknown, resultInfo?: Record<string, unknown>, status = 200): EngineResult {
  const body: Record<string, unknown> = { success: true, errors: [], messages: [], result };
  if (resultInfo !== undefined) body.result_info = resultInfo;
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

/** Cloudflare's answer for a thrown error: `{ success: false, errors: [{ code, message }], ... }`. */
function errorResult(error: unknown): EngineResult {
  const kv = isKvError(error)
    ? error
    : new KvError('Internal server error', { code: 'internal', status: 500 });
  const message: CfMessage = { code: cloudflareCode(kv), message: kv.message };
  return {
    status: kv.status || 500,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'kv-error-code': kv.code },
    body: JSON.stringify({ success: false, errors: [message], messages: [], result: null }),
  };
}

const CLOUDFLARE: CompatApi = { errorResult };

// ---------------------------------------------------------------------------------------------------
// Descriptions

const Id = (name: string, description: string) =>
  z.string().openapi({ param: { name, in: 'path' }, description });
const AccountParams = z.object({ accountId: Id('accountId', 'Accepted and ignored') });
const NamespaceParams = AccountParams.extend({
  namespaceId: Id('namespaceId', 'The namespace: a kv store name'),
});
const KeyParams = NamespaceParams.extend({ keyName: Id('keyName', 'The key, percent-encoded') });
const Envelope = z
  .object({
    success: z.boolean(),
    errors: z.array(z.object({ code: z.number(), message: z.string() })),
    messages: z.array(z.object({ code: z.number(), message: z.string() })),
    result: z.unknown(),
    result_info: z.record(z.string(), z.unknown()).exactOptional(),
  })
  .openapi('CloudflareEnvelope');
const envelope = (description: string) => ({
  description,
  content: { 'application/json': { schema: Envelope } },
});
const failures = {
  400: envelope('Malformed request (10012, 10011, 10028)'),
  401: envelope('Authentication error (10000)'),
  403: envelope('Authentication error (10000): the token lacks the capability'),
  404: envelope('Namespace (10013) or key (10009) not found'),
};

function doc(summary: string, params: z.ZodType, extra: Partial<RouteDoc> = {}): RouteDoc {
  return {
    tags: [TAG],
    summary,
    request: { params: params as z.ZodObject },
    responses: { 200: envelope('Success'), ...failures },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------
// Mapping helpers

interface StoreInfo {
  name: string;
}

/** A namespace as Cloudflare describes one. */
function namespace(name: string): { id: string; title: string; supports_url_encoding: boolean } {
  return { id: name, title: name, supports_url_encoding: true };
}

/** A whole number of seconds from a query or body field, or undefined when absent. */
function seconds(value: unknown, field: string, min: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new ValidationError(`${field} must be a whole number of seconds, at least ${min}`, {
      details: { field, reason: 'out_of_range' },
    });
  }
  return n;
}

/**
 * The kv expiry headers of Cloudflare's `expiration` (epoch seconds) and `expiration_ttl` (seconds;
 * decides when both are given, as on Cloudflare).
 */
function expiryHeaders(expiration: unknown, expirationTtl: unknown): Record<string, string> {
  const ttl = seconds(expirationTtl, 'expiration_ttl', 1);
  if (ttl !== undefined) {
    if (ttl * 1000 > LIMITS.maxTtlMs) {
      throw new ValidationError('expiration_ttl is too large', {
        details: { field: 'expiration_ttl', reason: 'out_of_range' },
      });
    }
    return { 'kv-ttl-ms': String(ttl * 1000) };
  }
  const at = seconds(expiration, 'expiration', 1);
  if (at === undefined) return {};
  const ms = at * 1000;
  if (ms > LIMITS.maxExpiresAtMs) {
    throw new ValidationError('expiration is too late', {
      details: { field: 'expiration', reason: 'out_of_range' },
    });
  }
  return { 'kv-expires-at': new Date(ms).toISOString() };
}

/** The JSON object stored as kv metadata, from Cloudflare's metadata value. */
function metadataObject(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('metadata must be a JSON object on kv', {
      details: { field: 'metadata', reason: 'invalid_format' },
    });
  }
  return value as Record<string, unknown>;
}

/**
 * Puts `value` into `target` at the path of a bracketed form field name (`metadata[a][b]`, `metadata[l][]`),
 * as the Stainless SDKs encode an object in multipart forms.
 */
function setBracketed(target: Record<string, unknown>, path: string[], value: string): void {
  let node: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < path.length; i++) {
    const part = path[i] as string;
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      if (last) node.push(value);
      else {
        const child: Record<string, unknown> | unknown[] = path[i + 1] === '' ? [] : {};
        node.push(child);
        node = child;
      }
      continue;
    }
    if (last) {
      node[part] = value;
      continue;
    }
    const wantArray = path[i + 1] === '';
    let child = node[part];
    if (child === undefined || typeof child !== 'object' || child === null) {
      child = wantArray ? [] : {};
      node[part] = child;
    }
    node = child as Record<string, unknown> | unknown[];
  }
}

/** Reads the `value` and `metadata` of a multipart write (Cloudflare's form fields). */
async function readForm(
  body: Uint8Array,
  contentType: string,
): Promise<{ value: Uint8Array; contentType: string; metadata: unknown }> {
  let form: FormData;
  try {
    form = await new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': contentType },
    }).formData();
  } catch {
    throw new ValidationError('Malformed multipart/form-data body', { details: { field: 'body' } });
  }
  const field = form.get('value');
  if (field === null) {
    throw new ValidationError('The form has no value field', { details: { field: 'value' } });
  }
  let value: Uint8Array;
  let type = TEXT_CONTENT_TYPE;
  if (typeof field === 'string') value = new TextEncoder().encode(field);
  else {
    value = new Uint8Array(await field.arrayBuffer());
    type = field.type === '' ? BYTES_CONTENT_TYPE : field.type;
  }
  let metadata: unknown;
  const whole = form.get('metadata');
  if (typeof whole === 'string') {
    try {
      metadata = JSON.parse(whole);
    } catch {
      throw new ValidationError('metadata must be JSON', {
        details: { field: 'metadata', reason: 'invalid_format' },
      });
    }
  } else {
    const fields: Record<string, unknown> = {};
    let any = false;
    for (const [name, v] of form) {
      if (!name.startsWith('metadata[') || typeof v !== 'string') continue;
      const path = [...name.slice('metadata'.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string);
      if (path.length === 0 || path[0] === '') continue;
      setBracketed(fields, path, v);
      any = true;
    }
    if (any) metadata = fields;
  }
  return { value, contentType: type, metadata };
}

/** The query of a request target, one value per name (the last wins). */
function queryOf(c: RequestContext): URLSearchParams {
  const q = c.request.url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : c.request.url.slice(q + 1));
}

interface NativeBulkResult {
  results: Array<{ key: string; ok: boolean }>;
}

/** Cloudflare's bulk write answer from kv's per-item results. */
function bulkAnswer(native: NativeBulkResult): EngineResult {
  const unsuccessful = native.results.filter((r) => !r.ok).map((r) => r.key);
  return ok({
    successful_key_count: native.results.length - unsuccessful.length,
    unsuccessful_keys: unsuccessful,
  });
}

// ---------------------------------------------------------------------------------------------------
// Routes

/**
 * The Cloudflare KV REST routes, each answered through a native handler of `native`.
 *
 * @param ctx - the engine context (body limits)
 * @param native - the native routes' handlers
 */
export function routes(ctx: EngineContext, native: NativeTable): Pick<HandlerTable, CfRoute> {
  const route = (
    summary: string,
    params: z.ZodType,
    handle: (c: RequestContext, store: string) => Promise<EngineResult>,
    extra: Partial<RouteDoc> = {},
  ): RouteSpec =>
    defineRoute(doc(summary, params, extra), (c) => handle(c, c.params.namespaceId ?? ''), undefined, {
      compat: CLOUDFLARE,
    });
  const call = (c: RequestContext, name: NativeRouteName, args: Parameters<typeof callNative>[3]) =>
    callNative(native, c, name, args);
  const keyOf = (c: RequestContext) => c.params.keyName ?? '';
  const smallJson = (c: RequestContext) =>
    readJsonBody(c.request, Math.min(SMALL_JSON_BODY_BYTES, ctx.maxBodyBytes));

  const cfListNamespaces = route('List namespaces (kv stores)', AccountParams, async (c) => {
    const q = queryOf(c);
    const page = Number(q.get('page') ?? '1');
    const perPage = Number(q.get('per_page') ?? '20');
    if (!Number.isInteger(page) || page < 1) {
      throw new ValidationError('page must be a whole number from 1', { details: { field: 'page' } });
    }
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) {
      throw new ValidationError('per_page must be a whole number from 1 to 1000', {
        details: { field: 'per_page' },
      });
    }
    const { items } = resultJson<{ items: StoreInfo[] }>(await call(c, 'listStores', { params: {} }));
    // Stores come ordered by name (id and title alike); `direction=desc` reverses.
    if (q.get('direction') === 'desc') items.reverse();
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return ok(
      slice.map((s) => namespace(s.name)),
      {
        page,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.ceil(items.length / perPage),
      },
    );
  });

  const cfCreateNamespace = route(
    'Create a namespace (a kv store named by its title)',
    AccountParams,
    async (c) => {
      const { value } = await smallJson(c);
      const title = (value as { title?: unknown } | null)?.title;
      if (typeof title !== 'string' || title === '') {
        throw new ValidationError('title is required', { details: { field: 'store', reason: 'missing' } });
      }
      const info = resultJson<StoreInfo>(await call(c, 'createStore', { params: {}, body: { name: title } }));
      return ok(namespace(info.name));
    },
  );

  const cfGetNamespace = route('Get a namespace', NamespaceParams, async (c, store) => {
    const info = resultJson<StoreInfo>(await call(c, 'getStore', { params: { store } }));
    return ok(namespace(info.name));
  });

  const cfRenameNamespace = route(
    'Rename a namespace: kv stores keep their name, so only the same title is accepted',
    NamespaceParams,
    async (c, store) => {
      const { value } = await smallJson(c);
      const title = (value as { title?: unknown } | null)?.title;
      if (title !== store) {
        throw new ValidationError('kv stores cannot be renamed: the title must be the namespace id', {
          details: { field: 'title', reason: 'not_supported' },
        });
      }
      const info = resultJson<StoreInfo>(await call(c, 'updateStore', { params: { store }, body: {} }));
      return ok(namespace(info.name));
    },
  );

  const cfDeleteNamespace = route('Delete a namespace and its keys', NamespaceParams, async (c, store) => {
    const { deleted } = resultJson<{ deleted: boolean }>(await call(c, 'deleteStore', { params: { store } }));
    if (!deleted) {
      throw new KvError(`Namespace "${store}" does not exist`, { code: 'store_not_found', status: 404 });
    }
    return ok({});
  });

  const cfListKeys = route('List keys: prefix, limit, cursor', NamespaceParams, async (c, store) => {
    const q = queryOf(c);
    const query: Record<string, string> = { limit: q.get('limit') ?? '1000' };
    const prefix = q.get('prefix');
    if (prefix !== null && prefix !== '') query.prefix = prefix;
    const cursor = q.get('cursor');
    if (cursor !== null && cursor !== '') query.cursor = cursor;
    const page = resultJson<{
      items: Array<{ key: string; expiresAt: string | null; metadata: unknown }>;
      cursor?: string;
      complete: boolean;
    }>(await call(c, 'listEntries', { params: { store }, query }));
    const result = page.items.map((e) => {
      const out: { name: string; expiration?: number; metadata?: unknown } = { name: e.key };
      if (e.expiresAt !== null) out.expiration = Math.floor(Date.parse(e.expiresAt) / 1000);
      if (e.metadata !== null) out.metadata = e.metadata;
      return out;
    });
    return ok(result, { count: result.length, cursor: page.complete ? '' : (page.cursor ?? '') });
  });

  const cfGetValue = route(
    'Read a value: its bytes as application/octet-stream',
    KeyParams,
    async (c, store) => {
      const res = await call(c, 'getEntry', { params: { store, key: keyOf(c) }, method: c.method });
      res.headers['content-type'] = BYTES_CONTENT_TYPE;
      return res;
    },
    {
      responses: {
        200: { description: 'The value', content: { 'application/octet-stream': { schema: z.string() } } },
        ...failures,
      },
    },
  );

  const cfPutValue = route(
    'Write a value: multipart value + metadata, or a raw body; expiration / expiration_ttl',
    KeyParams,
    async (c, store) => {
      const q = queryOf(c);
      const headers = expiryHeaders(q.get('expiration'), q.get('expiration_ttl'));
      const body = await readDecodedBody(c.request, ctx.maxBodyBytes);
      const type = c.header('content-type') ?? '';
      let raw = body;
      let contentType = type === '' ? BYTES_CONTENT_TYPE : type;
      let metadata: unknown;
      if (/^multipart\/form-data\s*;/i.test(type)) {
        const form = await readForm(body, type);
        raw = form.value;
        contentType = form.contentType;
        metadata = form.metadata;
      }
      headers['content-type'] = contentType;
      const meta = metadataObject(metadata);
      if (meta !== undefined) headers['kv-metadata'] = encodeURIComponent(JSON.stringify(meta));
      await call(c, 'putEntry', { params: { store, key: keyOf(c) }, headers, raw });
      return ok({});
    },
  );

  const cfDeleteValue = route('Delete a key (a missing key succeeds too)', KeyParams, async (c, store) => {
    await call(c, 'deleteEntry', { params: { store, key: keyOf(c) } });
    return ok({});
  });

  const cfGetMetadata = route(
    "Read a key's metadata (null when it has none)",
    KeyParams,
    async (c, store) => {
      const res = await call(c, 'getEntry', { params: { store, key: keyOf(c) } });
      if (typeof res.body === 'object' && 'cancel' in res.body) await res.body.cancel();
      const header = res.headers['kv-metadata'];
      return ok(header === undefined ? null : JSON.parse(decodeURIComponent(header)));
    },
  );

  const bulkPut = route('Write up to 10,000 keys', NamespaceParams, async (c, store) => {
    const { value } = await readJsonBody(c.request, ctx.maxJsonBodyBytes);
    if (!Array.isArray(value)) {
      throw new ValidationError('The body must be an array of { key, value }', {
        details: { field: 'body' },
      });
    }
    if (value.length > LIMITS.maxBulkItems) {
      throw new KvError(`At most ${LIMITS.maxBulkItems} items per request`, {
        code: 'payload_too_large',
        details: { field: 'items', maxItems: LIMITS.maxBulkItems },
      });
    }
    const items = value.map((item: unknown, index) => {
      const i = (item ?? {}) as Record<string, unknown>;
      if (typeof i.key !== 'string' || typeof i.value !== 'string') {
        throw new ValidationError(`Item ${index}: key and value must be strings`, {
          details: { field: `${index}` },
        });
      }
      const base64 = i.base64 === true;
      const out: Record<string, unknown> = {
        key: i.key,
        value: base64
          ? bytesToBase64(base64ToBytes(i.value))
          : bytesToBase64(new TextEncoder().encode(i.value)),
        contentType: base64 ? BYTES_CONTENT_TYPE : TEXT_CONTENT_TYPE,
      };
      const expiry = expiryHeaders(i.expiration, i.expiration_ttl);
      if (expiry['kv-ttl-ms'] !== undefined) out.ttlMs = Number(expiry['kv-ttl-ms']);
      if (expiry['kv-expires-at'] !== undefined) out.expiresAt = expiry['kv-expires-at'];
      const meta = metadataObject(i.metadata);
      if (meta !== undefined) out.metadata = meta;
      return out;
    });
    return bulkAnswer(
      resultJson<NativeBulkResult>(await call(c, 'bulkSet', { params: { store }, body: { items } })),
    );
  });

  const bulkDelete = async (c: RequestContext, store: string) => {
    const { value } = await readJsonBody(c.request, ctx.maxJsonBodyBytes);
    if (!Array.isArray(value) || value.some((k) => typeof k !== 'string')) {
      throw new ValidationError('The body must be an array of keys', { details: { field: 'body' } });
    }
    if (value.length > LIMITS.maxBulkItems) {
      throw new KvError(`At most ${LIMITS.maxBulkItems} keys per request`, {
        code: 'payload_too_large',
        details: { field: 'keys', maxItems: LIMITS.maxBulkItems },
      });
    }
    return bulkAnswer(
      resultJson<NativeBulkResult>(await call(c, 'bulkDelete', { params: { store }, body: { keys: value } })),
    );
  };

  const cfBulkGet = route(
    'Read up to 10,000 keys (type text or json, withMetadata)',
    NamespaceParams,
    async (c, store) => {
      const { value } = await readJsonBody(c.request, ctx.maxJsonBodyBytes);
      const body = (value ?? {}) as { keys?: unknown; type?: unknown; withMetadata?: unknown };
      if (!Array.isArray(body.keys) || body.keys.some((k) => typeof k !== 'string')) {
        throw new ValidationError('keys must be an array of strings', { details: { field: 'keys' } });
      }
      if (body.keys.length > LIMITS.maxBulkItems) {
        throw new KvError(`At most ${LIMITS.maxBulkItems} keys per request`, {
          code: 'payload_too_large',
          details: { field: 'keys', maxItems: LIMITS.maxBulkItems },
        });
      }
      const type = body.type ?? 'text';
      if (type !== 'text' && type !== 'json') {
        throw new ValidationError('type must be text or json', { details: { field: 'type' } });
      }
      const { items } = resultJson<{
        items: Array<{
          key: string;
          found: boolean;
          value?: string;
          metadata?: unknown;
          expiresAt?: string | null;
        }>;
      }>(await call(c, 'bulkGet', { params: { store }, body: { keys: body.keys, values: true } }));
      const values: Record<string, unknown> = {};
      const decoder = new TextDecoder();
      for (const item of items) {
        if (!item.found) {
          values[item.key] = null;
          continue;
        }
        const text = decoder.decode(base64ToBytes(item.value ?? ''));
        let v: unknown = text;
        if (type === 'json') {
          try {
            v = JSON.parse(text);
          } catch {
            throw new ValidationError(`The value of "${item.key}" is not JSON`, {
              details: { field: 'type', key: item.key },
            });
          }
        }
        if (body.withMetadata === true) {
          const out: Record<string, unknown> = { value: v, metadata: item.metadata ?? null };
          if (item.expiresAt) out.expiration = Math.floor(Date.parse(item.expiresAt) / 1000);
          values[item.key] = out;
        } else values[item.key] = v;
      }
      return ok({ values });
    },
  );

  return {
    cfListNamespaces,
    cfCreateNamespace,
    cfGetNamespace,
    cfRenameNamespace,
    cfDeleteNamespace,
    cfListKeys,
    cfGetValue,
    cfPutValue,
    cfDeleteValue,
    cfGetMetadata,
    cfBulkPut: bulkPut,
    cfBulkDeleteLegacy: route(
      'Delete up to 10,000 keys (the older DELETE form)',
      NamespaceParams,
      bulkDelete,
    ),
    cfBulkDelete: route('Delete up to 10,000 keys', NamespaceParams, bulkDelete),
    cfBulkGet,
  };
}
