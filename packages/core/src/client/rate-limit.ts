/**
 * A client-side rate limiter on the store's counters (docs/protocol.md "Counters"; the algorithms of
 * `@upstash/ratelimit`): each `limit(identifier)` is one `increment` (plus, for the sliding window, a read
 * of the previous window's counter sent at the same time), so many clients of one store share the limit
 * with no lock and no compare-and-swap loop.
 *
 * - Fixed and sliding windows: a counter key per window, windows aligned to multiples of `windowMs` since
 *   the Unix epoch on the calling client's clock; each counter expires after its window (the sliding
 *   window's one window later, since the next window reads it).
 * - Token bucket: a GCRA (the generic cell rate algorithm of ITU-T I.371, as in Cloudflare's and
 *   `redis-cell`'s limiters) keeping one key per identifier, the bucket's "theoretical arrival time"
 *   (TAT), raised to now and advanced by one emission interval in one `increment` with `floor`
 *   (`max(tat, now) + interval`, one commit on the server). A call is allowed when the new TAT is at most
 *   `maxTokens` intervals ahead of now. A refused call has advanced the TAT too: it is given back by a
 *   second `increment` of minus one interval, sent without waiting (the answer is already known), so a
 *   refused call costs nothing once that lands; until then concurrent calls see the bucket as emptier
 *   than it is (never fuller), so the limit is never exceeded.
 *
 * @module
 */
import { ValidationError } from '../errors.js';
import { validateKey } from '../validation.js';
import type { StoreHandle } from './types.js';

/** The algorithms of {@link createRateLimiter}. */
export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window' | 'token-bucket';

/** Options every limiter of {@link createRateLimiter} takes. */
interface CommonLimiterOptions {
  /** Prefix of the counter keys (`<prefix>:<identifier>:<window>`, `<prefix>:<identifier>:bucket`). @default 'ratelimit' */
  prefix?: string;
  /** The clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** Options of {@link createRateLimiter} by `limit` per `windowMs` (every algorithm). */
export interface WindowLimiterOptions extends CommonLimiterOptions {
  /** Calls allowed per window and identifier: an integer from 1. */
  limit: number;
  /** The window, in ms: an integer from 1 to 30 days. */
  windowMs: number;
  /**
   * `fixed-window` (default): at most `limit` calls in each window; a burst of up to `2 * limit` can
   * straddle a boundary. `sliding-window`: the previous window's count, weighted by how much of it still
   * overlaps the last `windowMs`, counts too (Upstash's approximation; smooths the boundary).
   * `token-bucket`: a bucket of `limit` tokens refilled at `limit` per `windowMs` (one every
   * `windowMs / limit`), each call taking one: bursts of at most `limit`, then a steady rate.
   * @default 'fixed-window'
   */
  algorithm?: RateLimitAlgorithm;
}

/**
 * Options of a token bucket in `@upstash/ratelimit`'s terms (`Ratelimit.tokenBucket(refillRate,
 * interval, maxTokens)`): `refillRate` tokens are added every `intervalMs`, up to `maxTokens`.
 */
export interface TokenBucketLimiterOptions extends CommonLimiterOptions {
  /** The algorithm. */
  algorithm: 'token-bucket';
  /** Tokens added per `intervalMs`, evenly (one every `intervalMs / refillRate` ms): an integer from 1 to 10,000. */
  refillRate: number;
  /** The refill interval, in ms: an integer from 1 to 30 days. */
  intervalMs: number;
  /** Size of the bucket, the largest burst (a new bucket is full): an integer from 1 to 1,000,000. */
  maxTokens: number;
}

/**
 * Options of {@link createRateLimiter}: `limit` per `windowMs` with any algorithm, or a token bucket's
 * `refillRate`/`intervalMs`/`maxTokens`.
 */
export type RateLimiterOptions = WindowLimiterOptions | TokenBucketLimiterOptions;

/** The answer of {@link RateLimiter.limit}. */
export interface RateLimitResult {
  /** Whether this call is within the limit. */
  success: boolean;
  /** The limit (calls per window; a token bucket's `maxTokens`). */
  limit: number;
  /** Calls left in the current window after this one (a token bucket: whole tokens left); 0 when refused. */
  remaining: number;
  /**
   * Epoch ms: when the current window ends; for a token bucket, when its next token is added (a refused
   * call can succeed from then on).
   */
  resetAt: number;
}

/** A rate limiter made by {@link createRateLimiter}. */
export interface RateLimiter {
  /**
   * Counts one call for `identifier` (a user id, an IP address, an API key) and answers whether it is
   * within the limit. A refused call counts too in the windows, as in `@upstash/ratelimit`'s; a token
   * bucket gives it back (see the module's description).
   *
   * @throws {ValidationError} when `<prefix>:<identifier>:<window>` is not a valid key
   * @throws {KvError} any failure of the increment (network, auth: it needs `set`, and `get` for the
   *   sliding window); a token bucket's key holding something else than its integer is a `ValidationError`
   */
  limit(identifier: string): Promise<RateLimitResult>;
}

const MAX_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;
/** Token bucket times are kept in units of `1 / refillRate` ms since this instant (2024-01-01), so they stay integers. */
const BUCKET_EPOCH_MS = Date.UTC(2024, 0, 1);
const MAX_REFILL_RATE = 10_000;
const MAX_TOKENS = 1_000_000;

function checkRange(value: unknown, field: string, max: number, text: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ValidationError(`\`${field}\` must be an integer from 1 ${text}`, {
      details: { field, reason: 'out_of_range' },
    });
  }
  return value;
}

