/**
 * Client-side value and entry codecs: request bodies and headers from `set`'s value and options, and
 * entries from response headers and wire JSON. Built on `encoding.ts` and `protocol.ts`. Internal.
 *
 * @module
 */

import { base64ToBytes, bytesToBase64, decodeValue, encodeValue } from '../encoding.js';
import { KvError, ValidationError } from '../errors.js';
import {
  BYTES_CONTENT_TYPE,
  formatEtag,
  formatScopesHeader,
  HEADERS,
  parseEtag,
  parseScopesHeader,
  type WireEntry,
  type WireWrite,
} from '../protocol.js';
import type { EntryMeta, JsonObject, KvEntry, SetOptions } from '../types.js';
import { validateExpiresAt, validateMetadata, validateScopes, validateTtlMs } from '../validation.js';
import type { KvBulkValue, KvSetValue, KvValue } from './types.js';

/** A value ready to send: replayable bytes/blob, or a one-shot stream. */
export type EncodedBody =
  | { kind: 'bytes'; body: Uint8Array | Blob; contentType: string }
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; contentType: string };

/** True for a web `ReadableStream` (checked structurally, so streams from other realms count). */
export function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getReader?: unknown }).getReader === 'function' &&
    typeof (value as { pipeThrough?: unknown }).pipeThrough === 'function'
  );
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

/** Encodes `set`'s value: bytes as is, strings as UTF-8, blobs and streams as bodies, anything else as JSON. */
export function encodeBody(value: KvSetValue, contentType: string | undefined): EncodedBody {
  if (isReadableStream(value)) {
    return { kind: 'stream', stream: value, contentType: contentType ?? BYTES_CONTENT_TYPE };
  }
  if (isBlob(value)) {
    return { kind: 'bytes', body: value, contentType: contentType ?? (value.type || BYTES_CONTENT_TYPE) };
  }
  const encoded = encodeValue(value, contentType);
  return { kind: 'bytes', body: encoded.bytes, contentType: encoded.contentType };
}

/** Encodes a bulk/atomic value to the bytes and content type that travel base64 in JSON. */
export async function encodeBulkValue(
  value: KvBulkValue,
  contentType: string | undefined,
): Promise<{ bytes: Uint8Array; contentType: string }> {
  if (isBlob(value)) {
    return {
      bytes: new Uint8Array(await value.arrayBuffer()),
      contentType: contentType ?? (value.type || BYTES_CONTENT_TYPE),
    };
  }
  if (isReadableStream(value)) {
    throw new ValidationError('Bulk and atomic writes cannot take a stream; pass bytes, text or JSON', {
      details: { field: 'value', reason: 'type' },
    });
  }
  return encodeValue(value, contentType);
}

/** Checks `set`'s options and returns them as request headers (docs/protocol.md "PUT entry"). */
export function writeHeaders(options: SetOptions | undefined, contentType: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (options === undefined) return headers;
  const fields = writeFields(options);
  if (fields.ttlMs !== undefined) headers[HEADERS.ttlMs] = String(fields.ttlMs);
  if (fields.expiresAt !== undefined) headers[HEADERS.expiresAt] = fields.expiresAt;
  if (fields.metadata !== undefined)
    headers[HEADERS.metadata] = encodeURIComponent(JSON.stringify(fields.metadata));
  if (fields.scopes !== undefined) headers[HEADERS.scopes] = formatScopesHeader(fields.scopes);
  if (fields.resume !== undefined) headers[HEADERS.resume] = String(fields.resume);
  if (options.ifNotExists !== undefined && options.ifRevision !== undefined) {
    throw new ValidationError('`ifNotExists` and `ifRevision` cannot be combined', {
      details: { field: 'ifRevision', reason: 'conflict' },
    });
  }
  if (options.ifNotExists === true) headers[HEADERS.ifNotExists] = 'true';
  if (options.ifRevision !== undefined) headers['if-match'] = formatEtag(checkRevision(options.ifRevision));
  return headers;
}

