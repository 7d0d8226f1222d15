/**
 * Limits of docs/protocol.md "Conventions" and "Limits" and the seeds (Alien and Cloudflare: 512-byte keys; Cloudflare:
 * 1024-byte metadata, 10,000-item bulk calls). All byte limits count UTF-8 bytes, not string length.
 *
 * @module
 */

/** Limits enforced by the engine and checked early by clients. */
export const LIMITS: {
  readonly maxKeyBytes: 512;
  readonly maxStoreNameLength: 64;
  readonly maxMetadataBytes: 1024;
  readonly maxScopes: 16;
  readonly maxScopeLength: 64;
  readonly defaultMaxValueBytes: number;
  readonly defaultListLimit: 100;
  readonly maxListLimit: 1000;
  readonly maxBulkItems: 10000;
  readonly minHistory: 1;
  readonly maxHistory: 64;
  readonly idempotencyTtlMs: number;
  readonly maxIdempotencyKeyLength: 255;
  readonly maxSignedUrlExpiresInSecs: 604800;
  readonly maxTtlMs: number;
  readonly maxExpiresAtMs: 253402300799999;
  readonly maxQueueValueBytes: 65536;
  readonly maxQueueDelayMs: 2592000000;
  readonly maxKeysIfUndelivered: 10;
  readonly maxBackoffSteps: 5;
  readonly maxBackoffStepMs: 3600000;
  readonly minVisibilityTimeoutMs: 1000;
  readonly maxVisibilityTimeoutMs: 43200000;
  readonly maxLeaseLimit: 100;
  readonly maxLeaseWaitMs: 30000;
  readonly maxRateLimitRequests: 1000000;
  readonly maxRateLimitPerSeconds: 86400;
} = {
  /** Longest key, in UTF-8 bytes (Alien, Cloudflare). */
  maxKeyBytes: 512,
  /** Longest store name, in characters of `a-z A-Z 0-9 - _`. */
  maxStoreNameLength: 64,
  /** Largest metadata object, in bytes of its JSON serialization (Cloudflare). */
  maxMetadataBytes: 1024,
  /** Most scopes on one entry (AntiRaid). */
  maxScopes: 16,
  /** Longest scope, in characters. */
  maxScopeLength: 64,
  /** Default store `maxValueBytes`: 25 MiB (Cloudflare's value limit). */
  defaultMaxValueBytes: 25 * 1024 * 1024,
  /** Default list page size. */
  defaultListLimit: 100,
  /** Largest list page. */
  maxListLimit: 1000,
  /** Most items in one bulk call or atomic commit (Cloudflare bulk). */
  maxBulkItems: 10_000,
  /** Smallest and largest store `history` depth (NATS KV allows 1-64). */
  minHistory: 1,
  /** @see minHistory */
  maxHistory: 64,
  /** How long an `Idempotency-Key` is remembered, in ms (10 minutes). */
  idempotencyTtlMs: 10 * 60 * 1000,
  /** Longest `Idempotency-Key` header, in characters. */
  maxIdempotencyKeyLength: 255,
  /** Longest life of a signed URL, in seconds (7 days, like S3 presigned URLs). */
  maxSignedUrlExpiresInSecs: 604_800,
  /**
   * Longest time to live, in ms: 100 Julian years (365.25 days each), 3,155,760,000,000 ms. Applies to
   * `ttlMs` / `Kv-Ttl-Ms` and to a store's `defaultTtlMs`, so that `now + ttl` is always a valid
   * JavaScript `Date` (at most 8.64e15 ms from the epoch, ECMA-262 21.4.1.1) with a wide margin
   * (docs/security.md "Limits against hostile clients").
   */
  maxTtlMs: 100 * 365.25 * 24 * 60 * 60 * 1000,
  /**
   * Latest absolute expiry, in ms from the epoch: 9999-12-31T23:59:59.999Z, the last instant whose
   * ISO 8601 form still has a four-digit year (RFC 3339 section 5.6 `date-fullyear`). Applies to
   * `expiresAt` / `Kv-Expires-At` and to `now + ttl`; readers show a later expiry found on disk as this
   * time (docs/security.md "Limits against hostile clients").
   */
  maxExpiresAtMs: 253_402_300_799_999,
  /** Largest queue message value, in bytes (64 KiB, Deno KV's `enqueue` limit; a store's `maxValueBytes` may lower it). */
  maxQueueValueBytes: 65_536,
  /** Longest `delayMs` of an enqueue: 30 days (Deno KV's), in ms. */
  maxQueueDelayMs: 2_592_000_000,
  /** Most `keysIfUndelivered` of one message (Deno KV's limit). */
  maxKeysIfUndelivered: 10,
  /** Most steps of a `backoffScheduleMs` (Deno KV's limit). */
  maxBackoffSteps: 5,
  /** Longest step of a `backoffScheduleMs`, in ms (1 hour, Deno KV's limit). */
  maxBackoffStepMs: 3_600_000,
  /** Shortest lease (`visibilityTimeoutMs`) of a queue delivery, in ms. */
  minVisibilityTimeoutMs: 1000,
  /** Longest lease (`visibilityTimeoutMs`) of a queue delivery, in ms (12 hours, as Amazon SQS). */
  maxVisibilityTimeoutMs: 43_200_000,
  /** Most messages one lease request delivers. */
  maxLeaseLimit: 100,
  /** Longest long-poll (`waitMs`) of a lease request, in ms. */
  maxLeaseWaitMs: 30_000,
  /** Most requests a token's `rateLimit` may allow per window (docs/security.md "Rate limits"). */
  maxRateLimitRequests: 1_000_000,
  /** Longest window of a token's `rateLimit`, in seconds: one day (docs/security.md "Rate limits"). */
  maxRateLimitPerSeconds: 86_400,
} as const;
