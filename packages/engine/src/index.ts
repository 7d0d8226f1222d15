/**
 * `@kv/engine`: the kv protocol as one request pipeline (`createEngine`: `engine.handle` for plain
 * requests, `engine.fetch` for Web `Request`s) over the `Storage` interface, the commit rules every
 * storage is driven by (`applyCommit`, `commit`, `sweepExpired`), `MemoryStorage`, the zod schemas
 * behind `/openapi.json`, the watch stream, and access control (token stores, bearer authentication,
 * signed URLs).
 *
 * @module
 */
export {
  authenticate,
  type CreateTokenInput,
  createToken,
  type EnsureTokenInput,
  ensureToken,
  generateTokenSecret,
  hashToken,
  MemoryTokenStore,
  type Principal,
  type TokenRecord,
  type TokenStore,
  toTokenInfo,
} from './auth.js';
export { applyCommit, commit, IdempotencyRecordFound, sweepExpired } from './commit.js';
export * from './engine.js';
export { MemoryStorage, type MemoryStorageOptions } from './memory-storage.js';
export { enforceRateLimit, retryAfterSeconds, WindowCounter } from './rate-limit.js';
export * as schemas from './schemas.js';
export {
  isSignedUrl,
  SIGNED_EXPIRES_PARAM,
  SIGNED_SCOPES_PARAM,
  SIGNED_SIGNATURE_PARAM,
  signUrl,
  verifySignedUrl,
} from './signing.js';
export * from './storage.js';
