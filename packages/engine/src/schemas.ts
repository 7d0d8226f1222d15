/**
 * zod schemas of every JSON body on the wire (docs/protocol.md). The engine validates requests with
 * them and generates `/openapi.json` from them; they live in the engine (not core) so
 * browser bundles that only call the API do not carry zod. Each inferred type is checked against the
 * matching interface in `@kv/core` (`schemas.test-d.ts`), so the two cannot drift.
 *
 * @module
 */

import { LIMITS } from '@kv/core';
import { z } from 'zod';

/** An ISO 8601 timestamp string. */
export const Timestamp: z.ZodString = z.string().describe('ISO 8601 timestamp');

/** JSON metadata object (validated for size by the engine). */
export const Metadata: z.ZodType<Record<string, unknown>> = z.record(z.string(), z.unknown());

/** `POST /v1/stores` body. */
export const CreateStoreBody = z.strictObject({
  name: z.string(),
  history: z.number().int().min(LIMITS.minHistory).max(LIMITS.maxHistory).optional(),
  defaultTtlMs: z.number().int().positive().nullable().optional(),
  maxValueBytes: z.number().int().positive().optional(),
});
/** @see CreateStoreBody */
export type CreateStoreBody = z.infer<typeof CreateStoreBody>;

/** `PATCH /v1/stores/{store}` body. */
export const UpdateStoreBody = CreateStoreBody.omit({ name: true });
/** @see UpdateStoreBody */
export type UpdateStoreBody = z.infer<typeof UpdateStoreBody>;

/** A store as returned by the store routes (`StoreInfo`). */
export const StoreInfoSchema = z.object({
  name: z.string(),
  history: z.number().int(),
  defaultTtlMs: z.number().int().nullable(),
  maxValueBytes: z.number().int(),
  revision: z.number().int(),
  keyCount: z.number().int(),
  totalBytes: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** `GET /v1/stores` response. */
export const StoreListSchema = z.object({ items: z.array(StoreInfoSchema) });

/** An entry's fields without value (`EntryMeta`). */
export const EntryMetaSchema = z.object({
  key: z.string(),
  id: z.string(),
  revision: z.number().int(),
  contentType: z.string(),
  metadata: Metadata.nullable(),
  scopes: z.array(z.string()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  resume: z.boolean(),
  size: z.number().int(),
});

/** A listing item: entry fields plus `value` (base64) when `values=true`. */
export const WireListItemSchema = EntryMetaSchema.extend({ value: z.string().optional() });
/** @see WireListItemSchema */
export type WireListItem = z.infer<typeof WireListItemSchema>;

/** `GET /v1/stores/{store}/entries` response. */
export const ListResponseSchema = z.object({
  items: z.array(WireListItemSchema),
  cursor: z.string().optional(),
  complete: z.boolean(),
});
/** @see ListResponseSchema */
export type WireListResponse = z.infer<typeof ListResponseSchema>;

/** A history record: entry fields, `operation`, and `value` (base64) except for tombstones. */
export const WireHistoryItemSchema = EntryMetaSchema.extend({
  operation: z.enum(['put', 'delete', 'purge', 'expire']),
  value: z.string().optional(),
});
/** @see WireHistoryItemSchema */
export type WireHistoryItem = z.infer<typeof WireHistoryItemSchema>;

/** `GET .../entries/{key}/history` response. */
export const HistoryResponseSchema = z.object({ items: z.array(WireHistoryItemSchema) });

/** `PUT`/`DELETE` entry and bulk responses: the write result. */
export const SetResultSchema = z.object({ id: z.string(), revision: z.number().int(), created: z.boolean() });

/** `DELETE .../entries/{key}` response. `?purge=true` purges instead. */
export const DeleteResultSchema = z.object({
  deleted: z.boolean(),
  revision: z.number().int().optional(),
});

/** `PUT .../entries/{key}/expiry` body. */
export const SetExpiryBody = z.strictObject({ expiresAt: Timestamp.nullable() });
/** `PUT .../entries/{key}/expiry` response: whether the key existed. */
export const SetExpiryResultSchema = z.object({
  existed: z.boolean(),
  revision: z.number().int().optional(),
});

/** `GET /v1/stores/{store}/scopes` response. */
export const ScopesResponseSchema = z.object({ items: z.array(z.string()) });

/** Fields of a value written through JSON (bulk set, atomic set). `value` is base64 of the bytes. */
export const WireWriteFields = z.strictObject({
  key: z.string(),
  value: z.string().describe('base64 of the value bytes'),
  contentType: z.string().optional(),
  ttlMs: z.number().int().positive().optional(),
  expiresAt: Timestamp.optional(),
  metadata: Metadata.optional(),
  scopes: z.array(z.string()).optional(),
  resume: z.boolean().optional(),
});

/** `POST .../bulk/get` body. */
export const BulkGetBody = z.strictObject({
  keys: z.array(z.string()).max(LIMITS.maxBulkItems),
  values: z.boolean().optional(),
});
/** `POST .../bulk/get` response: one item per requested key, in order; missing keys have `found: false`. */
export const BulkGetResponseSchema = z.object({
  items: z.array(
    z.union([
      WireListItemSchema.extend({ found: z.literal(true) }),
      z.object({ key: z.string(), found: z.literal(false) }),
    ]),
  ),
});

/** `POST .../bulk/set` body: items with optional per-item `ifNotExists`/`ifRevision`. */
export const BulkSetBody = z.strictObject({
  items: z
    .array(
      WireWriteFields.extend({
        ifNotExists: z.boolean().optional(),
        ifRevision: z.number().int().nonnegative().optional(),
      }),
    )
    .max(LIMITS.maxBulkItems),
});
/** @see BulkSetBody */
export type BulkSetBody = z.infer<typeof BulkSetBody>;

/** `POST .../bulk/delete` body. */
export const BulkDeleteBody = z.strictObject({ keys: z.array(z.string()).max(LIMITS.maxBulkItems) });

/** Bulk write response (`BulkResult`). */
export const BulkResultSchema = z.object({
  results: z.array(
    z.object({
      key: z.string(),
      ok: z.boolean(),
      id: z.string().optional(),
      revision: z.number().int().optional(),
      created: z.boolean().optional(),
      error: z.string().optional(),
      message: z.string().optional(),
    }),
  ),
  successfulKeyCount: z.number().int(),
  unsuccessfulKeys: z.array(z.string()),
});

/** `POST .../atomic` body (Deno KV atomic operation). */
export const AtomicBody = z.strictObject({
  checks: z
    .array(z.strictObject({ key: z.string(), revision: z.number().int().nonnegative().nullable() }))
    .max(LIMITS.maxBulkItems)
    .default([]),
  mutations: z
    .array(
      z.discriminatedUnion('type', [
        WireWriteFields.extend({ type: z.literal('set') }),
        z.strictObject({ type: z.literal('delete'), key: z.string() }),
      ]),
    )
    .max(LIMITS.maxBulkItems),
});
/** @see AtomicBody */
export type AtomicBody = z.infer<typeof AtomicBody>;

/** `POST .../atomic` success response. A failed check is a 412 `revision_mismatch` with `details.failedKeys`. */
export const AtomicResultSchema = z.object({ ok: z.literal(true), revision: z.number().int() });

/** Error body (`WireError`). */
export const WireErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
