/**
 * zod schemas of every JSON body, query string and raw-body header set on the wire (docs/protocol.md).
 * The engine validates requests with them and generates `/openapi.json` from them
 * (`@asteasolutions/zod-to-openapi`);
 * they live in the engine (not core) so browser bundles that only call the API do not carry zod. Each
 * inferred type is checked against the matching interface in `@kv/core` (`schemas.test-d.ts`), so the two
 * cannot drift. Optional fields use `exactOptional()` so `z.infer` matches core's
 * `exactOptionalPropertyTypes` interfaces exactly.
 *
 * Semantic checks that need more than a shape (UTF-8 byte limits of keys and metadata, scope rules, store
 * names, ISO 8601 parsing) are done by `@kv/core`'s validators in the handlers, so clients and engine share
 * one implementation of each rule.
 *
 * @module
 */

import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { LIMITS } from '@kv/core';
import { z } from 'zod';

// `.openapi(...)` on zod schemas: OpenAPI names, descriptions and examples for /openapi.json.
extendZodWithOpenApi(z);

/** An ISO 8601 timestamp string, e.g. `2025-01-31T12:00:00.000Z`. */
export const Timestamp = z.string().openapi({ format: 'date-time', example: '2025-01-31T12:00:00.000Z' });

/** JSON metadata object, at most 1024 bytes serialized (Cloudflare per-key metadata). */
export const Metadata: z.ZodType<Record<string, unknown>, Record<string, unknown>> = z
  .record(z.string(), z.unknown())
  .openapi({ description: 'JSON object, at most 1024 bytes serialized', example: { owner: 'alice' } });

const Revision = z.number().int().nonnegative().openapi({ description: 'Per-store revision', example: 42 });

/** `POST /v1/stores` body (docs/protocol.md "Stores"). */
export const CreateStoreBody = z
  .strictObject({
    name: z.string().openapi({ description: '1-64 of a-z A-Z 0-9 - _', example: 'orders' }),
    history: z.number().int().min(LIMITS.minHistory).max(LIMITS.maxHistory).exactOptional(),
    defaultTtlMs: z.number().int().positive().nullable().exactOptional(),
    maxValueBytes: z.number().int().positive().exactOptional(),
  })
  .openapi('CreateStoreBody');
/** @see CreateStoreBody */
export type CreateStoreBody = z.infer<typeof CreateStoreBody>;

/** `PATCH /v1/stores/{store}` body: settings to change; omitted ones are unchanged. */
export const UpdateStoreBody = z
  .strictObject({
    history: z.number().int().min(LIMITS.minHistory).max(LIMITS.maxHistory).exactOptional(),
    defaultTtlMs: z.number().int().positive().nullable().exactOptional(),
    maxValueBytes: z.number().int().positive().exactOptional(),
  })
  .openapi('UpdateStoreBody');
/** @see UpdateStoreBody */
export type UpdateStoreBody = z.infer<typeof UpdateStoreBody>;

