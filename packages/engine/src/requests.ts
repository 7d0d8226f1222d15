/**
 * Request parsing shared by the route handlers: path parameters, write options from headers or JSON,
 * content types, expiry, preconditions, and the mapping of storage outcomes to wire errors. Every check
 * throws a `KvError` before any work is done, so a rejected request changes nothing.
 *
 * @module
 */
import {
  BYTES_CONTENT_TYPE,
  base64ToBytes,
  expiresAtAfterTtl,
  HEADERS,
  KeyExistsError,
  type KvError,
  LIMITS,
  NotFoundError,
  PayloadTooLargeError,
  parseEtag,
  parseScopesHeader,
  RevisionMismatchError,
  StoreNotFoundError,
  ValidationError,
  validateExpiresAt,
  validateKey,
  validateMetadata,
  validateScopes,
  validateStoreName,
} from '@kv/core/protocol';
import type { EngineContext } from './context.js';
import type { RequestContext } from './pipeline.js';
import type { MutationResult, Precondition, PutOp, StoreRecord } from './storage.js';

/**
 * The store and key of an entry route (`{store}`, `{key}`: decoded strictly by `matchRoute`), validated.
 *
 * @throws {ValidationError} 400 for a bad store name or key
 */
export function entryPath(c: RequestContext): { store: string; key: string } {
  return { store: validateStoreName(c.params.store ?? ''), key: validateKey(c.params.key ?? '') };
}

/**
 * The store of a `/v1/stores/{store}...` route, validated.
 *
 * @throws {ValidationError} 400 for a bad store name
 */
export function storePath(c: RequestContext): string {
  return validateStoreName(c.params.store ?? '');
}

/**
 * The store and id of `/v1/stores/{store}/ids/{id}`.
 *
 * @throws {ValidationError} 400 for a bad store name or an id of 0 or more than 256 characters
 */
export function idPath(c: RequestContext): { store: string; id: string } {
  const store = storePath(c);
  const id = c.params.id ?? '';
  if (id.length === 0 || id.length > 256) {
    throw new ValidationError('Invalid id', { details: { field: 'id', reason: 'invalid_format' } });
  }
  return { store, id };
}

/** The store, or a 404 `store_not_found`. */
export async function requireStore(ctx: EngineContext, store: string): Promise<StoreRecord> {
  const record = await ctx.storage.getStore(store);
  if (record === undefined) throw storeNotFound(store);
  return record;
}

/** 404 `store_not_found`. */
export function storeNotFound(store: string): StoreNotFoundError {
  return new StoreNotFoundError(`Store "${store}" does not exist`, { details: { store } });
}

/** 404 `key_not_found`. */
export function keyNotFound(key: string): NotFoundError {
  return new NotFoundError('Key not found', { code: 'key_not_found', details: { key } });
}

/** The largest value a store accepts: its own `maxValueBytes`, capped by the server-wide cap. */
export function effectiveMaxValueBytes(ctx: EngineContext, store: StoreRecord): number {
  return Math.min(store.maxValueBytes, ctx.maxValueBytes);
}

/** 413 for a value over the store's limit. */
export function valueTooLarge(
  size: number | undefined,
  limitBytes: number,
  key?: string,
): PayloadTooLargeError {
  const what = size === undefined ? 'Value is too large' : `Value is ${size} bytes`;
  return new PayloadTooLargeError(`${what}; this store accepts at most ${limitBytes} bytes`, {
    details: { field: 'value', limitBytes, ...(key === undefined ? {} : { key }) },
  });
}

/** A MIME type token pair with optional parameters, printable ASCII, at most 255 characters. */
const MIME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*;[\x20-\x7e]*)?$/;

/**
 * Validates a content type (it is echoed in `Content-Type` on reads, so it must be a valid header value).
 *
 * @throws {ValidationError} `details: { field: 'contentType', reason: 'invalid_format' }`
 */
