/**
 * The one codec between an entry's fields and the headers of a single-entry response (docs/protocol.md
 * "Entry headers"). The engine writes entry responses with {@link entryToHeaders}; the client reads them
 * with {@link entryFromHeaders}; the browser cache uses both to store a response and to answer a read
 * from its record. Nothing else spells these headers.
 *
 * @module
 */
import { KvError } from '../errors.js';
import {
  BYTES_CONTENT_TYPE,
  formatEtag,
  formatScopesHeader,
  HEADERS,
  parseEtag,
  parseScopesHeader,
} from '../protocol.js';
import type { EntryMeta, JsonObject } from '../types.js';

/**
 * The entry fields the entry headers carry: `EntryMeta`'s, with times as ISO 8601 strings (the wire form,
 * so a cached record passes its own fields and the engine formats its epoch-ms times once). An
 * `EntryMeta` is one.
 */
export interface EntryHeaderFields {
  /** Entry id (`Kv-Id`). */
  id: string;
  /** Revision of the entry's last write (`Kv-Revision`, and `ETag: "<revision>"`). */
  revision: number;
  /** The value's content type (`Content-Type`). */
  contentType: string;
  /** The metadata object, or null for none (`Kv-Metadata`, absent when null). */
  metadata: JsonObject | null;
  /** The scopes (`Kv-Scopes`, absent when empty). */
  scopes: readonly string[];
  /** ISO 8601 time of this id's first write (`Kv-Created-At`). */
  createdAt: string;
  /** ISO 8601 time of the last write (`Kv-Updated-At`). */
  updatedAt: string;
  /** ISO 8601 expiry, or null when the entry does not expire (`Kv-Expires-At`, absent when null). */
  expiresAt: string | null;
  /** The AntiRaid resume flag (`Kv-Resume`). */
  resume: boolean;
  /**
   * The key. When given it is sent as `Kv-Key`, percent-encoded: the protocol sends it on reads by id,
   * where the request does not name the key.
   */
  key?: string;
  /** Bytes of the body the response carries. When given it is sent as `Content-Length`. */
  size?: number;
}

/**
 * The headers describing an entry (docs/protocol.md "Entry headers"): `Content-Type`, `ETag`, `Kv-Id`,
 * `Kv-Revision`, `Kv-Metadata` (the JSON percent-encoded with `encodeURIComponent`; absent when null),
 * `Kv-Scopes` (each scope percent-encoded, joined with `,`; absent when empty), `Kv-Expires-At` (absent
 * when null), `Kv-Created-At`, `Kv-Updated-At`, `Kv-Resume` (`true`/`false`), `Cache-Control: private,
 * no-cache`, and `Kv-Key` / `Content-Length` when `entry.key` / `entry.size` are given.
 *
 * @param entry - the fields to describe
 * @returns a plain record of lower-case header names (cheaper than `Headers` on the engine's read path;
 *   `new Headers(record)` or a `Response` built with it has the same headers)
 * @example
 * new Response(bytes, { headers: entryToHeaders({ ...meta, size: bytes.byteLength }) });
 */
export function entryToHeaders(entry: EntryHeaderFields): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': entry.contentType,
    etag: formatEtag(entry.revision),
    [HEADERS.id]: entry.id,
    [HEADERS.revision]: String(entry.revision),
  };
  if (entry.metadata !== null) h[HEADERS.metadata] = encodeURIComponent(JSON.stringify(entry.metadata));
  if (entry.scopes.length > 0) h[HEADERS.scopes] = formatScopesHeader(entry.scopes);
  if (entry.expiresAt !== null) h[HEADERS.expiresAt] = entry.expiresAt;
  h[HEADERS.createdAt] = entry.createdAt;
  h[HEADERS.updatedAt] = entry.updatedAt;
  h[HEADERS.resume] = entry.resume ? 'true' : 'false';
  h['cache-control'] = 'private, no-cache';
  if (entry.key !== undefined) h[HEADERS.key] = encodeURIComponent(entry.key);
  if (entry.size !== undefined) h['content-length'] = String(entry.size);
  return h;
}

