/**
 * The engine's one request pipeline (docs/architecture.md "Request pipeline"): a transport hands in a
 * plain {@link EngineRequest}, the pipeline routes it with core's route table (`matchServerRoute`), runs the
 * same steps for every route, calls the route's handler with a {@link RequestContext} and returns a plain
 * {@link EngineResult}. Two thin transports adapt it: Web `Request -> Response` (`web.ts`, the mock and
 * edge runtimes) and `node:http` (in `apps/server`).
 *
 * The steps, in order: the request id (`Kv-Request-Id`); on `/v1/...` the caller (a signed URL, whose
 * answers get the signed-URL CORS and `nosniff` headers, or the bearer token); 404 / 405 / 400 from
 * `matchServerRoute`; for JSON-body routes the capability pre-check, 415, the body read within the route's
 * limit (413) and the nesting check; zod validation of the query, path parameters, headers and JSON body
 * (each once); the handler; errors as JSON error bodies; HEAD as GET without the body.
 *
 * @module
 */
import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import {
  API_BASE,
  HEADERS,
  isKvError,
  KvError,
  LIMITS,
  matchServerRoute,
  PayloadTooLargeError,
  RateLimitedError,
  ROUTES,
  type RouteDef,
  type RouteLookup,
  type ServerRouteName,
  ValidationError,
  validateStoreName,
} from '@kv/core/protocol';
import type { z } from 'zod';
import { defaultGrant, forbidden, signedUrlPrincipal } from './access.js';
import { authenticate, type Principal, type TokenStore } from './auth.js';
import type { EngineAction, EngineContext, HookRequest } from './context.js';
import { errorResult, isJsonContentType, pickRequestId } from './http.js';
import { checkJsonDepth } from './json-limits.js';
import { enforceRateLimit, retryAfterSeconds } from './rate-limit.js';
import { isSignedUrl, signedResponseHeaders } from './signing.js';

/**
 * One request as a transport hands it to the engine: no `Request` object, no `Headers` list. The Node
 * transport reads these straight from `IncomingMessage`; the Web transport from a `Request`.
 */
export interface EngineRequest {
  /** The method, upper case (`GET`, `HEAD`, `PUT`...). */
  readonly method: string;
  /** The request target as received: raw path and query, e.g. `/v1/stores/s/entries/a%2Fb?x=1`. */
  readonly url: string;
  /** A request header by lower-case name; several of one name joined with `, ` (RFC 9110 section 5.3). */
  header(name: string): string | undefined;
  /**
   * Reads the whole body, stopping as soon as more than `limitBytes` arrived.
   *
   * @param limitBytes - largest accepted body, in bytes
   * @returns the bytes (empty without a body), or `null` when the body is larger (the rest is not buffered)
   * @throws whatever the transport fails with (e.g. the client aborting mid-body)
   */
  readBody(limitBytes: number): Promise<Uint8Array | null>;
  /** Aborted when the client goes away (ends a watch stream). Transports may create it on first read. */
  readonly signal: AbortSignal;
  /**
   * `matchServerRoute(method, path)` of this request, when the transport already looked it up (the server
   * does, for its metric labels): the pipeline then matches once per request. It must be that lookup.
   */
  readonly route?: RouteLookup | undefined;
  /**
   * Decodes a request body compressed with a `Content-Encoding` the runtime's Web `DecompressionStream`
   * lacks (Node 20 has no brotli there; the Node transport decodes `br` with `node:zlib`). Optional: without
   * it such a body is a 415.
   *
   * @param encoding - the coding, lower case (`br`)
   * @param body - the compressed bytes
   * @param limitBytes - largest decoded size accepted, in bytes
   * @returns the decoded bytes; `null` when they pass `limitBytes` (nothing more is decoded); `undefined`
   *   when the transport does not know the coding
   * @throws a `KvError` (400) for a body that is not valid in that coding
   */
  decompress?(encoding: string, body: Uint8Array, limitBytes: number): Promise<Uint8Array | null | undefined>;
}

