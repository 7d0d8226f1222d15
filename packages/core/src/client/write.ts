/**
 * The prepared write: a write's key, value and options checked and encoded once, from which each wire
 * form is derived without checking again: the headers and body of a single `PUT` (docs/protocol.md
 * "PUT entry") and the JSON item of `bulk/set` and `atomic` (`WireWrite`, the value in base64). `set`,
 * `create`, `update`, `setMany` and `atomic().set` use it, and so does `@kv/browser` for its write-through
 * and offline queue (through `@kv/core/protocol`).
 *
 * @module
 */

import { encodeValue } from '../encoding.js';
import { ValidationError } from '../errors.js';
import {
  BYTES_CONTENT_TYPE,
  formatEtag,
  formatScopesHeader,
  HEADERS,
  type WireIncrementBody,
  type WireWrite,
} from '../protocol.js';
import type { SetOptions } from '../types.js';
import { validateKey, validateMetadata, validateScopes, validateTtlMs } from '../validation.js';
import type { KvSetValue } from './types.js';
import { checkRevision, isBlob, isReadableStream, toBase64, toIso } from './values.js';

/** The checked options every write form carries, in wire form (`expiresAt` as an ISO 8601 string). */
export type WriteFields = Pick<WireWrite, 'ttlMs' | 'expiresAt' | 'metadata' | 'scopes' | 'resume'>;

/**
 * A precondition the operation itself sets, in place of `ifNotExists`/`ifRevision` in the options (which
 * are then ignored): `'create'` is `create`'s `If-None-Match: *` (a present key fails with
 * `KeyExistsError`), `{ revision }` is `update`'s `If-Match` (docs/protocol.md "Preconditions"), and `null`
 * is none (an `atomic` mutation, whose checks travel apart).
 */
export type WriteCondition = 'create' | { revision: number } | null;

/**
 * A write checked and encoded once by {@link prepareWrite}. Read-only: derive the wire forms with
 * {@link putHeaders} (single `PUT`) and {@link toWireWrite} (bulk and atomic JSON).
 */
export interface PreparedWrite {
  /** The checked key. */
  readonly key: string;
  /**
   * The encoded value: bytes (a `Uint8Array` the caller passed is kept as is, not copied), a `Blob`
   * (sent as is, read for JSON forms), or a one-shot `ReadableStream` (single `PUT` only, never retried).
   */
  readonly body: Uint8Array | Blob | ReadableStream<Uint8Array>;
  /** The value's MIME type: the `contentType` option, else inferred (docs/protocol.md "Values"). */
  readonly contentType: string;
  /** The checked `ttlMs`, `expiresAt`, `metadata`, `scopes` and `resume`, in wire form. */
  readonly fields: WriteFields;
  /** `ifNotExists` as given (`true` writes only when absent, answering `created: false` otherwise). */
  readonly ifNotExists?: boolean;
  /** The revision the write is guarded on (`ifRevision`, or `update`'s revision): `If-Match`. */
  readonly ifRevision?: number;
  /** True for `create`: `If-None-Match: *`. */
  readonly create?: true;
}

/**
 * Checks a write and encodes its value, once (`set`, `create`, `update`; docs/protocol.md "Entries",
 * "Write"). In order: the key, the value's encoding (bytes as is, strings as UTF-8, blobs and streams
 * kept, anything else as JSON), `ttlMs` with `expiresAt`, `ttlMs`, `expiresAt` (at most
 * 9999-12-31T23:59:59.999Z), `metadata`, `scopes`, `resume`, then the precondition: `ifNotExists` with
 * `ifRevision`, `ifNotExists`, `ifRevision` (or the operation's own `condition`).
 *
 * @param key - the entry's key (UTF-8, 1-512 bytes)
 * @param value - the value: bytes, string, JSON value, `Blob` or `ReadableStream`
 * @param options - `set`'s options; `ifNotExists`/`ifRevision` are ignored when `condition` is given
 * @param condition - the operation's own precondition ({@link WriteCondition}); omitted for `set` and
 *   `setMany`, which take it from the options
 * @returns the prepared write, to send with {@link putHeaders} or {@link toWireWrite}
 * @throws {ValidationError} a bad key, a value that cannot be encoded, or a bad option (`details.field`
 *   names it), before anything is sent
 * @example
 * ```ts
 * const write = prepareWrite('order:1', { total: 42 }, { ttlMs: 60_000 });
 * putHeaders(write); // { 'content-type': 'application/json', 'kv-ttl-ms': '60000' }
 * ```
 */