/** A store as returned by the store routes (`StoreInfo` in core). */
export const StoreInfoSchema = z
  .object({
    name: z.string(),
    history: z.number().int(),
    defaultTtlMs: z.number().int().nullable(),
    maxValueBytes: z.number().int(),
    revision: Revision,
    keyCount: z.number().int(),
    totalBytes: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('StoreInfo');

/** `GET /v1/stores` response. */
export const StoreListSchema = z.object({ items: z.array(StoreInfoSchema) }).openapi('StoreList');

/** `DELETE /v1/stores/{store}` response. */
export const DeleteStoreResultSchema = z
  .object({ deleted: z.boolean().openapi({ description: 'False when the store did not exist' }) })
  .openapi('DeleteStoreResult');

const entryMetaShape = {
  key: z.string(),
  id: z.string(),
  revision: Revision,
  contentType: z.string(),
  metadata: Metadata.nullable(),
  scopes: z.array(z.string()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  resume: z.boolean(),
  size: z.number().int().nonnegative(),
};

/** An entry's fields without value (`EntryMeta` in core). */
export const EntryMetaSchema = z.object(entryMetaShape).openapi('EntryMeta');

/** An entry on the wire (`WireEntry`): entry fields plus `value` (base64) when values were asked for. */
export const WireEntrySchema = z
  .object({ ...entryMetaShape, value: z.string().exactOptional().openapi({ format: 'byte' }) })
  .openapi('WireEntry');
/** @deprecated alias of {@link WireEntrySchema} kept for the first draft's name. */
export const WireListItemSchema = WireEntrySchema;
/** @see WireEntrySchema */
export type WireListItem = z.infer<typeof WireEntrySchema>;

/** `GET /v1/stores/{store}/entries` response (`WireListResponse`). */
export const ListResponseSchema = z
  .object({
    items: z.array(WireEntrySchema),
    cursor: z.string().exactOptional().openapi({ description: 'Pass back as `cursor` for the next page' }),
    complete: z.boolean().openapi({ description: 'True when the listed range is exhausted' }),
  })
  .openapi('ListResponse');
/** @see ListResponseSchema */
export type WireListResponse = z.infer<typeof ListResponseSchema>;

/** A history record (`WireHistoryItem`): entry fields, `operation`, and `value` (base64) except for tombstones. */
export const WireHistoryItemSchema = z
  .object({
    ...entryMetaShape,
    value: z.string().exactOptional().openapi({ format: 'byte' }),
    operation: z.enum(['put', 'delete', 'purge', 'expire']),
  })
  .openapi('HistoryItem');
/** @see WireHistoryItemSchema */
export type WireHistoryItem = z.infer<typeof WireHistoryItemSchema>;

/** `GET .../entries/{key}/history` response: newest first. */
export const HistoryResponseSchema = z.object({ items: z.array(WireHistoryItemSchema) }).openapi('History');

/** `PUT .../entries/{key}` response: the write result (`SetResult`). */
export const SetResultSchema = z
  .object({
    id: z.string(),
    revision: Revision,
    created: z.boolean().openapi({ description: 'True when this call created the key' }),
  })
  .openapi('SetResult');

/** `DELETE .../entries/{key}` response (`WireDeleteResponse`). `?purge=true` purges instead. */
export const DeleteResultSchema = z
  .object({
    deleted: z.boolean(),
    revision: Revision.exactOptional(),
  })
  .openapi('DeleteResult');

/** A JSON number that is a safe integer (`Number.isSafeInteger`). */
const SafeInteger = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** `POST .../entries/{key}/increment` body (`WireIncrementBody`; docs/protocol.md "Counters"). */
export const IncrementBody = z
  .strictObject({
    delta: SafeInteger.exactOptional().openapi({
      description: 'Added to the value; negative subtracts',
      default: 1,
    }),
    floor: SafeInteger.exactOptional().openapi({
      description:
        'The value is first raised to this (a missing key counts as it): max(value, floor) + delta',
    }),
    ttlMs: z.number().int().positive().exactOptional(),
    expiresAt: Timestamp.exactOptional(),
    metadata: Metadata.exactOptional(),
    scopes: z.array(z.string()).exactOptional(),
  })
  .openapi('IncrementBody');

/** `POST .../entries/{key}/increment` response (`WireIncrementResponse`). */
export const IncrementResultSchema = z
  .object({ value: SafeInteger, revision: Revision })
  .openapi('IncrementResult');

/** `PUT .../entries/{key}/expiry` body (`WireSetExpiryBody`; AntiRaid `setexpiry`). */
export const SetExpiryBody = z.strictObject({ expiresAt: Timestamp.nullable() }).openapi('SetExpiryBody');
/** `PUT .../entries/{key}/expiry` response: whether the key existed (`WireSetExpiryResponse`). */
export const SetExpiryResultSchema = z
  .object({
    existed: z.boolean(),
    revision: Revision.exactOptional(),
  })
  .openapi('SetExpiryResult');

/** `GET /v1/stores/{store}/scopes` response (AntiRaid `list_scopes`). */
export const ScopesResponseSchema = z.object({ items: z.array(z.string()) }).openapi('Scopes');

const writeFieldsShape = {
  key: z.string(),
  value: z.string().openapi({ description: 'base64 of the value bytes', format: 'byte' }),
  contentType: z.string().exactOptional(),
  ttlMs: z.number().int().positive().exactOptional(),
  expiresAt: Timestamp.exactOptional(),
  metadata: Metadata.exactOptional(),
  scopes: z.array(z.string()).exactOptional(),
  resume: z.boolean().exactOptional(),
};

/** Fields of a value written through JSON (bulk set, atomic set; `WireWrite`). `value` is base64. */
export const WireWriteFields = z.strictObject(writeFieldsShape);

/** `POST .../bulk/get` body (`WireBulkGetBody`; Cloudflare bulk get). `values` defaults to true. */
export const BulkGetBody = z
  .strictObject({
    keys: z.array(z.string()).max(LIMITS.maxBulkItems),
    values: z.boolean().exactOptional().openapi({ description: 'Include values (base64)', default: true }),
  })
  .openapi('BulkGetBody');

/** `POST .../bulk/get` response: one item per requested key, in order; missing keys have `found: false`. */
export const BulkGetResponseSchema = z
  .object({
    items: z.array(
      z.union([
        z.object({ ...entryMetaShape, value: z.string().exactOptional(), found: z.literal(true) }),
        z.object({ key: z.string(), found: z.literal(false) }),
      ]),
    ),
  })
  .openapi('BulkGetResponse');

/** `POST .../bulk/set` body (`WireBulkSetBody`): items with optional per-item `ifNotExists`/`ifRevision`. */
export const BulkSetBody = z
  .strictObject({
    items: z
      .array(
        z.strictObject({
          ...writeFieldsShape,
          ifNotExists: z.boolean().exactOptional(),
          ifRevision: z.number().int().nonnegative().exactOptional(),
        }),
      )
      .max(LIMITS.maxBulkItems),
  })
  .openapi('BulkSetBody');
/** @see BulkSetBody */
export type BulkSetBody = z.infer<typeof BulkSetBody>;

/** `POST .../bulk/delete` body (`WireBulkDeleteBody`). */
export const BulkDeleteBody = z
  .strictObject({ keys: z.array(z.string()).max(LIMITS.maxBulkItems) })
  .openapi('BulkDeleteBody');

/** Bulk write response (`BulkResult`; Cloudflare `successful_key_count` / `unsuccessful_keys`). */
export const BulkResultSchema = z
  .object({
    results: z.array(
      z.object({
        key: z.string(),
        ok: z.boolean(),
        id: z.string().exactOptional(),
        revision: Revision.exactOptional(),
        created: z.boolean().exactOptional(),
        error: z.string().exactOptional(),
        message: z.string().exactOptional(),
      }),
    ),
    successfulKeyCount: z.number().int(),
    unsuccessfulKeys: z.array(z.string()),
  })
  .openapi('BulkResult');

/** `POST .../atomic` body (`WireAtomicBody`; Deno KV atomic operation). */
export const AtomicBody = z
  .strictObject({
    checks: z
      .array(
        z.strictObject({
          key: z.string(),
          revision: z
            .number()
            .int()
            .nonnegative()
            .nullable()
            .openapi({ description: 'Expected revision; null = the key must be absent' }),
        }),
      )
      .max(LIMITS.maxBulkItems)
      .exactOptional(),
    mutations: z
      .array(
        z.discriminatedUnion('type', [
          z.strictObject({ ...writeFieldsShape, type: z.literal('set') }),
          z.strictObject({ type: z.literal('delete'), key: z.string() }),
          z.strictObject({
            type: z.enum(['sum', 'min', 'max']),
            key: z.string(),
            value: SafeInteger.openapi({
              description: 'Operand: added (sum), or the lower/upper bound (min/max)',
            }),
          }),
        ]),
      )
      .max(LIMITS.maxBulkItems),
  })
  .openapi('AtomicBody');
/** @see AtomicBody */
export type AtomicBody = z.infer<typeof AtomicBody>;

/** `POST .../atomic` success response. A failed check is a 412 `revision_mismatch` with `details.failedKeys`. */
export const AtomicResultSchema = z
  .object({ ok: z.literal(true), revision: Revision })
  .openapi('AtomicResult');

// ---------------------------------------------------------------------------------------------------
// Queues (docs/protocol.md "Queues")

/** `POST /v1/stores/{store}/queue` body (`WireEnqueueBody`): the value as a bulk/set item carries it. */
export const EnqueueBody = z
  .strictObject({
    value: writeFieldsShape.value,
    encoding: z
      .literal('base64')
      .exactOptional()
      .openapi({ description: 'How value is written', default: 'base64' }),
    contentType: writeFieldsShape.contentType,
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.maxQueueDelayMs)
      .exactOptional()
      .openapi({ description: 'Delay before the first delivery, ms (at most 30 days)', default: 0 }),
    keysIfUndelivered: z
      .array(z.string())
      .max(LIMITS.maxKeysIfUndelivered)
      .exactOptional()
      .openapi({ description: 'Keys the value is written to when delivery is given up' }),
    backoffScheduleMs: z
      .array(z.number().int().min(0).max(LIMITS.maxBackoffStepMs))
      .max(LIMITS.maxBackoffSteps)
      .exactOptional()
      .openapi({ description: 'Delays before each redelivery, ms', default: [1000, 5000, 10000] }),
  })
  .openapi('EnqueueBody');

/** `POST /v1/stores/{store}/queue` response (`WireEnqueueResponse`). */
export const EnqueueResultSchema = z.object({ id: z.string() }).openapi('EnqueueResult');

/** `POST /v1/stores/{store}/queue/lease` body (`WireLeaseBody`). */
export const LeaseBody = z
  .strictObject({
    limit: z.number().int().min(1).max(LIMITS.maxLeaseLimit).exactOptional().openapi({ default: 1 }),
    visibilityTimeoutMs: z
      .number()
      .int()
      .min(LIMITS.minVisibilityTimeoutMs)
      .max(LIMITS.maxVisibilityTimeoutMs)
      .exactOptional()
      .openapi({ description: 'Lease length, ms', default: 30000 }),
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.maxLeaseWaitMs)
      .exactOptional()
      .openapi({ description: 'Long-poll: wait this long for a due message, ms', default: 0 }),
  })
  .openapi('LeaseBody');

/** `POST /v1/stores/{store}/queue/lease` response (`WireLeaseResponse`). */
export const LeaseResultSchema = z
  .object({
    messages: z.array(
      z.object({
        id: z.string(),
        leaseId: z.string(),
        value: z.string().openapi({ description: 'base64 of the value bytes', format: 'byte' }),
        encoding: z.literal('base64'),
        contentType: z.string(),
        attempt: z.number().int().positive(),
        enqueuedAt: Timestamp,
        leaseExpiresAt: Timestamp,
      }),
    ),
  })
  .openapi('LeaseResult');

/** `POST .../queue/{id}/ack` body (`WireAckBody`). */
export const AckBody = z.strictObject({ leaseId: z.string().min(1).max(256) }).openapi('AckBody');

/** `POST .../queue/{id}/nack` body (`WireNackBody`). */
export const NackBody = z
  .strictObject({
    leaseId: z.string().min(1).max(256),
    error: z
      .string()
      .max(4096)
      .exactOptional()
      .openapi({ description: 'Why the handler failed (not stored)' }),
  })
  .openapi('NackBody');

/** `POST .../queue/{id}/extend` body (`WireExtendBody`). */
export const ExtendBody = z
  .strictObject({
    leaseId: z.string().min(1).max(256),
    visibilityTimeoutMs: z
      .number()
      .int()
      .min(LIMITS.minVisibilityTimeoutMs)
      .max(LIMITS.maxVisibilityTimeoutMs)
      .exactOptional()
      .openapi({ description: 'New lease length from now, ms', default: 30000 }),
  })
  .openapi('ExtendBody');

/** `POST .../queue/{id}/extend` response (`WireExtendResponse`). */
export const ExtendResultSchema = z.object({ leaseExpiresAt: Timestamp }).openapi('ExtendResult');

/** `GET /v1/stores/{store}/queue` response (`WireQueueStats`). */
export const QueueStatsSchema = z
  .object({ ready: z.number().int(), delayed: z.number().int(), inFlight: z.number().int() })
  .openapi('QueueStats');

/** Error body (`WireError`): `{ error: { code, message, details? } }`. */
export const WireErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_error' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).exactOptional(),
    }),
  })
  .openapi('Error');

