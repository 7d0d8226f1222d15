/**
 * What the route modules of `handlers/` share: registering a route with its handler (`registerRoute`), the
 * JSON-body middleware with its per-route limits (`jsonBody`, `bodyLimits`), validated data (`valid`),
 * the idempotency guard (`idempotent`), the pieces of the OpenAPI route definitions (`tableRoute`,
 * `errors`, `json`, `jsonRequest`).
 *
 * A route module imports from here; nothing here imports a route module.
 *
 * @module
 */
import type { OpenAPIHono, RouteConfig, z } from '@hono/zod-openapi';
import { bytesToBase64Url, KvError, ROUTES, type RouteName, ValidationError } from '@kv/core/protocol';
import { defaultGrant, forbidden } from '../access.js';
import type { Ctx, EngineAction, EngineContext, EngineEnv } from '../context.js';
import { isJsonContentType, readBodyLimited } from '../http.js';
import { checkJsonDepth, KEYS_JSON_BODY_BYTES, SMALL_JSON_BODY_BYTES } from '../json-limits.js';
import { storePath } from '../requests.js';
import { WireErrorSchema } from '../schemas.js';

/** The engine's hono app, on which the route modules register. */
export type App = OpenAPIHono<EngineEnv>;

/** A route handler: the hono context in, the answer out (failures are thrown `KvError`s). */
export type Handler = (c: Ctx) => Promise<Response>;

// ---------------------------------------------------------------------------------------------------
// Route definitions

/**
 * The `method` (lower case, as hono and `createRoute` take it), `path` (the OpenAPI template) and
 * `operationId` of route `name` of core's route table (`ROUTES`, docs/protocol.md "Route summary"), to
 * spread into a `createRoute` definition, so the router and `/openapi.json` serve exactly the table.
 *
 * @param name - a route of `ROUTES`
 * @example createRoute({ ...tableRoute('getEntry'), summary: 'Read an entry', responses: {...} })
 */
export function tableRoute<N extends RouteName>(
  name: N,
): {
  method: Lowercase<(typeof ROUTES)[N]['method']>;
  path: (typeof ROUTES)[N]['template'];
  operationId: N;
} {
  const route = ROUTES[name];
  return {
    method: route.method.toLowerCase() as Lowercase<(typeof ROUTES)[N]['method']>,
    path: route.template,
    operationId: route.name as N,
  };
}

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

/**
 * OpenAPI error responses for the given statuses, all `{ error: { code, message, details? } }`
 * (docs/protocol.md "Errors").
 */
export function errors(
  ...statuses: number[]
): Record<
  number,
  { description: string; content: { 'application/json': { schema: typeof WireErrorSchema } } }
> {
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

/** An OpenAPI JSON response of `schema`. */
export function json<S extends z.ZodType>(
  schema: S,
  description: string,
): { description: string; content: { 'application/json': { schema: S } } } {
  return { description, content: { 'application/json': { schema } } };
}

/** A required OpenAPI JSON request body of `schema` (the validator reads it after {@link jsonBody}). */
export function jsonRequest<S extends z.ZodType>(
  schema: S,
): { required: true; content: { 'application/json': { schema: S } } } {
  return { required: true, content: { 'application/json': { schema } } };
}

// ---------------------------------------------------------------------------------------------------
// Registration and request bodies

/** The validated data of `target`, typed by the schema that validated it. */
export function valid<S extends z.ZodType>(c: Ctx, target: 'json' | 'query'): z.output<S> {
  return (c.req.valid as (t: string) => unknown)(target) as z.output<S>;
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

/**
 * The body limits of the JSON routes (json-limits.ts; docs/security.md "Limits against hostile
 * clients"): each route reads what it can legitimately need.
 *
 * @param ctx - the engine context (its `maxBodyBytes` and `maxJsonBodyBytes`)
 * @returns `small` for settings-sized bodies, `keys` for lists of keys, `values` for bodies carrying
 *   values (bulk set, atomic: bounded by `maxJsonBodyBytes` only)
 */
export function bodyLimits(ctx: EngineContext): {
  small: (actions: readonly EngineAction[], storeInPath?: boolean) => JsonBodySpec;
  keys: (action: EngineAction) => JsonBodySpec;
  values: (actions: readonly EngineAction[]) => JsonBodySpec;
} {
  const jsonLimit = Math.min(ctx.maxBodyBytes, ctx.maxJsonBodyBytes);
  return {
    small: (actions, storeInPath = true) => ({
      limitBytes: Math.min(SMALL_JSON_BODY_BYTES, jsonLimit),
      actions,
      storeInPath,
    }),
    keys: (action) => ({
      limitBytes: Math.min(KEYS_JSON_BODY_BYTES, ctx.maxJsonBodyBytes),
      actions: [action],
      storeInPath: true,
    }),
    values: (actions) => ({ limitBytes: ctx.maxJsonBodyBytes, actions, storeInPath: true }),
  };
}

/**
 * Middleware of JSON-body routes, in this order: refuses a caller without any of the route's
 * capabilities (403, before a byte of the body is read: the handler's full check, with the `authorize`
 * hook, runs later), 415 unless `Content-Type` is JSON, reads the body within the route's limit (413
 * past it, without buffering the rest), refuses JSON nested deeper than `MAX_JSON_DEPTH` (400,
 * before parsing), then hands the text to the validator.
 */
export function jsonBody(spec: JsonBodySpec): (c: Ctx, next: () => Promise<void>) => Promise<void> {
  return async (c, next) => {
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

/**
 * Registers `route` with `handler` on the app; with `body`, the route reads a JSON body through
 * {@link jsonBody} first.
 */
export function registerRoute(app: App, route: RouteConfig, handler: Handler, body?: JsonBodySpec): void {
  const withBody = body === undefined ? route : { ...route, middleware: [jsonBody(body)] };
  app.openapi(withBody as RouteConfig, handler as never);
}

/** Runs a write under the idempotency guard (no-op without an `Idempotency-Key` header). */
export function idempotent(
  ctx: EngineContext,
  c: Ctx,
  store: string,
  body: Uint8Array,
  execute: () => Promise<Response>,
): Promise<Response> {
  return ctx.idempotency.run({ req: c.req.raw, store, body, execute });
}

/** The body of a write without one, for {@link idempotent}. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** A new store signing secret: 32 random bytes, base64url. */
export function randomSecret(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
