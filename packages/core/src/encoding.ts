/**
 * Value encoding: how a JavaScript value becomes stored bytes plus a content type, and back
 * (a read decodes by content type: JSON -> object, text -> string, else `Uint8Array`, docs/protocol.md
 * "Entries"; Apify records with content types; Alien `get`/`getText`/`getJson`), plus the UTF-8 and
 * base64 codecs the wire protocol uses for values inside JSON (docs/protocol.md). Uses only web
 * standards (`TextEncoder`, `TextDecoder`, `atob`/`btoa` semantics), never `Buffer`, so it runs in
 * browsers and Node alike.
 *
 * @module
 */

import { ValidationError } from './errors.js';
import { BYTES_CONTENT_TYPE, JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './protocol.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes text as UTF-8 (WHATWG Encoding). Lone surrogates become U+FFFD.
 *
 * @param text - any string
 * @returns the UTF-8 bytes
 */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Decodes UTF-8 bytes to text. Invalid sequences become U+FFFD (never throws); a leading BOM is removed.
 *
 * @param bytes - UTF-8 bytes
 * @returns the text
 */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The lower-cased `type/subtype` of a media type, without parameters (RFC 9110 section 8.3.1). */
function essence(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * True for JSON media types: `application/json` and any `type/subtype+json` (RFC 6839 structured syntax
 * suffix, e.g. `application/ld+json`), with or without parameters, case-insensitive.
 *
 * @param ct - a `Content-Type` value, e.g. `application/json; charset=utf-8`
 */
export function isJsonContentType(ct: string): boolean {
  const e = essence(ct);
  return e === 'application/json' || (e.endsWith('+json') && e.indexOf('/') > 0);
}

/**
 * True for media types whose bytes are text: `text/*`, `application/xml`, `application/javascript`,
 * `application/ecmascript`, any `+xml` suffix, and every JSON type ({@link isJsonContentType}).
 * With or without parameters, case-insensitive.
 *
 * @param ct - a `Content-Type` value, e.g. `text/plain; charset=utf-8`
 */
export function isTextContentType(ct: string): boolean {
  const e = essence(ct);
  return (
    e.startsWith('text/') ||
    e === 'application/xml' ||
    e === 'application/javascript' ||
    e === 'application/ecmascript' ||
    (e.endsWith('+xml') && e.indexOf('/') > 0) ||
    isJsonContentType(e)
  );
}

/** The `charset` parameter of a content type, lower-cased, or undefined. */
function charsetOf(contentType: string): string | undefined {
  const params = contentType.split(';');
  for (let i = 1; i < params.length; i++) {
    const [name, value] = (params[i] as string).split('=', 2);
    if (name?.trim().toLowerCase() === 'charset' && value !== undefined) {
      return value.trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  return undefined;
}

function decodeText(bytes: Uint8Array, contentType: string): string {
  const charset = charsetOf(contentType);
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return decoder.decode(bytes);
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    // An unknown label: fall back to UTF-8 rather than failing the read.
    return decoder.decode(bytes);
  }
}

function isArrayBuffer(value: unknown): value is ArrayBuffer {
  // Works across realms, and for SharedArrayBuffer too.
  const tag = Object.prototype.toString.call(value);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (isArrayBuffer(value)) return new Uint8Array(value);
  return undefined;
}

/**
 * Encodes a value for storage and infers its content type (docs/protocol.md "Entries"; Apify records):
 *
 * | value | bytes | inferred content type |
 * | --- | --- | --- |
 * | `Uint8Array`, `ArrayBuffer`, any `ArrayBufferView` | as is (a view of the same memory, not a copy) | `application/octet-stream` |
 * | string | UTF-8 | `text/plain; charset=utf-8` |
 * | anything else | `JSON.stringify` | `application/json` |
 *
 * An explicit `contentType` replaces the inferred one but does not change how the bytes are made: a
 * string with `contentType: 'application/json'` is sent as the string's UTF-8 (it is assumed to be
 * JSON text already, not encoded twice).
 *
 * @param value - the value to store
 * @param contentType - an explicit content type, overriding the inferred one
 * @returns the bytes and the content type to store
 * @throws {ValidationError} `details: { field: 'value', reason: 'not_json' }` for values JSON cannot
 *   represent (`undefined`, functions, symbols, BigInt, cyclic objects) and for `Blob`s and streams
 *   (read them first; the runtime clients accept streams)
 * @example
 * encodeValue({ a: 1 }); // { bytes: <7b 22 61 22 3a 31 7d>, contentType: 'application/json' }
 * encodeValue('{"a":1}', 'application/json'); // the same bytes, not '"{\"a\":1}"'
 */
export function encodeValue(
  value: unknown,
  contentType?: string,
): { bytes: Uint8Array; contentType: string } {
  const bytes = toBytes(value);
  if (bytes !== undefined) return { bytes, contentType: contentType ?? BYTES_CONTENT_TYPE };
  if (typeof value === 'string')
    return { bytes: encoder.encode(value), contentType: contentType ?? TEXT_CONTENT_TYPE };
  if (isStreamOrBlob(value)) {
    throw new ValidationError('Cannot encode a Blob or stream synchronously; read it into bytes first', {
      details: { field: 'value', reason: 'not_json' },
    });
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new ValidationError(`Value cannot be encoded as JSON: ${(cause as Error).message}`, {
      cause,
      details: { field: 'value', reason: 'not_json' },
    });
  }
  if (json === undefined) {
    throw new ValidationError(`Value of type ${typeof value} cannot be encoded as JSON`, {
      details: { field: 'value', reason: 'not_json' },
    });
  }
  return { bytes: encoder.encode(json), contentType: contentType ?? JSON_CONTENT_TYPE };
}

function isStreamOrBlob(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) return true;
  if (typeof Blob !== 'undefined' && value instanceof Blob) return true;
  // Node streams and async iterables: JSON would silently turn them into `{}`.
  return typeof (value as { pipe?: unknown }).pipe === 'function' || Symbol.asyncIterator in value;
}

/**
 * Decodes stored bytes by content type (docs/protocol.md "Entries"): JSON types ({@link isJsonContentType}) are
 * parsed, and bytes that are not valid JSON are returned as their text instead of throwing; text types
 * ({@link isTextContentType}, honouring a `charset` parameter) become a string; anything else is returned
 * as the `Uint8Array` itself.
 *
 * @param bytes - the stored value
 * @param contentType - its content type
 * @returns the parsed JSON value, a string, or `bytes`
 */
export function decodeValue(bytes: Uint8Array, contentType: string): unknown {
  if (isJsonContentType(contentType)) {
    const text = decodeText(bytes, contentType);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  if (isTextContentType(contentType)) return decodeText(bytes, contentType);
  return bytes;
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character code -> 6-bit value, or 255 for characters outside the alphabet. */
const B64_LOOKUP: Uint8Array = (() => {
  const table = new Uint8Array(128).fill(255);
  for (let i = 0; i < B64_ALPHABET.length; i++) table[B64_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Bytes per `String.fromCharCode` call: far below every engine's argument limit. */
const CHUNK = 0x8000;

/**
 * Encodes bytes as standard base64 with padding (RFC 4648 section 4), as `btoa` would. Works in chunks,
 * so multi-megabyte values do not overflow the call stack.
 *
 * @param bytes - any bytes
 * @returns base64 text
 */
export function bytesToBase64(bytes: Uint8Array): string {
  const chunks: string[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) {
    chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]));
  }
  return btoa(chunks.join(''));
}

/**
 * Encodes bytes as base64url without padding (RFC 4648 section 5): `-` and `_` instead of `+` and `/`,
 * no `=`. Used for URL-borne opaque strings (signatures, tokens, cursors).
 *
 * @param bytes - any bytes
 * @returns base64url text
 */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes standard base64 (RFC 4648 section 4) strictly: only `A-Z a-z 0-9 + /`, no whitespace, no
 * base64url characters; `=` padding is optional but, when present, must be exactly right; the unused
 * bits of the last character must be zero (so every byte string has one accepted encoding).
 *
 * @param text - base64 text
 * @returns the decoded bytes
 * @throws {ValidationError} `details: { field: 'value', reason: 'invalid_base64' }` for anything else
 */
export function base64ToBytes(text: string): Uint8Array {
  const fail = (why: string): ValidationError =>
    new ValidationError(`Invalid base64: ${why}`, { details: { field: 'value', reason: 'invalid_base64' } });
  let len = text.length;
  if (len % 4 === 0 && len > 0 && text.charCodeAt(len - 1) === 0x3d) {
    len--;
    if (text.charCodeAt(len - 1) === 0x3d) len--;
  } else if (len % 4 !== 0 && text.indexOf('=') !== -1) {
    throw fail('wrong padding');
  }
  const rem = len % 4;
  if (rem === 1) throw fail('wrong length');
  const out = new Uint8Array(((len - rem) / 4) * 3 + (rem === 0 ? 0 : rem - 1));
  let o = 0;
  let i = 0;
  const at = (k: number): number => {
    const c = text.charCodeAt(k);
    const v = c < 128 ? (B64_LOOKUP[c] as number) : 255;
    if (v === 255) throw fail(`unexpected character at ${k}`);
    return v;
  };
  for (const full = len - rem; i < full; i += 4) {
    const n = (at(i) << 18) | (at(i + 1) << 12) | (at(i + 2) << 6) | at(i + 3);
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rem === 2) {
    const a = at(i);
    const b = at(i + 1);
    if ((b & 0x0f) !== 0) throw fail('non-zero padding bits');
    out[o] = (a << 2) | (b >> 4);
  } else if (rem === 3) {
    const a = at(i);
    const b = at(i + 1);
    const c = at(i + 2);
    if ((c & 0x03) !== 0) throw fail('non-zero padding bits');
    out[o++] = (a << 2) | (b >> 4);
    out[o] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return out;
}