// ---------------------------------------------------------------------------------------------------
// Access control

const CapabilityString = z.string().openapi({
  description:
    'AntiRaid form: kv:<action>, kv[<store>]:<action>, kv[<store>:<scope>]:<action>, kv.meta:<list_scopes|keys|id_ops>, kv.admin:<stores|tokens>, with * wildcards; * alone is everything',
  example: 'kv[orders:billing]:get',
});

/** A token's rate limit (`TokenRateLimit`, docs/security.md "Rate limits"). */
export const TokenRateLimitSchema = z
  .strictObject({
    requests: z.number().int().min(1).max(LIMITS.maxRateLimitRequests).openapi({ example: 100 }),
    perSeconds: z
      .number()
      .int()
      .min(1)
      .max(LIMITS.maxRateLimitPerSeconds)
      .openapi({ description: 'The window, in seconds (aligned to the Unix epoch)', example: 60 }),
  })
  .openapi('TokenRateLimit');

/** `POST /v1/tokens` body (`WireCreateTokenBody`). Capabilities are parsed strictly by the handler. */
export const CreateTokenBody = z
  .strictObject({
    capabilities: z.array(CapabilityString).min(1).max(256),
    expiresAt: Timestamp.nullable()
      .exactOptional()
      .openapi({ description: 'When the token stops working (future); null or absent: never' }),
    description: z.string().max(256).nullable().exactOptional(),
    rateLimit: TokenRateLimitSchema.nullable()
      .exactOptional()
      .openapi({ description: 'Requests allowed per window (429 beyond it); null or absent: no limit' }),
  })
  .openapi('CreateTokenBody');