const DECIMAL = /^\d{1,15}$/;

function unreadable(header: string, message: string, cause?: unknown): KvError {
  return new KvError(`The server sent ${message}`, {
    code: 'invalid_response',
    status: 0,
    details: { header },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Reads an entry's fields from the headers of a single-entry response (`GET`/`HEAD` of an entry or an id,
 * or a `304` of one), with the rules of docs/protocol.md "Entry headers":
 * - `revision` is `Kv-Revision` (decimal); without it, the revision in the `ETag`;
 * - `metadata` is null when `Kv-Metadata` is absent or empty, else the percent-decoded JSON object;
 * - `scopes` are `[]` when `Kv-Scopes` is absent or empty;
 * - `expiresAt` is null when `Kv-Expires-At` is absent or empty;
 * - `resume` is true only for `Kv-Resume: true`;
 * - `contentType` defaults to `application/octet-stream`; `id`, `createdAt` and `updatedAt` to `''`;
 * - `key` is the `key` argument, else the percent-decoded `Kv-Key`, else `''`;
 * - `size` is the `size` argument, else `Content-Length`, else 0.
 *
 * @param key - the key the request named, or `undefined` for a read by id (then `Kv-Key` names it)
 * @param headers - the response headers
 * @param size - the body's byte length when known (a `HEAD` has none: `Content-Length` is used)
 * @returns the entry's fields
 * @throws KvError `invalid_response` (status 0, `details.header` naming the header) when the response
 *   has no revision, or `Kv-Metadata`, `Kv-Scopes` or `Kv-Key` cannot be decoded (metadata that is not a
 *   JSON object included)
 */
export function entryFromHeaders(
  key: string | undefined,
  headers: Headers,
  size: number | undefined,
): EntryMeta {
  const revisionHeader = headers.get(HEADERS.revision);
  const revision =
    revisionHeader !== null && DECIMAL.test(revisionHeader)
      ? Number(revisionHeader)
      : parseEtag(headers.get('etag'));
  if (typeof revision !== 'number')
    throw unreadable(HEADERS.revision, 'an entry response without a revision');

  const metadataHeader = headers.get(HEADERS.metadata);
  let metadata: JsonObject | null = null;
  if (metadataHeader !== null && metadataHeader !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeURIComponent(metadataHeader));
    } catch (cause) {
      throw unreadable(HEADERS.metadata, 'an unreadable Kv-Metadata header', cause);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw unreadable(HEADERS.metadata, 'a Kv-Metadata header that is not a JSON object');
    metadata = parsed as JsonObject;
  }

  let scopes: string[];
  try {
    scopes = parseScopesHeader(headers.get(HEADERS.scopes));
  } catch (cause) {
    throw unreadable(HEADERS.scopes, 'an unreadable Kv-Scopes header', cause);
  }

  let entryKey = key;
  if (entryKey === undefined) {
    const keyHeader = headers.get(HEADERS.key);
    try {
      entryKey = keyHeader === null ? '' : decodeURIComponent(keyHeader);
    } catch (cause) {
      throw unreadable(HEADERS.key, 'an unreadable Kv-Key header', cause);
    }
  }

  const length = headers.get('content-length');
  return {
    key: entryKey,
    id: headers.get(HEADERS.id) ?? '',
    revision,
    contentType: headers.get('content-type') ?? BYTES_CONTENT_TYPE,
    metadata,
    scopes,
    createdAt: headers.get(HEADERS.createdAt) ?? '',
    updatedAt: headers.get(HEADERS.updatedAt) ?? '',
    expiresAt: headers.get(HEADERS.expiresAt) || null,
    resume: headers.get(HEADERS.resume) === 'true',
    size: size ?? (length !== null && DECIMAL.test(length) ? Number(length) : 0),
  };
}
