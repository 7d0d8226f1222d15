/**
 * Client-side value and entry codecs: entries from response headers and wire JSON, and the small checks
 * writes share (`write.ts` builds the requests). Built on `encoding.ts` and `protocol.ts`. Internal.
 *
 * @module
 */

import { base64ToBytes, bytesToBase64, decodeValue } from '../encoding.js';
import { ValidationError } from '../errors.js';
import type { WireEntry } from '../protocol.js';
import type { EntryMeta, JsonObject, KvEntry } from '../types.js';
import { validateExpiresAt } from '../validation.js';
import type { KvValue } from './types.js';

/** True for a web `ReadableStream` (checked structurally, so streams from other realms count). */
export function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getReader?: unknown }).getReader === 'function' &&
    typeof (value as { pipeThrough?: unknown }).pipeThrough === 'function'
  );
}

/** True for a `Blob` (or `File`) in runtimes that have one. */
export function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
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