/** @see CreateTokenBody */
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

/** A token as listed (`TokenInfo`): never its secret. */
export const TokenInfoSchema = z
  .object({
    id: z.string().openapi({ example: 'tok_3f0c...' }),
    capabilities: z.array(z.string()),
    description: z.string().nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    rateLimit: TokenRateLimitSchema.nullable(),
  })
  .openapi('TokenInfo');

/** `POST /v1/tokens` response (`CreatedToken`): the token with its secret, shown once. */
export const CreatedTokenSchema = TokenInfoSchema.extend({
  token: z.string().openapi({ description: 'The bearer secret; only its hash is kept' }),
}).openapi('CreatedToken');

/** `GET /v1/tokens` response. */
export const TokenListSchema = z.object({ items: z.array(TokenInfoSchema) }).openapi('TokenList');

/** `DELETE /v1/tokens/{id}` response (`WireRevokeTokenResponse`). */
export const RevokeTokenResultSchema = z
  .object({ revoked: z.boolean().openapi({ description: 'False when no such unrevoked token exists' }) })
  .openapi('RevokeTokenResult');

const ExpiresInSecs = z
  .number()
  .int()
  .min(1)
  .max(LIMITS.maxSignedUrlExpiresInSecs)
  .openapi({ description: 'Life of the URL in seconds, at most 7 days', example: 3600 });