export function validateContentType(value: string): string {
  if (value.length > 255 || !MIME.test(value)) {
    throw new ValidationError('contentType must be a MIME type like application/json', {
      details: { field: 'contentType', reason: 'invalid_format' },
    });
  }
  return value;
}

/**
 * The absolute expiry of a write from `ttlMs` / `expiresAt` (exclusive), else the store's
 * `defaultTtlMs`, else none. The result is never later than `LIMITS.maxExpiresAtMs`: a `ttlMs` over
 * `LIMITS.maxTtlMs` or an `expiresAt` after 9999-12-31T23:59:59.999Z is refused, and a store's
 * `defaultTtlMs` already on disk over the limit (from before it) counts as the limit
 * (docs/security.md "Limits against hostile clients").
 *
 * @throws {ValidationError} when both are given, the TTL is not an integer from 1 to `LIMITS.maxTtlMs`,
 *   the time does not parse, is too late, or is not in the future
 */
export function resolveExpiry(
  input: { ttlMs?: number | undefined; expiresAt?: string | undefined },
  store: StoreRecord,
  nowMs: number,
): number | null {
  if (input.ttlMs !== undefined && input.expiresAt !== undefined) {
    throw new ValidationError('Give either ttlMs or expiresAt, not both', {
      details: { field: 'ttlMs', reason: 'conflict' },
    });
  }
  if (input.ttlMs !== undefined) return expiresAtAfterTtl(nowMs, input.ttlMs);
  if (input.expiresAt !== undefined) return futureTime(input.expiresAt, nowMs);
  if (store.defaultTtlMs === null) return null;
  return Math.min(nowMs + Math.min(store.defaultTtlMs, LIMITS.maxTtlMs), LIMITS.maxExpiresAtMs);
}

/**
 * Parses an absolute expiry that must be in the future and no later than `LIMITS.maxExpiresAtMs`
 * (core's `validateExpiresAt`).
 *
 * @throws {ValidationError} `details: { field: 'expiresAt', reason }`
 */
export function futureTime(value: string, nowMs: number): number {
  const ms = validateExpiresAt(value);
  if (ms <= nowMs) {
    throw new ValidationError('expiresAt must be in the future', {
      details: { field: 'expiresAt', reason: 'out_of_range' },
    });
  }
  return ms;
}

/** Options of a raw `PUT` entry, read from its headers. */
export interface PutHeaders {
  contentType: string;
  ttlMs?: number;
  expiresAt?: string;
  metadata: Record<string, unknown> | null;
  scopes: string[];
  resume: boolean;
  /** `Kv-If-Not-Exists: true`. */
  ifNotExists: boolean;
  /** From `If-None-Match: *` or `If-Match`. */
  precondition?: Precondition;
}

/**
 * Reads the write options of a raw `PUT` from its headers (docs/protocol.md "Write an entry"). Their
 * shape (`Kv-Ttl-Ms` digits, the `true`/`false` flags, `If-None-Match: *`) was validated once by the
 * route's header schema (`PutEntryHeaders`); this checks what needs more than a shape.
 *
 * @throws {ValidationError} for a malformed content type, metadata or scopes, or conflicting conditions
 */