export function prepareWrite(
  key: string,
  value: KvSetValue,
  options?: SetOptions,
  condition?: WriteCondition,
): PreparedWrite {
  validateKey(key);
  const contentTypeOption = options?.contentType;
  let body: PreparedWrite['body'];
  let contentType: string;
  if (isReadableStream(value)) {
    body = value;
    contentType = contentTypeOption ?? BYTES_CONTENT_TYPE;
  } else if (isBlob(value)) {
    body = value;
    contentType = contentTypeOption ?? (value.type || BYTES_CONTENT_TYPE);
  } else {
    const encoded = encodeValue(value, contentTypeOption);
    body = encoded.bytes;
    contentType = encoded.contentType;
  }
  const prepared: {
    -readonly [K in keyof PreparedWrite]: PreparedWrite[K];
  } = { key, body, contentType, fields: options === undefined ? {} : checkFields(options) };
  if (condition === undefined) {
    if (options !== undefined && (options.ifNotExists !== undefined || options.ifRevision !== undefined)) {
      const { ifNotExists, ifRevision } = options;
      if (ifNotExists !== undefined && ifRevision !== undefined) {
        throw new ValidationError('`ifNotExists` and `ifRevision` cannot be combined', {
          details: { field: 'ifRevision', reason: 'conflict' },
        });
      }
      if (ifNotExists !== undefined) {
        if (typeof ifNotExists !== 'boolean') {
          throw new ValidationError('`ifNotExists` must be a boolean', {
            details: { field: 'ifNotExists', reason: 'type' },
          });
        }
        prepared.ifNotExists = ifNotExists;
      }
      if (ifRevision !== undefined) prepared.ifRevision = checkRevision(ifRevision, 'ifRevision');
    }
  } else if (condition === 'create') {
    prepared.create = true;
  } else if (condition !== null) {
    prepared.ifRevision = checkRevision(condition.revision);
  }
  return prepared;
}

/**
 * Checks an `increment`'s key, delta and options (as `set` checks them) and returns its JSON body
 * (docs/protocol.md "Counters").
 *
 * @throws {ValidationError} a bad key, a delta that is not a safe integer, or a bad option
 */
export function prepareIncrement(
  key: string,
  delta: number,
  options: Pick<SetOptions, 'ttlMs' | 'expiresAt' | 'metadata' | 'scopes'> & { floor?: number } = {},
): WireIncrementBody {
  validateKey(key);
  checkInteger(delta, 'delta');
  if (options.floor !== undefined) checkInteger(options.floor, 'floor');
  const { ttlMs, expiresAt, metadata, scopes } = checkFields({
    ttlMs: options.ttlMs,
    expiresAt: options.expiresAt,
    metadata: options.metadata,
    scopes: options.scopes,
  } as SetOptions);
  const body: WireIncrementBody = { delta };
  if (options.floor !== undefined) body.floor = options.floor;
  if (ttlMs !== undefined) body.ttlMs = ttlMs;
  if (expiresAt !== undefined) body.expiresAt = expiresAt;
  if (metadata !== undefined) body.metadata = metadata;
  if (scopes !== undefined) body.scopes = scopes;
  return body;
}

/**
 * Checks that `n` is a safe integer (`Number.isSafeInteger`), the operand of `increment` and of the
 * atomic `sum`/`min`/`max`.
 *
 * @throws {ValidationError} `details: { field, reason: 'not_integer' }`
 */
export function checkInteger(n: number, field: string): number {
  if (!Number.isSafeInteger(n)) {
    throw new ValidationError(`\`${field}\` must be a safe integer`, {
      details: { field, reason: 'not_integer' },
    });
  }
  return n;
}

