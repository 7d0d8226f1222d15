/**
 * The wire protocol: base path, routes, header names, and the codecs for entry headers and cursors.
 * `docs/protocol.md` is the normative text; this module is its executable form, used by the engine to
 * serve and by the clients to call.
 *
 * @module
 */

import { buildPath } from './protocol/routes.js';

/** Base path of every versioned route. */
export const API_BASE = '/v1';

/** Header names used by the protocol (case-insensitive on the wire; lower-case here). */
export const HEADERS = {
  /** Entry id (AntiRaid `id`). */
  id: 'kv-id',
  /** Entry revision, as a decimal number (also in `ETag: "<revision>"`). */
  revision: 'kv-revision',
  /** Entry metadata: the JSON object, percent-encoded with `encodeURIComponent`. */
  metadata: 'kv-metadata',
  /** Entry scopes: each scope percent-encoded, joined with `,`. */
  scopes: 'kv-scopes',
  /** Entry expiry as ISO 8601 (responses and requests). Absent = no expiry. */
  expiresAt: 'kv-expires-at',
  /** Request: TTL in ms from the write. */
  ttlMs: 'kv-ttl-ms',
  /** `true`/`false`: the entry's `resume` flag. */
  resume: 'kv-resume',
  /** Request: `true` = write only if the key has no live entry, else 200 with `created: false` (Alien). */
  ifNotExists: 'kv-if-not-exists',
  /** Response: ISO 8601 creation time. */
  createdAt: 'kv-created-at',
  /** Response: ISO 8601 last-write time. */
  updatedAt: 'kv-updated-at',
  /** Response: the entry's key (on get-by-id). */
  key: 'kv-key',
  /** Response: the request id, for support and logs. Also accepted on requests. */
  requestId: 'kv-request-id',
  /** Request: makes a write safe to retry (see docs/protocol.md "Idempotency"). */
  idempotencyKey: 'idempotency-key',
  /** Response: `true` when the response is a replay of an earlier request with the same idempotency key. */
  idempotentReplayed: 'kv-idempotent-replayed',
  /**
   * Response: every error repeats its code here, so a `HEAD` failure (no body) can still be told apart,
   * e.g. `store_not_found` from `key_not_found` (docs/protocol.md "Errors").
   */
  errorCode: 'kv-error-code',
} as const;

/** Content type of JSON bodies. */
export const JSON_CONTENT_TYPE = 'application/json';
/** Content type used for values written without one and not inferable: raw bytes. */
export const BYTES_CONTENT_TYPE = 'application/octet-stream';
/** Content type of text values. */
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

const enc = encodeURIComponent;

/**
 * Route builders: each returns a path (without origin) for the given parameters, percent-encoded. Each is
 * {@link buildPath} of a route of the table in `protocol/routes.ts`.
 */
