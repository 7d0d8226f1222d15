/**
 * The wire schemas the engine validates with (zod) must describe exactly the wire interfaces of
 * `@kv/core` that clients compile against (docs/architecture.md "zod lives in the engine, not core").
 * Request bodies compare the schema's input type (what a client sends); responses compare its output.
 */
import type {
  BulkResult,
  CreatedToken,
  SetResult,
  StoreInfo,
  TokenInfo,
  WireAckBody,
  WireAtomicBody,
  WireAtomicResponse,
  WireBulkDeleteBody,
  WireBulkGetBody,
  WireBulkGetResponse,
  WireBulkSetBody,
  WireCreateTokenBody,
  WireDeleteResponse,
  WireEnqueueBody,
  WireEnqueueResponse,
  WireEntry,
  WireError,
  WireHistoryItem,
  WireLeaseBody,
  WireLeaseResponse,
  WireListResponse,
  WireNackBody,
  WireQueueStats,
  WireRevokeTokenResponse,
  WireRotateSigningSecretResponse,
  WireSetExpiryBody,
  WireSetExpiryResponse,
  WireSignedUrlBody,
  WireSignedUrlResponse,
  WireWrite,
} from '@kv/core/protocol';
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type * as S from './schemas.js';

/** Flattens an intersection into one object type. */
type Flat<T> = { [K in keyof T]: T[K] };

describe('zod schemas match core wire interfaces', () => {
  it('entries and listings', () => {
    expectTypeOf<z.infer<typeof S.WireEntrySchema>>().toEqualTypeOf<WireEntry>();
    expectTypeOf<z.infer<typeof S.ListResponseSchema>>().toEqualTypeOf<WireListResponse>();
    expectTypeOf<z.infer<typeof S.WireHistoryItemSchema>>().toEqualTypeOf<WireHistoryItem>();
    // Unions are compared member by member (the core side spells members as intersections).
    type Item = z.infer<typeof S.BulkGetResponseSchema>['items'][number];
    type CoreItem = WireBulkGetResponse['items'][number];
    expectTypeOf<Extract<Item, { found: true }>>().toEqualTypeOf<Flat<Extract<CoreItem, { found: true }>>>();
    expectTypeOf<Extract<Item, { found: false }>>().toEqualTypeOf<Extract<CoreItem, { found: false }>>();
    expectTypeOf<Item>().toExtend<CoreItem>();
    expectTypeOf<CoreItem>().toExtend<Item>();
  });

  it('write results', () => {
    expectTypeOf<z.infer<typeof S.SetResultSchema>>().toEqualTypeOf<SetResult>();
    expectTypeOf<z.infer<typeof S.DeleteResultSchema>>().toEqualTypeOf<WireDeleteResponse>();
    expectTypeOf<z.infer<typeof S.SetExpiryResultSchema>>().toEqualTypeOf<WireSetExpiryResponse>();
    expectTypeOf<z.infer<typeof S.BulkResultSchema>>().toEqualTypeOf<BulkResult>();
    expectTypeOf<z.infer<typeof S.AtomicResultSchema>>().toEqualTypeOf<WireAtomicResponse>();
    expectTypeOf<z.infer<typeof S.StoreInfoSchema>>().toEqualTypeOf<StoreInfo>();
  });

  it('request bodies', () => {
    expectTypeOf<z.input<typeof S.WireWriteFields>>().toEqualTypeOf<WireWrite>();
    expectTypeOf<z.input<typeof S.BulkGetBody>>().toEqualTypeOf<WireBulkGetBody>();
    expectTypeOf<z.input<typeof S.BulkSetBody>['items'][number]>().toEqualTypeOf<
      Flat<WireBulkSetBody['items'][number]>
    >();
    expectTypeOf<z.input<typeof S.BulkSetBody>>().toExtend<WireBulkSetBody>();
    expectTypeOf<WireBulkSetBody>().toExtend<z.input<typeof S.BulkSetBody>>();
    expectTypeOf<z.input<typeof S.BulkDeleteBody>>().toEqualTypeOf<WireBulkDeleteBody>();
    type Body = z.input<typeof S.AtomicBody>;
    type Mut = Body['mutations'][number];
    type CoreMut = WireAtomicBody['mutations'][number];
    expectTypeOf<NonNullable<Body['checks']>>().toEqualTypeOf<NonNullable<WireAtomicBody['checks']>>();
    expectTypeOf<Extract<Mut, { type: 'set' }>>().toEqualTypeOf<Flat<Extract<CoreMut, { type: 'set' }>>>();
    expectTypeOf<Extract<Mut, { type: 'delete' }>>().toEqualTypeOf<Extract<CoreMut, { type: 'delete' }>>();
    expectTypeOf<Body>().toExtend<WireAtomicBody>();
    expectTypeOf<WireAtomicBody>().toExtend<Body>();
    expectTypeOf<z.input<typeof S.SetExpiryBody>>().toEqualTypeOf<WireSetExpiryBody>();
  });

  it('access control (issue 7)', () => {
    expectTypeOf<z.input<typeof S.CreateTokenBody>>().toEqualTypeOf<WireCreateTokenBody>();
    expectTypeOf<z.infer<typeof S.TokenInfoSchema>>().toEqualTypeOf<TokenInfo>();
    expectTypeOf<z.infer<typeof S.CreatedTokenSchema>>().toEqualTypeOf<Flat<CreatedToken>>();
    expectTypeOf<z.infer<typeof S.RevokeTokenResultSchema>>().toEqualTypeOf<WireRevokeTokenResponse>();
    type Body = z.input<typeof S.SignedUrlBody>;
    expectTypeOf<Extract<Body, { kind: 'record' }>>().toEqualTypeOf<
      Extract<WireSignedUrlBody, { kind: 'record' }>
    >();
    expectTypeOf<Extract<Body, { kind: 'keys' }>>().toEqualTypeOf<
      Extract<WireSignedUrlBody, { kind: 'keys' }>
    >();
    expectTypeOf<z.infer<typeof S.SignedUrlResultSchema>>().toEqualTypeOf<WireSignedUrlResponse>();
    expectTypeOf<
      z.infer<typeof S.RotateSigningSecretResultSchema>
    >().toEqualTypeOf<WireRotateSigningSecretResponse>();
  });

  it('queues', () => {
    expectTypeOf<z.input<typeof S.EnqueueBody>>().toEqualTypeOf<WireEnqueueBody>();
    expectTypeOf<z.infer<typeof S.EnqueueResultSchema>>().toEqualTypeOf<WireEnqueueResponse>();
    expectTypeOf<z.input<typeof S.LeaseBody>>().toEqualTypeOf<WireLeaseBody>();
    expectTypeOf<z.infer<typeof S.LeaseResultSchema>>().toEqualTypeOf<WireLeaseResponse>();
    expectTypeOf<z.input<typeof S.AckBody>>().toEqualTypeOf<WireAckBody>();
    expectTypeOf<z.input<typeof S.NackBody>>().toEqualTypeOf<WireNackBody>();
    expectTypeOf<z.infer<typeof S.QueueStatsSchema>>().toEqualTypeOf<WireQueueStats>();
  });

  it('errors', () => {
    // The schema's code is a plain string; core narrows known codes but accepts any string too.
    expectTypeOf<z.infer<typeof S.WireErrorSchema>>().toExtend<WireError>();
    expectTypeOf<WireError>().toExtend<z.infer<typeof S.WireErrorSchema>>();
  });
});