/**
 * Makes a rate limiter over `store`'s counters.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter(kv.store('limits'), { limit: 10, windowMs: 1_000 });
 * const { success, remaining, resetAt } = await limiter.limit(`user:${userId}`);
 * if (!success) return new Response('Too many requests', { status: 429 });
 * // Bursts of 20, then 5 per second (Upstash's tokenBucket(5, '1 s', 20)):
 * const bucket = createRateLimiter(kv.store('limits'), {
 *   algorithm: 'token-bucket', refillRate: 5, intervalMs: 1_000, maxTokens: 20,
 * });
 * ```
 * @throws {ValidationError} for a `limit`, `windowMs`, `refillRate`, `intervalMs`, `maxTokens` or
 *   `algorithm` out of range
 */
export function createRateLimiter(store: StoreHandle, options: RateLimiterOptions): RateLimiter {
  const algorithm = options.algorithm ?? 'fixed-window';
  const prefix = options.prefix ?? 'ratelimit';
  const now = options.now ?? Date.now;
  if (algorithm !== 'fixed-window' && algorithm !== 'sliding-window' && algorithm !== 'token-bucket') {
    throw new ValidationError('`algorithm` must be fixed-window, sliding-window or token-bucket', {
      details: { field: 'algorithm', reason: 'invalid_value' },
    });
  }
  if (algorithm === 'token-bucket' && !('limit' in options && options.limit !== undefined)) {
    const bucket = options as TokenBucketLimiterOptions;
    return tokenBucket(store, {
      refillRate: checkRange(bucket.refillRate, 'refillRate', MAX_REFILL_RATE, 'to 10,000'),
      intervalMs: checkRange(bucket.intervalMs, 'intervalMs', MAX_WINDOW_MS, 'to 30 days'),
      maxTokens: checkRange(bucket.maxTokens, 'maxTokens', MAX_TOKENS, 'to 1,000,000'),
      prefix,
      now,
    });
  }
  const { limit, windowMs } = options as WindowLimiterOptions;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError('`limit` must be an integer from 1', {
      details: { field: 'limit', reason: 'out_of_range' },
    });
  }
  if (!Number.isSafeInteger(windowMs) || windowMs < 1 || windowMs > MAX_WINDOW_MS) {
    throw new ValidationError('`windowMs` must be an integer from 1 to 30 days', {
      details: { field: 'windowMs', reason: 'out_of_range' },
    });
  }
  if (algorithm === 'token-bucket') {
    return tokenBucket(store, {
      refillRate: checkRange(limit, 'limit', MAX_REFILL_RATE, 'to 10,000 for a token bucket'),
      intervalMs: windowMs,
      maxTokens: limit,
      prefix,
      now,
    });
  }
  const keyOf = (identifier: string, window: number): string =>
    validateKey(`${prefix}:${identifier}:${window}`);

  return {
    async limit(identifier) {
      const at = now();
      const window = Math.floor(at / windowMs);
      const resetAt = (window + 1) * windowMs;
      const key = keyOf(identifier, window);
      // The counter outlives its window by one window when the next one reads it (sliding).
      const expiresAt = resetAt + (algorithm === 'sliding-window' ? windowMs : 0);
      if (algorithm === 'fixed-window') {
        const { value } = await store.increment(key, 1, { expiresAt });
        return result(value, limit, resetAt);
      }
      const [{ value }, previous] = await Promise.all([
        store.increment(key, 1, { expiresAt }),
        store.get(keyOf(identifier, window - 1)),
      ]);
      const previousCount = typeof previous === 'number' ? previous : 0;
      const overlap = 1 - (at - window * windowMs) / windowMs;
      return result(Math.floor(previousCount * overlap) + value, limit, resetAt);
    },
  };
}

function result(count: number, limit: number, resetAt: number): RateLimitResult {
  const success = count <= limit;
  return { success, limit, remaining: success ? limit - count : 0, resetAt };
}

/**
 * The token bucket as a GCRA (see the module's description). Times are integers in units of
 * `1 / refillRate` ms since {@link BUCKET_EPOCH_MS}, so one emission interval is `intervalMs` units and
 * the bucket spans `maxTokens * intervalMs` units.
 */
function tokenBucket(
  store: StoreHandle,
  o: { refillRate: number; intervalMs: number; maxTokens: number; prefix: string; now: () => number },
): RateLimiter {
  const { refillRate, intervalMs: interval, maxTokens } = o;
  const span = maxTokens * interval;
  /** Epoch ms of a time in bucket units, rounded up. */
  const toMs = (units: number): number => BUCKET_EPOCH_MS + Math.ceil(units / refillRate);
  return {
    async limit(identifier) {
      const key = validateKey(`${o.prefix}:${identifier}:bucket`);
      const at = o.now();
      const nowUnits = (at - BUCKET_EPOCH_MS) * refillRate;
      if (!Number.isSafeInteger(nowUnits + 2 * span + interval)) {
        throw new ValidationError('The clock is too far from 2024 for this refillRate and bucket size', {
          details: { field: 'refillRate', reason: 'out_of_range' },
        });
      }
      // Kept one interval past the time the bucket is full again: by then a missing key is the same state.
      const expiresAt = toMs(nowUnits + span + interval);
      const { value: tat } = await store.increment(key, interval, { floor: nowUnits, expiresAt });
      if (tat - nowUnits <= span) {
        const remaining = Math.floor((nowUnits + span - tat) / interval);
        return {
          success: true,
          limit: maxTokens,
          remaining,
          resetAt: toMs(tat - span + (remaining + 1) * interval),
        };
      }
      // Refused: give the interval back, without waiting (the answer does not depend on it). A failure
      // leaves the bucket emptier than it should be, never fuller.
      store.increment(key, -interval, { expiresAt }).catch(() => {});
      return { success: false, limit: maxTokens, remaining: 0, resetAt: toMs(tat - span) };
    },
  };
}