export const routes = {
  /** `GET` list stores, `POST` create a store. */
  stores: (): string => buildPath('listStores', {}),
  /** `GET`/`PATCH`/`DELETE` one store. */
  store: (store: string): string => buildPath('getStore', { store }),
  /** `GET` list entries. */
  entries: (store: string): string => buildPath('listEntries', { store }),
  /** `GET`/`HEAD`/`PUT`/`DELETE` one entry; the key is one percent-encoded path segment. */
  entry: (store: string, key: string): string => buildPath('getEntry', { store, key }),
  /** `GET` an entry's history. */
  history: (store: string, key: string): string => buildPath('getHistory', { store, key }),
  /** `PUT` an entry's expiry: JSON `{ expiresAt: string | null }`. */
  expiry: (store: string, key: string): string => buildPath('setExpiry', { store, key }),
  /** `POST` an increment: JSON `{ delta, ttlMs?, expiresAt?, metadata?, scopes? }`. */
  increment: (store: string, key: string): string => buildPath('increment', { store, key }),
  /** `GET`/`HEAD` an entry by id. */
  byId: (store: string, id: string): string => buildPath('getById', { store, id }),
  /** `GET` scopes in use. */
  scopes: (store: string): string => buildPath('listScopes', { store }),
  /** `POST` bulk get. */
  bulkGet: (store: string): string => buildPath('bulkGet', { store }),
  /** `POST` bulk set. */
  bulkSet: (store: string): string => buildPath('bulkSet', { store }),
  /** `POST` bulk delete. */
  bulkDelete: (store: string): string => buildPath('bulkDelete', { store }),
  /** `POST` atomic commit. */
  atomic: (store: string): string => buildPath('atomic', { store }),
  /** `GET` Server-Sent Events stream of changes. */
  watch: (store: string): string => buildPath('watch', { store }),
  /** `POST` create a signed URL. */
  signedUrls: (store: string): string => buildPath('createSignedUrl', { store }),
  /** `POST` rotate the store's URL-signing secret. */
  signingSecret: (store: string): string => buildPath('rotateSigningSecret', { store }),
  /** `POST` enqueue a message (JSON {@link WireEnqueueBody}), `GET` the queue's counts. */
  queue: (store: string): string => buildPath('enqueue', { store }),
  /** `POST` lease due messages (JSON {@link WireLeaseBody}; long-polls with `waitMs`). */
  queueLease: (store: string): string => buildPath('leaseMessages', { store }),
  /** `POST` acknowledge a leased message (JSON {@link WireAckBody}). */
  queueAck: (store: string, id: string): string => buildPath('ackMessage', { store, id }),
  /** `POST` give a leased message back as failed (JSON {@link WireNackBody}). */
  queueNack: (store: string, id: string): string => buildPath('nackMessage', { store, id }),
  /** `POST` extend the lease on a leased message (JSON {@link WireExtendBody}). */
  queueExtend: (store: string, id: string): string => buildPath('extendLease', { store, id }),
  /** `GET` list tokens, `POST` create a token. */
  tokens: (): string => buildPath('listTokens', {}),
  /** `DELETE` revoke a token. */
  token: (id: string): string => buildPath('revokeToken', { id }),
} as const;

/** Formats a revision as a strong ETag: `"42"` (RFC 9110 section 8.8.3). */
export function formatEtag(revision: number): string {
  return `"${revision}"`;
}

/**
 * Parses an `If-Match`/`If-None-Match` value holding one revision ETag (`"42"`, or `W/"42"`).
 * Returns `'*'` for the wildcard and `undefined` when the value is not a single revision ETag.
 */
export function parseEtag(value: string | null | undefined): number | '*' | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '*') return '*';
  const m = /^(?:W\/)?"(\d{1,15})"$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/** Encodes scopes for the `Kv-Scopes` header: each percent-encoded, joined by `,`. */
export function formatScopesHeader(scopes: readonly string[]): string {
  return scopes.map(enc).join(',');
}

/** Decodes a `Kv-Scopes` header; an empty or missing header is `[]`. Throws `URIError` on bad escapes. */
export function parseScopesHeader(value: string | null | undefined): string[] {
  if (!value) return [];
  return value.split(',').map((s) => decodeURIComponent(s.trim()));
}

/**
 * What a listing cursor stands for: the last key the listing examined and its direction. On the wire a
 * cursor is opaque: the engine seals this payload (AES-256-GCM under a key derived from the store's
 * signing secret, `@kv/engine` `CursorSealer`), so a scope-limited token never reads a key it may not see
 * (docs/protocol.md "Listing"). Clients pass cursors back unchanged and never decode them.
 */
export interface CursorPayload {
  /** The last key the listing examined (it may be one hidden from the caller). The next page starts strictly after it. */
  lastKey: string;
  /** Direction the cursor was issued for. */
  reverse: boolean;
}