/** `POST /v1/stores/{store}/signed-urls` body (`WireSignedUrlBody`). */
export const SignedUrlBody = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z
        .literal('record')
        .openapi({ description: 'A URL reading one entry (Apify getRecordPublicUrl)' }),
      key: z.string(),
      expiresInSecs: ExpiresInSecs,
    }),
    z.strictObject({
      kind: z.literal('keys').openapi({
        description: 'A URL listing one page of keys, without values (Apify createKeysPublicUrl)',
      }),
      prefix: z.string().exactOptional(),
      limit: z.number().int().min(1).max(LIMITS.maxListLimit).exactOptional(),
      expiresInSecs: ExpiresInSecs,
    }),
  ])
  .openapi('SignedUrlBody');
/** @see SignedUrlBody */
export type SignedUrlBody = z.infer<typeof SignedUrlBody>;

/** `POST /v1/stores/{store}/signed-urls` response (`WireSignedUrlResponse`). */
export const SignedUrlResultSchema = z
  .object({
    url: z.string().openapi({ description: 'Absolute URL, on the origin the request was sent to' }),
    path: z.string().openapi({ description: 'The signed path and query, to append to a client base URL' }),
    expiresAt: Timestamp,
  })
  .openapi('SignedUrl');

/** `POST /v1/stores/{store}/signing-secret` response. */
export const RotateSigningSecretResultSchema = z
  .object({ rotated: z.literal(true) })
  .openapi('RotateSigningSecretResult');

/** `GET /healthz` response. */
export const HealthSchema = z.object({ ok: z.literal(true) }).openapi('Health');

// ---------------------------------------------------------------------------------------------------
// Path parameters, query strings and headers

/** `{store}` path parameter. */
export const StoreParam = z
  .string()
  .openapi({ param: { name: 'store', in: 'path' }, description: 'Store name', example: 'orders' });
/** `{key}` path parameter: one percent-encoded segment (`encodeURIComponent`). */
export const KeyParam = z.string().openapi({
  param: { name: 'key', in: 'path' },
  description: 'The key, percent-encoded as one path segment (encodeURIComponent); 1-512 UTF-8 bytes',
  example: 'user.123',
});
/** `{id}` path parameter. */
export const IdParam = z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'Entry id' });

/** `{store}` params object. */
export const StoreParams = z.object({ store: StoreParam });
/** `{store}/{key}` params object. */
export const EntryParams = z.object({ store: StoreParam, key: KeyParam });
/** `{store}/{id}` params object. */
export const IdParams = z.object({ store: StoreParam, id: IdParam });
/** `{store}/{id}` params of a queue message route. */
export const MessageParams = z.object({
  store: StoreParam,
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'Message id' }),
});

