/**
 * `@kv/browser`: the kv client for browser bundles, with an IndexedDB cache (`idb`), live invalidation
 * over watch, and an offline write queue. No Node built-ins.
 *
 * @module
 */

export type {
  CacheStats,
  KvCacheOptions,
  NewQueuedWrite,
  QueuedSetOptions,
  QueuedWrite,
  SettleResult,
  WriteBase,
} from './cache.js';
export { CACHE_DEFAULTS, KvCache } from './cache.js';
export type { CacheRecord, NewCacheRecord } from './record.js';