/** An entry's fields as JSON on the wire: `EntryMeta`, with `value` base64 when values were asked for. */
export interface WireEntry {
  /** The key (UTF-8, 1-512 bytes). */
  key: string;
  /** Entry id (UUID), stable from the key's first write until it is deleted or purged (AntiRaid `id`). */
  id: string;
  /** Store revision of the write that produced this state (integer, starts at 1). */
  revision: number;
  /** MIME type of the value, e.g. `application/json`. */
  contentType: string;
  /** The entry's metadata object (at most 1024 bytes as JSON), or `null` when it has none. */
  metadata: Record<string, unknown> | null;
  /** The entry's scopes, sorted by UTF-8 bytes and de-duplicated; `[]` when none. */
  scopes: string[];
  /** ISO 8601 UTC time (milliseconds) of this id's first write. */
  createdAt: string;
  /** ISO 8601 UTC time (milliseconds) of the last write. */
  updatedAt: string;
  /** ISO 8601 UTC time (milliseconds) the entry expires at, or `null` when it never expires. */
  expiresAt: string | null;
  /** The AntiRaid `resume` flag: delivered as a `resume` event to `watch({ resume: true })`. */
  resume: boolean;
  /** Size of the value in bytes (`0` for tombstones). */
  size: number;
  /** base64 of the value bytes; present on listings with `values=true`, bulk get, history puts, watch puts. */
  value?: string;
}

/** `GET /v1/stores/{store}/entries` response. */
export interface WireListResponse {
  /** The page's entries in key order (reversed with `reverse=true`); `value` only with `values=true`. */
  items: WireEntry[];
  /** Opaque cursor of the next page; absent when the listing is complete. */
  cursor?: string;
  /** `true` when no entry follows this page. A filtered page may be empty and still incomplete. */
  complete: boolean;
}

/** One item of `GET .../entries/{key}/history`: a revision with its operation; no `value` for tombstones. */
export interface WireHistoryItem extends WireEntry {
  /**
   * The write that made this revision: a `put`, a `delete` tombstone, or an `expire` by the sweeper
   * (a `purge` removes the history, so it is not listed).
   */
  operation: 'put' | 'delete' | 'purge' | 'expire';
}

/** Fields of a value written through JSON (bulk set, atomic set). `value` is base64 of the bytes. */
export interface WireWrite {
  /** The key (UTF-8, 1-512 bytes). */
  key: string;
  /** base64 (RFC 4648 section 4, padded) of the value bytes. */
  value: string;
  /** MIME type of the value. @default 'application/octet-stream' */
  contentType?: string;
  /** Time to live in milliseconds from the write; excludes `expiresAt`. */
  ttlMs?: number;
  /** ISO 8601 expiry time (in the future); excludes `ttlMs`. */
  expiresAt?: string;
  /** Metadata object, at most 1024 bytes as JSON. */
  metadata?: Record<string, unknown>;
  /** Scopes of the entry, at most 16. */
  scopes?: string[];
  /** The AntiRaid `resume` flag. @default false */
  resume?: boolean;
}

/** `POST .../bulk/get` body. */
export interface WireBulkGetBody {
  /** Keys to read, at most 10,000; a key given twice is answered twice. */
  keys: string[];
  /** `false` leaves `value` out of the items (metadata only). @default true */
  values?: boolean;
}
/** `POST .../bulk/get` response: one item per key, in request order. */
export interface WireBulkGetResponse {
  /** One item per requested key: the entry with `found: true`, or `{ key, found: false }`. */
  items: Array<(WireEntry & { found: true }) | { key: string; found: false }>;
}
/** `POST .../bulk/set` body. */
export interface WireBulkSetBody {
  /**
   * Writes, at most 10,000; each may be conditional: `ifNotExists` (write only if absent) or
   * `ifRevision` (write only if the entry is at that revision), not both.
   */
  items: Array<WireWrite & { ifNotExists?: boolean; ifRevision?: number }>;
}
/** `POST .../bulk/delete` body. */
export interface WireBulkDeleteBody {
  /** Keys to soft-delete, at most 10,000; a missing key is a no-op. */
  keys: string[];
}
/** `POST .../atomic` body (Deno KV atomic operation). */
export interface WireAtomicBody {
  /** Preconditions: each key must be at `revision`, or have no live entry when `revision` is `null`. */
  checks?: Array<{ key: string; revision: number | null }>;
  /**
   * Writes applied in order, all together, or none when a check fails; at most 10,000. `sum`, `min` and
   * `max` apply a safe integer to the key's integer value (Deno KV's numeric mutations; docs/protocol.md
   * "Counters").
   */
  mutations: Array<
    | (WireWrite & { type: 'set' })
    | { type: 'delete'; key: string }
    | { type: 'sum' | 'min' | 'max'; key: string; value: number }
  >;
}
/** `POST .../atomic` success response; a failed check is 412 `revision_mismatch` with `details.failedKeys`. */
export interface WireAtomicResponse {
  /** Always `true` (a failed commit is an error response). */
  ok: true;
  /** Revision of the last mutation; the store's current revision for a commit without mutations. */
  revision: number;
}
/** `DELETE .../entries/{key}` response (`?purge=true` purges). */
export interface WireDeleteResponse {
  /** `true` when something was deleted (a live entry; for a purge, a live entry or history). */
  deleted: boolean;
  /** Revision of the tombstone or purge; absent when nothing was deleted. */
  revision?: number;
}
/**
 * `POST .../entries/{key}/increment` body (docs/protocol.md "Counters"): adds `delta` to the key's
 * integer value atomically, creating the key at `delta` when it is missing.
 */