/** `/v1/tokens/{id}` params object. */
export const TokenParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'Token id', example: 'tok_3f0c' }),
});

const BoolString = z.enum(['true', 'false']);

/** `GET .../entries` query (`ListOptions`). */
export const ListQuery = z.object({
  prefix: z.string().exactOptional().openapi({ description: 'Only keys starting with this string' }),
  match: z
    .string()
    .exactOptional()
    .openapi({ description: 'NATS wildcard on `.` tokens (`*`, `>`)', example: 'user.*' }),
  like: z
    .string()
    .exactOptional()
    .openapi({ description: 'SQL LIKE pattern (`%`, `_`, `\\` escapes, `%%` = all)', example: 'user%' }),
  scope: z.string().exactOptional().openapi({ description: 'Only entries in this scope' }),
  startAfter: z.string().exactOptional().openapi({ description: 'Exclusive start key (Apify)' }),
  limit: z
    .string()
    .regex(/^\d{1,7}$/, 'limit must be an integer')
    .exactOptional()
    .openapi({ description: `Page size, 1-${LIMITS.maxListLimit}`, example: '100', default: '100' }),
  cursor: z.string().exactOptional().openapi({ description: 'Cursor from the previous page' }),
  reverse: BoolString.exactOptional().openapi({ description: 'Descending key order', default: 'false' }),
  values: BoolString.exactOptional().openapi({ description: 'Include values (base64)', default: 'false' }),
});
/** @see ListQuery */
export type ListQuery = z.infer<typeof ListQuery>;

/** `GET .../history` query. */
export const HistoryQuery = z.object({
  values: BoolString.exactOptional().openapi({
    description: 'Include values of puts (base64)',
    default: 'true',
  }),
});

/** `DELETE .../entries/{key}` query. */
export const DeleteQuery = z.object({
  purge: BoolString.exactOptional().openapi({
    description: 'true: remove the key and its whole history (Ironflow purge)',
    default: 'false',
  }),
});

const RevisionEtag = z.string().openapi({ example: '"42"' });

/** Headers of `PUT .../entries/{key}` (raw body). Validated for shape here, for meaning by core. */
export const PutEntryHeaders = z.object({
  'Kv-Ttl-Ms': z
    .string()
    .regex(/^\d{1,16}$/, 'Kv-Ttl-Ms must be a positive integer')
    .exactOptional()
    .openapi({
      description: 'Time to live in ms (exclusive with Kv-Expires-At), 1 to 3155760000000 (100 years)',
      example: '60000',
    }),
  'Kv-Expires-At': z
    .string()
    .exactOptional()
    .openapi({ description: 'ISO 8601 absolute expiry, in the future, at most 9999-12-31T23:59:59.999Z' }),
  'Kv-Metadata': z
    .string()
    .exactOptional()
    .openapi({ description: 'JSON object, percent-encoded (encodeURIComponent), at most 1024 bytes' }),
  'Kv-Scopes': z
    .string()
    .exactOptional()
    .openapi({ description: 'Scopes, each percent-encoded, joined with ","; at most 16' }),
  'Kv-Resume': BoolString.exactOptional().openapi({ description: 'AntiRaid resume flag' }),
  'Kv-If-Not-Exists': BoolString.exactOptional().openapi({
    description: 'true: write only if the key is absent, else 200 {created:false} and nothing written',
  }),
  'If-None-Match': z
    .literal('*')
    .exactOptional()
    .openapi({ description: '*: create only, else 412 key_exists' }),
  'If-Match': RevisionEtag.exactOptional().openapi({
    description: '"<revision>": compare-and-swap, else 412 revision_mismatch',
  }),
  'Idempotency-Key': z.string().exactOptional().openapi({ description: 'Makes the write safe to retry' }),
});

/** Headers of conditional reads (`GET`/`HEAD` entry and by id). */
export const ReadHeaders = z.object({
  'If-None-Match': z.string().exactOptional().openapi({ description: '"<revision>": 304 when unchanged' }),
});

/** Headers of `DELETE .../entries/{key}`. */
export const DeleteHeaders = z.object({
  'If-Match': RevisionEtag.exactOptional().openapi({
    description: '"<revision>": delete only at this revision',
  }),
  'Idempotency-Key': z.string().exactOptional(),
});

/** Header accepted by every JSON write. */
export const IdempotencyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .exactOptional()
    .openapi({ description: 'Makes the write safe to retry (10 minutes)', example: 'b2f0c1d4-retry-1' }),
});
