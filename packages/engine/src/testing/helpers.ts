/**
 * Builders shared by the storage suite's tests.
 *
 * @module
 */
import type { JsonObject, StoreConfig } from '@kv/core';
import { commit, sweepExpired } from '../commit.js';
import type { Mutation, MutationResult, PutOp, Storage } from '../storage.js';

/** The suite's base time, epoch ms (2023-11-14T22:13:20Z). */
export const T0 = 1_700_000_000_000;

/** Store settings used unless a test says otherwise. */
export function storeConfig(patch: Partial<StoreConfig> = {}): StoreConfig {
  return { history: 1, defaultTtlMs: null, maxValueBytes: 1024 * 1024, ...patch };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A string from UTF-8 bytes. */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

let idSeq = 0;

/** Optional fields of {@link putOp}. */
export interface PutFields {
  contentType?: string;
  metadata?: JsonObject | null;
  scopes?: string[];
  expiresAt?: number | null;
  resume?: boolean;
  newId?: string;
  precondition?: PutOp['precondition'];
}

/** A put with defaults: `text/plain`, no metadata, no scopes, no expiry, a fresh `newId`. */
export function putOp(key: string, value: string | Uint8Array, fields: PutFields = {}): PutOp {
  const op: PutOp = {
    type: 'put',
    key,
    value: typeof value === 'string' ? utf8(value) : value,
    contentType: fields.contentType ?? 'text/plain',
    metadata: fields.metadata ?? null,
    scopes: fields.scopes ?? [],
    expiresAt: fields.expiresAt ?? null,
    resume: fields.resume ?? false,
    newId: fields.newId ?? `id-${++idSeq}`,
  };
  if (fields.precondition !== undefined) op.precondition = fields.precondition;
  return op;
}

/** Runs an each-mode commit at `nowMs` and returns its results (fails the test on `ok: false`). */
export async function write(
  storage: Storage,
  store: string,
  mutations: Mutation[],
  nowMs: number = T0,
): Promise<MutationResult[]> {
  const result = await commit(storage, store, { mode: 'each', mutations, nowMs });
  if (!result.ok) throw new Error(`each-mode commit returned ok: false (${result.failedKeys.join(', ')})`);
  return result.results;
}

/** One round of the engine's expiry sweep over `storage` (`sweepExpired` in `commit.ts`): how many it expired. */
export async function sweep(storage: Storage, nowMs: number, limit: number): Promise<number> {
  return (await sweepExpired(storage, nowMs, limit)).expired;
}

/** Keys of a list of entries. */
export function keysOf(entries: ReadonlyArray<{ key: string }>): string[] {
  return entries.map((entry) => entry.key);
}