export interface WireIncrementBody {
  /** The safe integer to add (negative to subtract); 1 when absent. */
  delta?: number;
  /** A safe integer the value is first raised to (a missing key counts as it): `max(value, floor) + delta`. */
  floor?: number;
  /** Expiry to set, relative in ms (exclusive with `expiresAt`); neither: the entry's expiry is kept. */
  ttlMs?: number;
  /** Expiry to set, ISO 8601 in the future (exclusive with `ttlMs`). */
  expiresAt?: string;
  /** Metadata to set; absent: kept. */
  metadata?: Record<string, unknown>;
  /** Scopes to set; absent: kept. */
  scopes?: string[];
}
/** `POST .../entries/{key}/increment` response. */
export interface WireIncrementResponse {
  /** The integer the key holds after the increment. */
  value: number;
  /** Revision of the write. */
  revision: number;
}
/**
 * `POST /v1/stores/{store}/queue` body (docs/protocol.md "Queues"; Deno KV `enqueue` over the network).
 * The value travels as a bulk/set item's does: base64 bytes and a content type.
 */
export interface WireEnqueueBody {
  /** base64 (RFC 4648 section 4, padded) of the value bytes; at most 64 KiB decoded. */
  value: string;
  /** How `value` is written: only `base64`. @default 'base64' */
  encoding?: 'base64';
  /** MIME type of the value. @default 'application/octet-stream' */
  contentType?: string;
  /** Delay before the first delivery, in ms, 0 to 30 days. @default 0 */
  delayMs?: number;
  /** Keys the value is written to when delivery is given up (at most 10). @default [] */
  keysIfUndelivered?: string[];
  /** Delays before each redelivery, in ms (at most 5 steps of 0 to 3,600,000). @default [1000, 5000, 10000] */
  backoffScheduleMs?: number[];
}
/** `POST /v1/stores/{store}/queue` response (201). */
export interface WireEnqueueResponse {
  /** The message id. */
  id: string;
}
/** `POST /v1/stores/{store}/queue/lease` body. */
export interface WireLeaseBody {
  /** Most messages to lease, 1 to 100. @default 1 */
  limit?: number;
  /** How long the lease holds before the message may be delivered again, in ms (1,000 to 43,200,000). @default 30000 */
  visibilityTimeoutMs?: number;
  /** Long-poll: how long to wait for a due message when none is, in ms (0 to 30,000). @default 0 */
  waitMs?: number;
}
/** One leased message of {@link WireLeaseResponse}. */
export interface WireLeasedMessage {
  /** The message id. */
  id: string;
  /** The id of this lease: `ack`/`nack` need it. */
  leaseId: string;
  /** base64 of the value bytes. */
  value: string;
  /** How `value` is written: `base64`. */
  encoding: 'base64';
  /** MIME type of the value. */
  contentType: string;
  /** This delivery's number, 1 for the first. */
  attempt: number;
  /** When the message was enqueued, ISO 8601. */
  enqueuedAt: string;
  /** When this lease ends, ISO 8601 (the message may then be delivered again). */
  leaseExpiresAt: string;
}
/** `POST /v1/stores/{store}/queue/lease` response: the leased messages (may be empty). */
export interface WireLeaseResponse {
  /** The messages leased, in queue order. */
  messages: WireLeasedMessage[];
}
/** `POST .../queue/{id}/ack` body. */
export interface WireAckBody {
  /** The lease being acknowledged. */
  leaseId: string;
}
/** `POST .../queue/{id}/nack` body. */
export interface WireNackBody {
  /** The lease being given back. */
  leaseId: string;
  /** Why the handler failed (for logs; not stored). */
  error?: string;
}
/**
 * `POST .../queue/{id}/extend` body: keep holding a lease (SQS `ChangeMessageVisibility`). Held while the
 * message exists and `leaseId` is its lease, even just after the lease ended if no other lease took it.
 */
