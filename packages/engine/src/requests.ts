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
import type { Ctx, EngineContext } from './context.js';
import { decodeSegment, rawPathSegments } from './http.js';
import type { MutationResult, Precondition, PutOp, StoreRecord } from './storage.js';

/** The store and key of an entry route, decoded strictly from the raw URL and validated. */
export function entryPath(c: Ctx): { store: string; key: string } {
  return entryPathOf(c.req.url);
}

/**
 * {@link entryPath} of a request URL (absolute, as `Request.url`).
 *
 * @throws {ValidationError} 400 for a bad percent-encoding, store name or key
 */
export function entryPathOf(url: string): { store: string; key: string } {
  const segs = rawPathSegments(url);
  // ['v1', 'stores', store, 'entries', key, ...]
  const store = validateStoreName(decodeSegment(segs[2] ?? '', 'store'));
  const key = validateKey(decodeSegment(segs[4] ?? '', 'key'));
  return { store, key };
}

/** The store of a `/v1/stores/{store}...` route, decoded and validated. */
export function storePath(c: Ctx): string {
  const segs = rawPathSegments(c.req.url);
  return validateStoreName(decodeSegment(segs[2] ?? '', 'store'));
}

/** The store and id of `/v1/stores/{store}/ids/{id}`. */
export function idPath(c: Ctx): { store: string; id: string } {
  const segs = rawPathSegments(c.req.url);
  const store = validateStoreName(decodeSegment(segs[2] ?? '', 'store'));
  const id = decodeSegment(segs[4] ?? '', 'id');
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
 * Reads the write options of a raw `PUT` from its headers (docs/protocol.md "Write an entry").
 *
 * @throws {ValidationError} for any malformed or conflicting header
 */
export function parsePutHeaders(req: Request): PutHeaders {
  const h = req.headers;
  const contentType = validateContentType(h.get('content-type') ?? BYTES_CONTENT_TYPE);
  const out: PutHeaders = {
    contentType,
    metadata: null,
    scopes: [],
    resume: false,
    ifNotExists: false,
  };
  const ttl = h.get(HEADERS.ttlMs);
  if (ttl !== null) {
    if (!/^\d{1,16}$/.test(ttl.trim())) {
      throw new ValidationError('Kv-Ttl-Ms must be a positive integer of milliseconds', {
        details: { field: 'ttlMs', reason: 'type' },
      });
    }
    out.ttlMs = Number(ttl.trim());
  }
  const expiresAt = h.get(HEADERS.expiresAt);
  if (expiresAt !== null) out.expiresAt = expiresAt.trim();
  const metadata = h.get(HEADERS.metadata);
  if (metadata !== null) {
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
  const scopes = h.get(HEADERS.scopes);
  if (scopes !== null && scopes.trim() !== '') {
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
  out.resume = boolHeader(h.get(HEADERS.resume), 'Kv-Resume') ?? false;
  out.ifNotExists = boolHeader(h.get(HEADERS.ifNotExists), 'Kv-If-Not-Exists') ?? false;
  const inm = h.get('if-none-match');
  const im = h.get('if-match');
  const conditions = (out.ifNotExists ? 1 : 0) + (inm !== null ? 1 : 0) + (im !== null ? 1 : 0);
  if (conditions > 1) {
    throw new ValidationError('Use only one of Kv-If-Not-Exists, If-None-Match and If-Match', {
      details: { field: 'If-Match', reason: 'conflict' },
    });
  }
  if (inm !== null) {
    if (inm.trim() !== '*') {
      throw new ValidationError('If-None-Match on a write must be *', {
        details: { field: 'If-None-Match', reason: 'invalid_format' },
      });
    }
    out.precondition = { kind: 'absent' };
  }
  if (out.ifNotExists) out.precondition = { kind: 'absent' };
  if (im !== null) out.precondition = ifMatchPrecondition(im);
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

function boolHeader(value: string | null, field: string): boolean | undefined {
  if (value === null) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ValidationError(`${field} must be true or false`, { details: { field, reason: 'type' } });
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
