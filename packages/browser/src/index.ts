/**
 * `@kv/browser`: the kv client for browser bundles. `createClient` is `@kv/core`'s shared HTTP
 * client plus an optional IndexedDB cache (`idb`): read-through with conditional GETs, write-through,
 * live invalidation over watch, offline reads and an offline write queue replayed under `If-Match`. No
 * Node built-ins.
 *
 * @module
 */

export * from '@kv/core';
export type {
  CacheStats,
  KvCacheOptions,
  NewQueuedWrite,
  PutOptions,
  QueuedSetOptions,
  QueuedWrite,
  SettleResult,
  WriteBase,
} from './cache.js';
export { CACHE_DEFAULTS, KvCache } from './cache.js';
export type {
  BrowserCacheOptions,
  BrowserClient,
  BrowserClientOptions,
  FlushResult,
  ReplayFailure,
  WriteConflict,
} from './client.js';
export { createClient } from './client.js';
export type { CacheCounters } from './fetch.js';
export type { CacheRecord, NewCacheRecord } from './record.js';
export type { BrowserStoreHandle, CachedEntry, WriteResult } from './store.js';
