/**
 * Server-side token rate limits (docs/security.md "Rate limits"): a token created with
 * `rateLimit: { requests, perSeconds }` gets at most `requests` requests in each fixed window of
 * `perSeconds` seconds, the windows aligned to multiples of `perSeconds` since the Unix epoch (Upstash
 * Ratelimit's `fixedWindow`; Cloudflare's rate limiting rules count per period the same way). A request
 * beyond it is `429 rate_limited` with `Retry-After` (seconds to the window's end, rounded up). The
 * pipeline checks it right after the token is authenticated and before the body is read, so a refused
 * request costs one count and no body.
 *
 * The count lives in the token store when it implements {@link TokenStore.countRequest} (PostgreSQL: one
 * upsert per request, shared by every instance on the database), else in this process's memory
 * ({@link WindowCounter}: the memory storage and SQLite, one process).
 *
 * @module
 */
import { RateLimitedError, type TokenRateLimit } from '@kv/core/protocol';
import type { TokenStore } from './auth.js';

/** One token's current window in a {@link WindowCounter}. */
interface Window {
  /** Start of the window, epoch ms. */
  startMs: number;
  /** End of the window (exclusive), epoch ms. */
  endMs: number;
  /** Requests counted in it. */
  count: number;
}

/**
 * Request counts per token and fixed window, in this process's memory: the default of
 * {@link TokenStore.countRequest} for stores used by one process. One entry per token that made a limited
 * request; an entry is replaced when its token's next window starts, and entries of ended windows are
 * dropped whenever the map has doubled since the last sweep (so memory stays proportional to the tokens
 * active in their current window).
 */
export class WindowCounter {
  readonly #windows = new Map<string, Window>();
  /** Size of the map after the last sweep; the next sweep runs at twice this (at least 1,024). */
  #sweepAt = 1024;

  /**
   * Counts one request of `tokenId` in the window starting at `windowStartMs` and answers the count in
   * that window, this request included. A request for an earlier window than the one kept (a clock
   * stepped back) counts in the kept one.
   *
   * @param tokenId - the token's id
   * @param windowStartMs - start of the request's window, epoch ms (a multiple of `windowMs`)
   * @param windowMs - the window's length, in ms
   * @param nowMs - now, epoch ms (for the sweep of ended windows)
   */
  count(tokenId: string, windowStartMs: number, windowMs: number, nowMs: number): number {
    const known = this.#windows.get(tokenId);
    if (known !== undefined && known.startMs >= windowStartMs) return ++known.count;
    if (known !== undefined) {
      known.startMs = windowStartMs;
      known.endMs = windowStartMs + windowMs;
      known.count = 1;
      return 1;
    }
    if (this.#windows.size >= this.#sweepAt) this.sweep(nowMs);
    this.#windows.set(tokenId, { startMs: windowStartMs, endMs: windowStartMs + windowMs, count: 1 });
    return 1;
  }

  /** Drops the windows that ended at or before `nowMs`. */
  sweep(nowMs: number): void {
    for (const [id, w] of this.#windows) if (w.endMs <= nowMs) this.#windows.delete(id);
    this.#sweepAt = Math.max(1024, this.#windows.size * 2);
  }

  /** Tokens with a kept window (tests). */
  get size(): number {
    return this.#windows.size;
  }
}

/**
 * Counts a request of a rate-limited token and refuses it beyond the limit.
 *
 * @param tokens - the token store; its {@link TokenStore.countRequest} counts when it has one
 * @param counter - the in-process counter used otherwise
 * @param tokenId - the authenticated token's id
 * @param limit - its rate limit
 * @param nowMs - now, epoch ms (the engine's clock)
 * @throws {RateLimitedError} 429 `rate_limited` beyond the limit: `retryAfterMs` is the time to the
 *   window's end, `details: { retryAfterMs, limit, perSeconds, resetAt }` (`resetAt` ISO 8601)
 */
export async function enforceRateLimit(
  tokens: TokenStore,
  counter: WindowCounter,
  tokenId: string,
  limit: TokenRateLimit,
  nowMs: number,
): Promise<void> {
  const windowMs = limit.perSeconds * 1000;
  const startMs = nowMs - (((nowMs % windowMs) + windowMs) % windowMs);
  const count =
    tokens.countRequest !== undefined
      ? await tokens.countRequest(tokenId, startMs, windowMs)
      : counter.count(tokenId, startMs, windowMs, nowMs);
  if (count <= limit.requests) return;
  const resetMs = startMs + windowMs;
  const retryAfterMs = resetMs - nowMs;
  throw new RateLimitedError(
    `Rate limit of this token exceeded (${limit.requests} requests per ${limit.perSeconds} s)`,
    {
      retryAfterMs,
      details: {
        retryAfterMs,
        limit: limit.requests,
        perSeconds: limit.perSeconds,
        resetAt: new Date(resetMs).toISOString(),
      },
    },
  );
}

/**
 * The `Retry-After` value (RFC 9110 section 10.2.3, delay-seconds) for a wait of `retryAfterMs`: whole
 * seconds rounded up, at least 1.
 */
export function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
}
