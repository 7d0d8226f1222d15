/**
 * A client-side rate limiter on the store's counters (docs/protocol.md "Counters"; the algorithms of
 * `@upstash/ratelimit`): each `limit(identifier)` is one `increment` of a per-window counter key (plus,
 * for the sliding window, a read of the previous window's counter sent at the same time), so many clients
 * of one store share the limit with no lock and no compare-and-swap loop. Windows are aligned to
 * multiples of `windowMs` since the Unix epoch on the calling client's clock, and each counter expires
 * after its window (the sliding window's one window later, since the next window reads it).
 *
 * @module
 */
import { ValidationError } from '../errors.js';
import { validateKey } from '../validation.js';
import type { StoreHandle } from './types.js';

/** The algorithms of {@link createRateLimiter}. */
export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Calls allowed per window and identifier: an integer from 1. */
  limit: number;
  /** The window, in ms: an integer from 1 to 30 days. */
  windowMs: number;
  /**
   * `fixed-window` (default): at most `limit` calls in each window; a burst of up to `2 * limit` can
   * straddle a boundary. `sliding-window`: the previous window's count, weighted by how much of it still
   * overlaps the last `windowMs`, counts too (Upstash's approximation; smooths the boundary).
   * @default 'fixed-window'
   */
  algorithm?: RateLimitAlgorithm;
  /** Prefix of the counter keys (`<prefix>:<identifier>:<window>`). @default 'ratelimit' */
  prefix?: string;
  /** The clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** The answer of {@link RateLimiter.limit}. */
export interface RateLimitResult {
  /** Whether this call is within the limit. */
  success: boolean;
  /** The limit (calls per window). */
  limit: number;
  /** Calls left in the current window after this one (0 when refused). */
  remaining: number;
  /** When the current window ends, epoch ms. */
  resetAt: number;
}

/** A rate limiter made by {@link createRateLimiter}. */
export interface RateLimiter {
  /**
   * Counts one call for `identifier` (a user id, an IP address, an API key) and answers whether it is
   * within the limit. A refused call counts too, as in `@upstash/ratelimit`'s windows.
   *
   * @throws {ValidationError} when `<prefix>:<identifier>:<window>` is not a valid key
   * @throws {KvError} any failure of the increment (network, auth: it needs `set`, and `get` for the
   *   sliding window)
   */
  limit(identifier: string): Promise<RateLimitResult>;
}

const MAX_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Makes a rate limiter over `store`'s counters.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter(kv.store('limits'), { limit: 10, windowMs: 1_000 });
 * const { success, remaining, resetAt } = await limiter.limit(`user:${userId}`);
 * if (!success) return new Response('Too many requests', { status: 429 });
 * ```
 * @throws {ValidationError} for a `limit`, `windowMs` or `algorithm` out of range
 */
export function createRateLimiter(store: StoreHandle, options: RateLimiterOptions): RateLimiter {
  const { limit, windowMs } = options;
  const algorithm = options.algorithm ?? 'fixed-window';
  const prefix = options.prefix ?? 'ratelimit';
  const now = options.now ?? Date.now;
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
  if (algorithm !== 'fixed-window' && algorithm !== 'sliding-window') {
    throw new ValidationError('`algorithm` must be fixed-window or sliding-window', {
      details: { field: 'algorithm', reason: 'invalid_value' },
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
