/**
 * The `tokens` table row shared by `SqliteTokenStore` and `PostgresTokenStore` (both schemas have the
 * same columns), its conversion to the engine's `TokenRecord` and back, and the cache of found records
 * by hash that both stores keep (docs/security.md "Tokens").
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { TokenRecord } from '@kv/engine';

/** A row of the `tokens` table (SQLite migrations 2 and 4, PostgreSQL migrations 1 and 2). */
export interface TokenRow {
  id: string;
  hash: string;
  /** JSON array of capability strings. */
  capabilities: string;
  description: string | null;
  /** Epoch ms. */
  created_at: number;
  /** Epoch ms, or null. */
  expires_at: number | null;
  /** Epoch ms, or null. */
  revoked_at: number | null;
  /** Requests per window, or null for no limit (absent in a row read before the migration added it). */
  rate_limit_requests?: number | null;
  /** The window, in seconds, or null for no limit. */
  rate_limit_per_seconds?: number | null;
}

/**
 * The engine's record of a row. Damaged capabilities grant nothing (fail closed); a rate limit is read
 * only when both its columns hold positive integers.
 */
export function tokenFromRow(row: TokenRow): TokenRecord {
  let capabilities: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.capabilities);
    if (Array.isArray(parsed)) capabilities = parsed.filter((c): c is string => typeof c === 'string');
  } catch {
    // A damaged row grants nothing (fail closed).
  }
  const requests = row.rate_limit_requests;
  const perSeconds = row.rate_limit_per_seconds;
  return {
    id: row.id,
    hash: row.hash,
    capabilities,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    rateLimit:
      typeof requests === 'number' && typeof perSeconds === 'number' && requests > 0 && perSeconds > 0
        ? { requests, perSeconds }
        : null,
  };
}

/**
 * The values of an `INSERT INTO tokens (id, hash, capabilities, description, created_at, expires_at,
 * revoked_at, rate_limit_requests, rate_limit_per_seconds)`, in that order.
 */
export function tokenRowValues(
  record: TokenRecord,
): [
  string,
  string,
  string,
  string | null,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
] {
  return [
    record.id,
    record.hash,
    JSON.stringify(record.capabilities),
    record.description,
    record.createdAt,
    record.expiresAt,
    record.revokedAt,
    record.rateLimit?.requests ?? null,
    record.rateLimit?.perSeconds ?? null,
  ];
}

/** The column list matching {@link tokenRowValues}. */
export const TOKEN_COLUMNS =
  'id, hash, capabilities, description, created_at, expires_at, revoked_at, rate_limit_requests, rate_limit_per_seconds';

/**
 * Found token records by hash, at most `limit` (emptied when it would grow past it); unknown hashes are
 * never kept. What makes an entry stale is the owner's business: it calls {@link TokenCache.clear}.
 */
export class TokenCache {
  readonly #records = new Map<string, TokenRecord>();
  readonly #limit: number;

  /** @param limit - most records kept */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The record cached for `hash`, if any. */
  get(hash: string): TokenRecord | undefined {
    return this.#records.get(hash);
  }

  /** Keeps `record` under `hash`, emptying the cache first when it is full. */
  set(hash: string, record: TokenRecord): void {
    if (this.#records.size >= this.#limit) this.#records.clear();
    this.#records.set(hash, record);
  }

  /** Forgets every record. */
  clear(): void {
    this.#records.clear();
  }

  /**
   * The live-or-not record whose hash is `hash`: from the cache, else from `load` (kept when `keep()`
   * still holds after it, i.e. no change was seen while it ran). Returned only if its stored hash equals
   * `hash` under {@link hashesEqual}, so the final comparison takes the same time whichever byte differs.
   *
   * @param hash - the presented secret's SHA-256, lower-case hex
   * @param load - reads the row by hash (one index probe)
   * @param keep - whether the loaded record may be cached
   */
  async find(
    hash: string,
    load: (hash: string) => TokenRow | undefined | Promise<TokenRow | undefined>,
    keep: () => boolean = () => true,
  ): Promise<TokenRecord | undefined> {
    let record = this.#records.get(hash);
    if (record === undefined) {
      const row = await load(hash);
      if (row === undefined) return undefined;
      record = tokenFromRow(row);
      if (keep()) this.set(hash, record);
    }
    return hashesEqual(record.hash, hash) ? record : undefined;
  }
}

/**
 * Whether two token hashes (lower-case hex SHA-256) are equal, in time that depends only on their length
 * (`crypto.timingSafeEqual` over the bytes of the hex strings; strings of different lengths are unequal).
 */
export function hashesEqual(stored: string, presented: string): boolean {
  const a = Buffer.from(stored, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