/** Checks the options every write form carries and returns their wire form. */
function checkFields(options: SetOptions): WriteFields {
  const out: WriteFields = {};
  if (options.ttlMs !== undefined && options.expiresAt !== undefined) {
    throw new ValidationError('`ttlMs` and `expiresAt` cannot be combined', {
      details: { field: 'expiresAt', reason: 'conflict' },
    });
  }
  if (options.ttlMs !== undefined) out.ttlMs = validateTtlMs(options.ttlMs);
  if (options.expiresAt !== undefined) out.expiresAt = toIso(options.expiresAt);
  if (options.metadata !== undefined) {
    const metadata = validateMetadata(options.metadata);
    if (metadata !== null) out.metadata = metadata;
  }
  if (options.scopes !== undefined) out.scopes = validateScopes(options.scopes);
  if (options.resume !== undefined) {
    if (typeof options.resume !== 'boolean') {
      throw new ValidationError('`resume` must be a boolean', {
        details: { field: 'resume', reason: 'type' },
      });
    }
    out.resume = options.resume;
  }
  return out;
}

/**
 * The request headers of a prepared write sent as one `PUT` (docs/protocol.md "PUT entry"):
 * `Content-Type`, `Kv-Ttl-Ms`, `Kv-Expires-At`, `Kv-Metadata` (URI-encoded JSON), `Kv-Scopes`,
 * `Kv-Resume`, and the precondition (`Kv-If-Not-Exists`, `If-Match` or `If-None-Match: *`). Checks
 * nothing: {@link prepareWrite} did.
 */
export function putHeaders(write: PreparedWrite): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': write.contentType };
  const { ttlMs, expiresAt, metadata, scopes, resume } = write.fields;
  if (ttlMs !== undefined) headers[HEADERS.ttlMs] = String(ttlMs);
  if (expiresAt !== undefined) headers[HEADERS.expiresAt] = expiresAt;
  if (metadata !== undefined) headers[HEADERS.metadata] = encodeURIComponent(JSON.stringify(metadata));
  if (scopes !== undefined) headers[HEADERS.scopes] = formatScopesHeader(scopes);
  if (resume !== undefined) headers[HEADERS.resume] = String(resume);
  if (write.ifNotExists === true) headers[HEADERS.ifNotExists] = 'true';
  if (write.ifRevision !== undefined) headers['if-match'] = formatEtag(write.ifRevision);
  if (write.create === true) headers['if-none-match'] = '*';
  return headers;
}

/**
 * The value bytes of a prepared write: its bytes, or a `Blob` read whole.
 *
 * @throws {ValidationError} a stream (`details: { field: 'value', reason: 'type' }`): JSON forms and
 *   queues need bytes, and a stream can be read only once
 */
export async function preparedBytes(write: PreparedWrite): Promise<Uint8Array> {
  const { body } = write;
  if (body instanceof Uint8Array) return body;
  if (isBlob(body)) return new Uint8Array(await body.arrayBuffer());
  throw new ValidationError('Bulk and atomic writes cannot take a stream; pass bytes, text or JSON', {
    details: { field: 'value', reason: 'type' },
  });
}

/**
 * The JSON item of a prepared write for `bulk/set` and `atomic` (`WireWrite`, docs/protocol.md "Bulk
 * set"): key, base64 value (RFC 4648 section 4), content type, the checked fields, and
 * `ifNotExists`/`ifRevision` when the write has them (`create`'s `If-None-Match` has no JSON form).
 *
 * @throws {ValidationError} the value is a stream (see {@link preparedBytes})
 */
export async function toWireWrite(
  write: PreparedWrite,
): Promise<WireWrite & { ifNotExists?: boolean; ifRevision?: number }> {
  const item: WireWrite & { ifNotExists?: boolean; ifRevision?: number } = {
    key: write.key,
    value: toBase64(await preparedBytes(write)),
    contentType: write.contentType,
    ...write.fields,
  };
  if (write.ifNotExists !== undefined) item.ifNotExists = write.ifNotExists;
  if (write.ifRevision !== undefined) item.ifRevision = write.ifRevision;
  return item;
}