/** The body of an {@link EngineResult}: bytes, text (UTF-8 on the wire) or a stream (watch). */
export type ResultBody = Uint8Array | string | ReadableStream<Uint8Array>;

/** An answer as the engine builds it; a transport writes it out. */
export interface EngineResult {
  /** HTTP status. */
  status: number;
  /** Response headers, lower-case names. `Content-Length` is set by handlers that stream raw values. */
  headers: Record<string, string>;
  /** The body; absent for none (HEAD, 304). */
  body?: ResultBody | undefined;
}

/**
 * What a route handler gets: the matched route and its validated inputs.
 *
 * @typeParam Q - the validated query (the route's query schema output)
 * @typeParam B - the validated JSON body (the route's body schema output)
 */
export interface RequestContext<Q = unknown, B = unknown> {
  /** The request as the transport handed it in. */
  readonly request: EngineRequest;
  /** The method (`HEAD` for HEAD, though the route is the GET route). */
  readonly method: string;
  /** The route of core's table that matched. */
  readonly route: RouteDef;
  /** Path parameters, percent-decoded (strictly) by `matchServerRoute`. */
  readonly params: Readonly<Record<string, string>>;
  /** The query, validated by the route's query schema (`{}` without one). */
  readonly query: Q;
  /** The JSON body, validated by the route's body schema (undefined on routes without one). */
  readonly body: B;
  /** The raw bytes of the JSON body (empty on routes without one): the idempotency fingerprint reads them. */
  readonly bodyBytes: Uint8Array;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** The caller: a token's or a signed URL's principal; undefined when access control is off. */
  readonly principal: Principal | undefined;
  /** This request's id, echoed in `Kv-Request-Id`. */
  readonly requestId: string;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

/** What a JSON-body route reads: its byte limit and the actions one of which the caller must hold. */
export interface JsonBodySpec {
  /** Largest body, bytes (413 past it). */
  limitBytes: number;
  /** The caller needs a grant for at least one of these on the route's store, before the body is read. */
  actions: readonly EngineAction[];
  /** Whether the path names a store (`/v1/stores/{store}/...`) the actions apply to. */
  storeInPath: boolean;
}

/** The OpenAPI description of a route, without what the table gives (method, path, operationId). */
export type RouteDoc = Omit<RouteConfig, 'method' | 'path' | 'operationId'>;

/**
 * One route's handler with its description. The schemas of `doc.request` (`params`, `query`, `headers`,
 * the `application/json` body) are the ones the pipeline validates with and the ones `/openapi.json`
 * documents.
 */
export interface RouteSpec {
  /** OpenAPI description (summary, tags, request schemas, responses). */
  doc: RouteDoc;
  /** JSON-body routes: the body's limit and the capability pre-check. */
  jsonBody?: JsonBodySpec;
  /** Also document `HEAD` on this path (raw-value reads; HEAD is always served where GET is). */
  headDoc?: RouteDoc;
  /** Left out of `/openapi.json` (the document itself). */
  hidden?: boolean;
  /** A route of a compatibility API (docs/compat.md): its own authentication and error shape. */
  compat?: CompatApi;
  /** Answers the request; failures are thrown `KvError`s. */
  handle(c: RequestContext): Promise<EngineResult>;
}

/**
 * What a compatibility API's routes (Cloudflare KV REST, Apify v2; docs/compat.md) change in the pipeline:
 * they are authenticated by the bearer token like `/v1/...` (or by a signature of the API's own, Apify's
 * public URLs), and every error they answer has the API's own body.
 */
export interface CompatApi {
  /**
   * The error answer in the API's shape.
   *
   * @param error - a thrown `KvError`, or anything else (a 500)
   */
  errorResult(error: unknown): EngineResult;
  /**
   * The caller of a URL signed the API's way, checked before the bearer token: `undefined` when the
   * request carries no such signature (the token decides).
   *
   * @param method - the request method
   * @param params - the route's decoded path parameters
   * @param target - the raw request target (path and query)
   * @throws {UnauthenticatedError} for a signature that does not verify
   */
  signedPrincipal?(
    method: string,
    params: Readonly<Record<string, string>>,
    target: string,
  ): Promise<Principal | undefined>;
}

/**
 * Every route of core's `SERVER_ROUTES` (kv's own and the compatibility APIs') with its handler: the type
 * makes a missing route a compile error.
 */
export type HandlerTable = { readonly [N in ServerRouteName]: RouteSpec };

/**
 * One route's {@link RouteSpec}: its description, its handler and, for JSON-body routes, the body's limit.
 *
 * @param doc - the OpenAPI description; its request schemas are what the pipeline validates with
 * @param handle - the handler; `c.query` and `c.body` hold what those schemas output
 * @param jsonBody - the JSON body's limit and capability pre-check (JSON-body routes only)
 * @param extra - `headDoc` (document HEAD too), `hidden` (not in `/openapi.json`) and `compat` (a route of
 *   a compatibility API)
 */
export function defineRoute(
  doc: RouteDoc,
  handle: (c: RequestContext) => Promise<EngineResult>,
  jsonBody?: JsonBodySpec,
  extra?: { headDoc?: RouteDoc; hidden?: boolean; compat?: CompatApi },
): RouteSpec {
  const spec: RouteSpec = { doc, handle };
  if (jsonBody !== undefined) spec.jsonBody = jsonBody;
  if (extra?.headDoc !== undefined) spec.headDoc = extra.headDoc;
  if (extra?.hidden === true) spec.hidden = true;
  if (extra?.compat !== undefined) spec.compat = extra.compat;
  return spec;
}

/** The base of the URLs the pipeline parses from a request target (only path and query are read). */
const BASE = 'http://kv.invalid';

/**
 * CORS headers of every answer to a signed URL: a signed URL is public (it needs no credentials), so any
 * origin may read the answer and its entry headers with a plain `fetch` (docs/security.md "Signed URLs").
 */
const SIGNED_CORS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': [
    'content-type',
    'content-length',
    'etag',
    'cache-control',
    ...Object.values(HEADERS),
  ].join(', '),
};