export interface WireExtendBody {
  /** The lease being extended. */
  leaseId: string;
  /** The new lease length from now, in ms (1,000 to 43,200,000, as a lease's). @default 30000 */
  visibilityTimeoutMs?: number;
}
/** `POST .../queue/{id}/extend` response. */
export interface WireExtendResponse {
  /** When the extended lease ends, ISO 8601 (as {@link WireLeasedMessage.leaseExpiresAt}). */
  leaseExpiresAt: string;
}
/** `GET /v1/stores/{store}/queue` response: the queue's counts now. */
export interface WireQueueStats {
  /** Messages that can be delivered now. */
  ready: number;
  /** Messages waiting for their delay or backoff step. */
  delayed: number;
  /** Messages leased to a listener whose lease has not ended. */
  inFlight: number;
}
/** `PUT .../entries/{key}/expiry` body and response. */
export interface WireSetExpiryBody {
  /** ISO 8601 time in the future to expire at, or `null` to never expire. */
  expiresAt: string | null;
}
/** @see WireSetExpiryBody */
export interface WireSetExpiryResponse {
  /** `true` when the key had a live entry (its expiry was changed); `false` when nothing was written. */
  existed: boolean;
  /** Revision of the expiry change; absent when the key had no live entry. */
  revision?: number;
}

/** `POST /v1/tokens` body. `expiresAt` is ISO 8601. */
export interface WireCreateTokenBody {
  /** Capability strings, e.g. `kv[orders]:get`, parsed strictly by the server. */
  capabilities: string[];
  /** ISO 8601 time in the future when the token stops working; `null` or absent = never. */
  expiresAt?: string | null;
  /** Free text to recognize the token by, at most 256 characters. */
  description?: string | null;
  /** At most `requests` requests per `perSeconds` seconds (docs/security.md "Rate limits"); `null` or absent = none. */
  rateLimit?: { requests: number; perSeconds: number } | null;
}
/** `DELETE /v1/tokens/{id}` response: false when no such unrevoked token exists. */
export interface WireRevokeTokenResponse {
  /** `true` when a live token was revoked by this request. */
  revoked: boolean;
}
/** `POST /v1/stores/{store}/signed-urls` body: a URL for one record, or for one page of the key listing. */
export type WireSignedUrlBody =
  | {
      /** A URL that reads one record (`GET` of the entry). */
      kind: 'record';
      /** The record's key. */
      key: string;
      /** Life of the URL in seconds: 1 to 604,800 (7 days). */
      expiresInSecs: number;
    }
  | {
      /** A URL that reads one page of the store's key listing, without values. */
      kind: 'keys';
      /** Only keys starting with this string. */
      prefix?: string;
      /** Page size, 1-1000. @default 100 */
      limit?: number;
      /** Life of the URL in seconds: 1 to 604,800 (7 days). */
      expiresInSecs: number;
    };
/**
 * `POST /v1/stores/{store}/signed-urls` response. `path` is the signed path and query as the server saw
 * them (without its origin): a client behind a proxy or a path prefix appends it to its own base URL.
 */
export interface WireSignedUrlResponse {
  /** The absolute signed URL, on the origin the request came to. */
  url: string;
  /** The signed path and query (starts with `/v1`), without the origin. */
  path: string;
  /** ISO 8601 UTC time (whole seconds) after which the URL is refused with 401. */
  expiresAt: string;
}
/** `POST /v1/stores/{store}/signing-secret` response: the store's URL-signing secret was replaced. */
export interface WireRotateSigningSecretResponse {
  /** Always `true`. */
  rotated: true;
}
