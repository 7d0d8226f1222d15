/**
 * What the route modules of `handlers/` share: the per-route JSON body limits (`bodyLimits`), the
 * idempotency guard (`idempotent`), the pieces of the OpenAPI route descriptions (`errors`, `json`,
 * `jsonRequest`).
 *
 * A route module imports from here; nothing here imports a route module.
 *
 * @module
 */
import { bytesToBase64Url } from '@kv/core/protocol';
import type { z } from 'zod';
import type { EngineAction, EngineContext } from '../context.js';
import type { ResponseRecorder } from '../idempotency.js';
import { KEYS_JSON_BODY_BYTES, SMALL_JSON_BODY_BYTES } from '../json-limits.js';
import type { EngineResult, JsonBodySpec, RequestContext } from '../pipeline.js';
import { WireErrorSchema } from '../schemas.js';

export type { JsonBodySpec } from '../pipeline.js';

// ---------------------------------------------------------------------------------------------------
// Route descriptions

const ERROR_TEXT: Record<number, string> = {
  400: 'validation_error / idempotency_key_reused: malformed request or a broken limit',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'store_not_found / key_not_found / route_not_found / not_found (a queue lease no longer held)',
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

/** A required OpenAPI JSON request body of `schema` (the pipeline validates the body with it). */
export function jsonRequest<S extends z.ZodType>(
  schema: S,
): { required: true; content: { 'application/json': { schema: S } } } {
  return { required: true, content: { 'application/json': { schema } } };
}

// ---------------------------------------------------------------------------------------------------
// Request bodies

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
 * Runs a write under the idempotency guard (no-op without an `Idempotency-Key` header). `execute` gets
 * the request's recorder (undefined without the header): an entry write hands it to its commit
 * (`Answer` in `writes.ts`) so that the response record is saved in the commit's transaction.
 */
export function idempotent(
  ctx: EngineContext,
  c: RequestContext,
  store: string,
  body: Uint8Array,
  execute: (recorder: ResponseRecorder | undefined) => Promise<EngineResult>,
): Promise<EngineResult> {
  return ctx.idempotency.run({ req: c.request, store, body, execute });
}

/** The body of a write without one, for {@link idempotent}. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** A new store signing secret: 32 random bytes, base64url. */
export function randomSecret(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