export function parsePutHeaders(c: RequestContext): PutHeaders {
  const h = (name: string): string | undefined => c.header(name);
  const contentType = validateContentType(h('content-type') ?? BYTES_CONTENT_TYPE);
  const out: PutHeaders = {
    contentType,
    metadata: null,
    scopes: [],
    resume: h(HEADERS.resume) === 'true',
    ifNotExists: h(HEADERS.ifNotExists) === 'true',
  };
  const ttl = h(HEADERS.ttlMs);
  if (ttl !== undefined) out.ttlMs = Number(ttl);
  const expiresAt = h(HEADERS.expiresAt);
  if (expiresAt !== undefined) out.expiresAt = expiresAt.trim();
  const metadata = h(HEADERS.metadata);
  if (metadata !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeURIComponent(metadata));
    } catch {
      throw new ValidationError('Kv-Metadata must be a percent-encoded JSON object', {
        details: { field: 'metadata', reason: 'invalid_format' },
      });
    }
    out.metadata = validateMetadata(parsed);
  }
  const scopes = h(HEADERS.scopes);
  if (scopes !== undefined && scopes.trim() !== '') {
    let parsed: string[];
    try {
      parsed = parseScopesHeader(scopes);
    } catch {
      throw new ValidationError('Kv-Scopes must be percent-encoded scopes joined with ","', {
        details: { field: 'scopes', reason: 'invalid_format' },
      });
    }
    out.scopes = validateScopes(parsed);
  }
  const inm = h('if-none-match');
  const im = h('if-match');
  const conditions = (out.ifNotExists ? 1 : 0) + (inm !== undefined ? 1 : 0) + (im !== undefined ? 1 : 0);
  if (conditions > 1) {
    throw new ValidationError('Use only one of Kv-If-Not-Exists, If-None-Match and If-Match', {
      details: { field: 'If-Match', reason: 'conflict' },
    });
  }
  if (inm !== undefined || out.ifNotExists) out.precondition = { kind: 'absent' };
  if (im !== undefined) out.precondition = ifMatchPrecondition(im);
  return out;
}

/**
 * The precondition of an `If-Match` header: `"<revision>"` (compare-and-swap) or `*` (the key must exist).
 *
 * @throws {ValidationError} when it is not a single revision ETag or `*`
 */
export function ifMatchPrecondition(value: string): Precondition {
  const parsed = parseEtag(value);
  if (parsed === undefined) {
    throw new ValidationError('If-Match must be a revision ETag like "42", or *', {
      details: { field: 'If-Match', reason: 'invalid_format' },
    });
  }
  return parsed === '*' ? { kind: 'exists' } : { kind: 'revision', revision: parsed };
}

/** A value written through JSON (bulk set, atomic set), before validation. */
export interface JsonWrite {
  key: string;
  value: string;
  contentType?: string | undefined;
  ttlMs?: number | undefined;
  expiresAt?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  scopes?: string[] | undefined;
  resume?: boolean | undefined;
}

/**
 * Validates a JSON write and builds its put (without precondition).
 *
 * @throws {ValidationError} for the key, base64, content type, metadata, scopes or expiry
 * @throws {PayloadTooLargeError} when the value is over the store's limit
 */
export function jsonWriteToPut(
  ctx: EngineContext,
  store: StoreRecord,
  write: JsonWrite,
  nowMs: number,
): PutOp {
  const key = validateKey(write.key);
  const value = base64ToBytes(write.value);
  const limit = effectiveMaxValueBytes(ctx, store);
  if (value.byteLength > limit) throw valueTooLarge(value.byteLength, limit, key);
  return {
    type: 'put',
    key,
    value,
    contentType: validateContentType(write.contentType ?? BYTES_CONTENT_TYPE),
    metadata: validateMetadata(write.metadata),
    scopes: write.scopes === undefined ? [] : validateScopes(write.scopes),
    expiresAt: resolveExpiry({ ttlMs: write.ttlMs, expiresAt: write.expiresAt }, store, nowMs),
    resume: write.resume ?? false,
    newId: ctx.generateId(),
  };
}

/**
 * The wire error for a failed precondition of a single-key write: 412 `key_exists` or
 * `revision_mismatch`, with the key and its current revision (when it has one) in `details`.
 */
export function preconditionError(result: MutationResult, precondition: Precondition | undefined): KvError {
  const details: Record<string, unknown> = { key: result.key };
  if (result.revision !== undefined) details.currentRevision = result.revision;
  if (result.failure === 'key_exists') {
    return new KeyExistsError('The key already exists', { details });
  }
  if (precondition?.kind === 'revision') details.expectedRevision = precondition.revision;
  const message =
    result.failure === 'key_not_found' ? 'The key does not exist' : 'The key is not at the expected revision';
  return new RevisionMismatchError(message, { details });
}
