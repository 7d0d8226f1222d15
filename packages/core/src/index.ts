/**
 * `@kv/core`: the platform-neutral heart of kv. This root export is the user API: the types, the error
 * classes, the limits, the key rules and the shared HTTP client that `@kv/node` and `@kv/browser` wrap
 * and re-export. The protocol machinery the engine, the mock and the runtime packages share (route table,
 * header codecs, capability grammar, patterns, encodings, SSE) is `@kv/core/protocol`.
 *
 * It imports no Node built-ins and no DOM-only APIs, and performs no I/O of its own (the client uses an
 * injected or global `fetch`).
 *
 * @module
 */

export type { AdminAction, KvAction, MetaAction } from './capabilities.js';
export { CLIENT_DEFAULTS, createHttpClient } from './client/index.js';
export {
  type KVNamespace,
  type KVNamespaceGetOptions,
  type KVNamespaceGetWithMetadataResult,
  type KVNamespaceListKey,
  type KVNamespaceListOptions,
  type KVNamespaceListResult,
  type KVNamespacePutOptions,
  type KVNamespaceSource,
  type KVNamespaceValueType,
  toKVNamespace,
} from './client/kv-namespace.js';
export {
  createRateLimiter,
  type RateLimitAlgorithm,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
  type TokenBucketLimiterOptions,
  type WindowLimiterOptions,
} from './client/rate-limit.js';
export type * from './client/types.js';
export {
  ConfigurationError,
  ERROR_CODES,
  isKvError,
  KeyExistsError,
  KvError,
  type KvErrorCode,
  type KvErrorOptions,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  RevisionCompactedError,
  RevisionMismatchError,
  ServerError,
  StoreNotFoundError,
  TimeoutError,
  UnauthenticatedError,
  UnauthorizedError,
  ValidationError,
  type WireError,
} from './errors.js';
export { LIMITS } from './limits.js';
export type * from './types.js';
export { compareKeys, isValidKey, validateKey, validateStoreName } from './validation.js';
export type { WatchCallbacks, WatchSubscription, WatchSubscriptionOptions } from './watcher.js';