/** Checks the options shared by every write and returns their wire form (bulk and atomic items use it too). */
export function writeFields(
  options: SetOptions,
): Pick<WireWrite, 'ttlMs' | 'expiresAt' | 'metadata' | 'scopes' | 'resume'> {
  const out: Pick<WireWrite, 'ttlMs' | 'expiresAt' | 'metadata' | 'scopes' | 'resume'> = {};
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

/** Checks a revision argument: a non-negative safe integer. */
export function checkRevision(revision: unknown, field = 'revision'): number {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    throw new ValidationError(`\`${field}\` must be a non-negative integer revision`, {
      details: { field, reason: 'type' },
    });
  }
  return revision;
}

/**
 * An expiry (`Date`, ISO string or epoch ms) as the ISO 8601 string the wire carries, checked with
 * `validateExpiresAt` (at most 9999-12-31T23:59:59.999Z) before anything is sent.
 */
export function toIso(value: Date | string | number): string {
  return new Date(validateExpiresAt(value)).toISOString();
}

/** Encodes bytes for a JSON body. */
export function toBase64(bytes: Uint8Array): string {
  return bytesToBase64(bytes);
}

/** Reads an entry's fields from a `GET`/`HEAD` response's headers (docs/protocol.md "GET entry"). */
export function metaFromHeaders(
  key: string | undefined,
  headers: Headers,
  size: number | undefined,
): EntryMeta {
  const revision = parseEtag(headers.get('etag'));
  const revisionHeader = headers.get(HEADERS.revision);
  const metadataHeader = headers.get(HEADERS.metadata);
  let metadata: JsonObject | null = null;
  if (metadataHeader !== null && metadataHeader !== '') {
    try {
      metadata = JSON.parse(decodeURIComponent(metadataHeader)) as JsonObject;
    } catch (cause) {
      throw new KvError('The server sent an unreadable Kv-Metadata header', {
        code: 'invalid_response',
        status: 0,
        cause,
      });
    }
  }
  const length = headers.get('content-length');
  return {
    key: key ?? headers.get(HEADERS.key) ?? '',
    id: headers.get(HEADERS.id) ?? '',
    revision: typeof revision === 'number' ? revision : Number(revisionHeader ?? 0),
    contentType: headers.get('content-type') ?? BYTES_CONTENT_TYPE,
    metadata,
    scopes: parseScopesHeader(headers.get(HEADERS.scopes)),
    createdAt: headers.get(HEADERS.createdAt) ?? '',
    updatedAt: headers.get(HEADERS.updatedAt) ?? '',
    expiresAt: headers.get(HEADERS.expiresAt) || null,
    resume: headers.get(HEADERS.resume) === 'true',
    size: size ?? (length === null ? 0 : Number(length)),
  };
}

/** Decodes bytes by content type (JSON -> value, text -> string, else bytes). */
export function decode(bytes: Uint8Array, contentType: string): KvValue {
  return decodeValue(bytes, contentType) as KvValue;
}

/** An entry's fields from wire JSON, without its value. */
export function metaFromWire(wire: WireEntry): EntryMeta {
  return {
    key: wire.key,
    id: wire.id,
    revision: wire.revision,
    contentType: wire.contentType,
    metadata: wire.metadata as JsonObject | null,
    scopes: wire.scopes,
    createdAt: wire.createdAt,
    updatedAt: wire.updatedAt,
    expiresAt: wire.expiresAt,
    resume: wire.resume,
    size: wire.size,
  };
}

/** The value of a wire entry (base64), decoded by its content type; `undefined` when absent. */
export function valueFromWire(wire: WireEntry): KvValue | undefined {
  return wire.value === undefined ? undefined : decode(base64ToBytes(wire.value), wire.contentType);
}

/** A whole entry from wire JSON that carries its value. */
export function entryFromWire<T>(wire: WireEntry): KvEntry<T> {
  return { ...metaFromWire(wire), value: valueFromWire(wire) as T };
}