interface CompiledRoute {
  spec: RouteSpec;
  query: z.ZodType | undefined;
  params: z.ZodType | undefined;
  headers: z.ZodType | undefined;
  /** The header schema's keys with their lower-case names, to build the object it validates. */
  headerKeys: Array<[string, string]>;
  body: z.ZodType | undefined;
}

function compile(spec: RouteSpec): CompiledRoute {
  const request = spec.doc.request;
  const headers = request?.headers as z.ZodType | undefined;
  const shape = (headers as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
  const media = request?.body?.content?.['application/json'] as { schema?: unknown } | undefined;
  const body = media?.schema as z.ZodType | undefined;
  return {
    spec,
    query: request?.query as z.ZodType | undefined,
    params: request?.params as z.ZodType | undefined,
    headers,
    headerKeys: Object.keys(shape).map((k) => [k, k.toLowerCase()]),
    body,
  };
}

/** The path of a request target (before `?`). */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/** The query of a request target as hono's validator reads it: one value, or an array for repeats. */
function queryObject(target: string): Record<string, string | string[]> {
  const q = target.indexOf('?');
  const out: Record<string, string | string[]> = {};
  if (q === -1) return out;
  for (const [name, value] of new URLSearchParams(target.slice(q + 1))) {
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

/**
 * Builds the pipeline over a handler table.
 *
 * @param ctx - the engine context (storage, clock, tokens...)
 * @param table - a handler for every route of `ROUTES`
 * @param onError - told of every unexpected (non-`KvError` or 5xx) error
 * @returns the request handler; it never rejects
 */
export function createPipeline(
  ctx: EngineContext,
  table: HandlerTable,
  onError: (error: unknown, req: EngineRequest) => void,
): (req: EngineRequest) => Promise<EngineResult> {
  const routes = new Map<ServerRouteName, CompiledRoute>();
  for (const [name, spec] of Object.entries(table)) {
    routes.set(name as ServerRouteName, compile(spec));
  }

  /**
   * The request's token, authenticated and, when it has a rate limit, counted (before the body is read;
   * docs/security.md "Rate limits"). A token without a limit costs nothing more.
   */
  const authenticated = async (tokens: TokenStore, req: EngineRequest): Promise<Principal> => {
    const nowMs = ctx.clock();
    const principal = await authenticate(tokens, req.header('authorization') ?? null, nowMs);
    if (principal.rateLimit !== undefined && principal.tokenId !== undefined) {
      await enforceRateLimit(tokens, ctx.requestCounter, principal.tokenId, principal.rateLimit, nowMs);
    }
    return principal;
  };

  /** Runs the steps up to the handler's result; throws a `KvError` (or anything) on failure. */
  const run = async (call: Call): Promise<EngineResult> => {
    const req = call.request;
    const method = req.method;
    const target = req.url;
    const path = pathOf(target);
    let principal: Principal | undefined;
    if (
      path.startsWith(API_BASE) &&
      (path.length === API_BASE.length || path.charCodeAt(API_BASE.length) === 47)
    ) {
      // Cheap test first: most requests carry no signature and need no URL parsing.
      const url = target.includes('signature=') ? new URL(target, BASE) : undefined;
      if (url !== undefined && isSignedUrl(url)) {
        if (method === 'OPTIONS') return signedPreflight(req);
        try {
          principal = await signedUrlPrincipal(ctx.storage, method, url, ctx.clock());
        } catch (error) {
          if (!isKvError(error)) throw error;
          const res = errorResult(error);
          Object.assign(res.headers, SIGNED_CORS, signedResponseHeaders(null));
          return res;
        }
        call.signed = true;
      } else if (ctx.tokens !== undefined && method !== 'OPTIONS') {
        principal = await authenticated(ctx.tokens, req);
      }
    }
    const lookup = req.route ?? matchServerRoute(method, path);
    if (lookup.kind !== 'match') throw noRoute(lookup, method, path);
    const compiled = routes.get(lookup.route.name as ServerRouteName) as CompiledRoute;
    const spec = compiled.spec;
    if (spec.compat !== undefined) {
      // A compatibility API (outside /v1): its signature, else the bearer token; its error shape.
      call.compat = spec.compat;
      principal = await spec.compat.signedPrincipal?.(method, lookup.params, target);
      // A public URL's answers get the signed-URL headers (CORS, nosniff, attachment for active types).
      if (principal !== undefined) call.signed = true;
      else if (ctx.tokens !== undefined) {
        principal = await authenticated(ctx.tokens, req);
      }
    }

    let bodyBytes: Uint8Array = EMPTY_BODY;
    let text: string | undefined;
    if (spec.jsonBody !== undefined) {
      const limits = spec.jsonBody;
      if (principal !== undefined) {
        const store = limits.storeInPath ? validateStoreName(lookup.params.store ?? '') : undefined;
        if (!limits.actions.some((action) => defaultGrant(principal, action, store) !== null)) {
          throw forbidden(limits.actions[0] as EngineAction);
        }
      }
      if (!isJsonContentType(req.header('content-type'))) {
        throw new KvError('This route takes a JSON body (Content-Type: application/json)', {
          code: 'unsupported_media_type',
          details: { field: 'Content-Type' },
        });
      }
      bodyBytes = await readBodyLimited(req, limits.limitBytes);
      checkJsonDepth(bodyBytes);
      try {
        text = UTF8.decode(bodyBytes);
      } catch {
        throw new ValidationError('Request body is not valid UTF-8', { details: { field: 'body' } });
      }
    }

    // zod validation, in hono's order (query, params, headers, JSON body), each once.
    let query: unknown = EMPTY_QUERY;
    if (compiled.query !== undefined) query = validate(compiled.query, queryObject(target), 'query');
    if (compiled.params !== undefined) validate(compiled.params, lookup.params, 'param');
    if (compiled.headers !== undefined) {
      const values: Record<string, string> = {};
      for (const [key, name] of compiled.headerKeys) {
        const value = req.header(name);
        if (value !== undefined) values[key] = value;
      }
      validate(compiled.headers, values, 'header');
    }
    let body: unknown;
    if (compiled.body !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text ?? '');
      } catch {
        throw new ValidationError('Malformed JSON in request body', { details: { field: 'body' } });
      }
      body = validate(compiled.body, parsed, 'json');
    }

    call.principal = principal;
    call.route = lookup.route;
    call.params = lookup.params;
    call.query = query;
    call.body = body;
    call.bodyBytes = bodyBytes;
    return spec.handle(call);
  };

  return async (req) => {
    let requestId: string;
    let result: EngineResult;
    let call: Call | undefined;
    try {
      requestId = pickRequestId(req.header(HEADERS.requestId));
      call = new Call(req, requestId);
      try {
        result = await run(call);
      } catch (error) {
        if (!isKvError(error) || error.status >= 500) onError(error, req);
        result =
          call.compat !== undefined
            ? call.compat.errorResult(error)
            : errorResult(error, error instanceof MethodNotAllowed ? { allow: error.allow } : undefined);
        // The compatibility APIs' error shapes say when to come back too (errorResult does for /v1).
        if (error instanceof RateLimitedError && error.retryAfterMs !== undefined) {
          result.headers['retry-after'] ??= retryAfterSeconds(error.retryAfterMs);
        }
      }
      if (call.signed) {
        // nosniff on every answer; a value of a type that could run script is a download (signing.ts).
        Object.assign(
          result.headers,
          SIGNED_CORS,
          signedResponseHeaders(result.headers['content-type'] ?? null),
        );
      }
    } catch (error) {
      // Only a broken transport (a throwing header()) gets here.
      onError(error, req);
      requestId = crypto.randomUUID();
      result = errorResult(error);
    }
    result.headers[HEADERS.requestId] = requestId;
    if (req.method === 'HEAD' && result.body !== undefined) {
      // As GET, without the body (RFC 9110 section 9.3.2).
      if (typeof result.body === 'object' && 'cancel' in result.body) result.body.cancel().catch(() => {});
      result.body = undefined;
    }
    return result;
  };
}

const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/** The {@link RequestContext} of one request, filled in by the pipeline's steps (one object per request). */
class Call implements RequestContext {
  readonly request: EngineRequest;
  readonly requestId: string;
  readonly method: string;
  route: RouteDef = ROUTES.health;
  params: Readonly<Record<string, string>> = EMPTY_PARAMS;
  query: unknown = EMPTY_QUERY;
  body: unknown;
  bodyBytes: Uint8Array = EMPTY_BODY;
  principal: Principal | undefined;
  /** Authenticated by a signed URL: its answers get the signed-URL headers. */
  signed = false;
  /** The compatibility API of the route, once matched: errors take its shape. */
  compat: CompatApi | undefined;

  constructor(request: EngineRequest, requestId: string) {
    this.request = request;
    this.requestId = requestId;
    this.method = request.method;
  }

  header(name: string): string | undefined {
    return this.request.header(name);
  }

  get signal(): AbortSignal {
    return this.request.signal;
  }
}

const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const EMPTY_QUERY: Readonly<Record<string, never>> = Object.freeze({});
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The answer to a CORS preflight of a signed URL (needed when the browser sends e.g. `If-None-Match`). */
function signedPreflight(req: EngineRequest): EngineResult {
  return {
    status: 204,
    headers: {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': req.header('access-control-request-headers') ?? '',
      'access-control-max-age': '600',
    },
  };
}

/** 405 with the methods the path has, 404 when no route has it, 400 for a badly encoded parameter. */
function noRoute(lookup: Exclude<RouteLookup, { kind: 'match' }>, method: string, path: string): KvError {
  if (lookup.kind === 'method_not_allowed') {
    // The table's methods in its order, then HEAD where GET is (as the Allow header always read).
    const methods = lookup.allow.filter((m) => m !== 'HEAD');
    const allow = methods.includes('GET') ? [...methods, 'HEAD'] : methods;
    return new MethodNotAllowed(`${method} is not allowed on this route; use ${allow.join(', ')}`, allow);
  }
  if (lookup.kind === 'bad_encoding') {
    return new ValidationError(`Invalid percent-encoding in ${lookup.param}`, {
      details: { field: lookup.param, reason: 'invalid_encoding' },
    });
  }
  return new KvError(`No route for ${method} ${path}`, { code: 'route_not_found', details: { path } });
}

/** 405 `method_not_allowed`, whose answer carries the `Allow` header. */
class MethodNotAllowed extends KvError {
  /** The `Allow` header of the answer. */
  readonly allow: string;
  constructor(message: string, allow: string[]) {
    super(message, { code: 'method_not_allowed', details: { allow } });
    this.allow = allow.join(', ');
  }
}

/**
 * Reads a request body into memory, refusing bodies over `limitBytes` before doing so: by
 * `Content-Length` up front, and otherwise (absent or lying header, streamed body) through the
 * transport's reader, which stops as soon as the count passes the limit.
 *
 * @param req - the request
 * @param limitBytes - largest accepted body, in bytes
 * @returns the body bytes (empty when the request has no body)
 * @throws {PayloadTooLargeError} 413 `payload_too_large`, `details: { field: 'body', limitBytes }`
 * @throws {ValidationError} 400 when `Content-Length` is not a decimal number
 */
export async function readBodyLimited(req: EngineRequest, limitBytes: number): Promise<Uint8Array> {
  const declared = req.header('content-length');
  if (declared !== undefined) {
    const trimmed = declared.trim();
    if (!/^\d{1,16}$/.test(trimmed)) {
      throw new ValidationError('Content-Length must be a decimal number', {
        details: { field: 'Content-Length' },
      });
    }
    if (Number(trimmed) > limitBytes) throw tooLarge(limitBytes);
  }
  const bytes = await req.readBody(limitBytes);
  if (bytes === null || bytes.byteLength > limitBytes) throw tooLarge(limitBytes);
  return bytes;
}

function tooLarge(limitBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`Request body is larger than ${limitBytes} bytes`, {
    details: { field: 'body', limitBytes },
  });
}

/** Validates `value` with `schema`, or throws the kv error of its first issue. */
function validate(schema: z.ZodType, value: unknown, target: string): unknown {
  const result = schema.safeParse(value);
  if (!result.success) throw zodToKvError(result.error, target);
  return result.data;
}

/** JSON body fields whose length is the 10,000-item bulk limit (bulk get/set/delete, atomic). */
const BULK_LIST_FIELDS: ReadonlySet<string> = new Set(['keys', 'items', 'checks', 'mutations']);

/**
 * A zod validation failure as a kv error: 413 for a bulk list over 10,000 items (docs/protocol.md
 * "Bulk"), 400 `validation_error` naming the field and its limit for any other list that is too long
 * (e.g. a token's 256 capabilities), else 400 with the first issue.
 *
 * @param target - what was validated: `query`, `param`, `header` or `json`
 */
export function zodToKvError(
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

/** The request the `authorize` hook is shown: method, target and headers, never the body. */
export function hookRequest(req: EngineRequest): HookRequest {
  return {
    method: req.method,
    url: req.url,
    headers: { get: (name: string) => req.header(name.toLowerCase()) ?? null },
  };
}
