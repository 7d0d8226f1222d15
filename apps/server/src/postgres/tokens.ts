/**
 * The engine's `TokenStore` on PostgreSQL, shared by every instance on the database.
 *
 * @module
 */
import type { TokenRecord, TokenStore } from '@kv/engine';
import type pg from 'pg';
import { TOKEN_COLUMNS, TokenCache, type TokenRow, tokenFromRow, tokenRowValues } from '../token-rows.js';
import { mapPgError } from './errors.js';

/** Options of {@link PostgresTokenStore}. */
export interface PostgresTokenStoreOptions {
  /**
   * Longest time a cached token record is trusted without asking the database whether any token changed,
   * in ms: a revocation made through any instance is seen by every instance within this time.
   * @default 500
   */
  maxStalenessMs?: number;
  /**
   * Clock, epoch ms (tests).
   * @default Date.now
   */
  now?: () => number;
  /**
   * Shortest time between two deletions of ended rate-limit windows (`token_request_counts`) by this
   * instance, in ms; the deletion runs after a request's count, never in its way.
   * @default 60000
   */
  countCleanupIntervalMs?: number;
}

/**
 * {@link TokenStore} in the `tokens` table of a PostgreSQL database migrated by `PostgresStorage`: one
 * row per token with the SHA-256 of its secret (never the secret), capabilities as a JSON array,
 * description, creation, expiry and revocation times (epoch ms); revoked and expired rows are kept (the
 * engine refuses them). A found record is accepted only if its hash equals the presented one under
 * `crypto.timingSafeEqual` (as `SqliteTokenStore` does).
 *
 * Found records are cached in memory by hash (at most {@link PostgresTokenStore.CACHE_LIMIT}; unknown
 * hashes are never cached), so most requests cost no query. Every insert and revocation, on any
 * instance, bumps `token_version` in the same transaction; an instance checks that version at most every
 * `maxStalenessMs` (one tiny query, shared by the requests arriving meanwhile) and empties its cache when
 * it moved, so a token revoked through any instance is refused everywhere within `maxStalenessMs`.
 *
 * The requests of rate-limited tokens are counted in the database ({@link PostgresTokenStore.countRequest}),
 * so the limit holds across every instance (docs/security.md "Rate limits").
 */
export class PostgresTokenStore implements TokenStore {
  /** Most token records kept in memory; the cache is emptied when it would grow past this. */
  static readonly CACHE_LIMIT = 4096;

  readonly #pool: pg.Pool;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;
  readonly #cache = new TokenCache(PostgresTokenStore.CACHE_LIMIT);
  readonly #countCleanupIntervalMs: number;
  #cleanedAt: number;
  #cleaning: Promise<void> | undefined;
  /** `token_version` the cache is valid for; -1 = never read. */
  #version = -1;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #checking: Promise<void> | undefined;

  /**
   * @param pool - the pool of `PostgresStorage` (`storage.pool`), on a migrated database
   * @param options - see {@link PostgresTokenStoreOptions}
   */
  constructor(pool: pg.Pool, options: PostgresTokenStoreOptions = {}) {
    this.#pool = pool;
    this.#maxStalenessMs = options.maxStalenessMs ?? 500;
    this.#now = options.now ?? Date.now;
    this.#countCleanupIntervalMs = options.countCleanupIntervalMs ?? 60_000;
    this.#cleanedAt = this.#now();
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(text, values);
    } catch (e) {
      throw mapPgError(e);
    }
  }

  /** Runs `statement` and the `token_version` bump in one transaction. */
  async #write(text: string, values: unknown[]): Promise<number> {
    this.#cache.clear();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw mapPgError(e);
    }
    try {
      await client.query('BEGIN');
      const result = await client.query(text, values);
      if ((result.rowCount ?? 0) > 0) await client.query('UPDATE token_version SET version = version + 1');
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw mapPgError(e);
    } finally {
      client.release();
      this.#cache.clear();
      this.#checkedAt = Number.NEGATIVE_INFINITY;
    }
  }

  /** Empties the cache when `token_version` moved; asks at most every `maxStalenessMs`. */
  async #fresh(): Promise<void> {
    if (this.#now() - this.#checkedAt < this.#maxStalenessMs) return;
    this.#checking ??= (async () => {
      try {
        const started = this.#now();
        const { rows } = await this.#query<{ version: number }>('SELECT version FROM token_version', []);
        const version = rows[0]?.version ?? 0;
        if (version !== this.#version) {
          this.#cache.clear();
          this.#version = version;
        }
        this.#checkedAt = started;
      } finally {
        this.#checking = undefined;
      }
    })();
    await this.#checking;
  }

  /** {@inheritDoc @kv/engine#TokenStore.insert} @throws Error (unique violation) on a duplicate id or hash */
  async insert(record: TokenRecord): Promise<void> {
    await this.#write(
      `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      tokenRowValues(record),
    );
  }

  /**
   * {@inheritDoc @kv/engine#TokenStore.findByHash}
   *
   * The found record (from the database or the cache) is returned only if its hash equals `hash` under
   * `crypto.timingSafeEqual`.
   */
  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    await this.#fresh();
    const version = this.#version;
    return this.#cache.find(
      hash,
      async (h) => (await this.#query<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [h])).rows[0],
      // Cached only if no change was seen while the query ran (else the next call reads it again).
      () => version === this.#version,
    );
  }

  /** {@inheritDoc @kv/engine#TokenStore.list} */
  async list(): Promise<TokenRecord[]> {
    const { rows } = await this.#query<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id', []);
    return rows.map(tokenFromRow);
  }

  /**
   * {@inheritDoc @kv/engine#TokenStore.countRequest}
   *
   * One `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` on `token_request_counts` (keyed by token and
   * window start), so every instance on the database shares the count and concurrent requests each get
   * their own count (the row lock orders them). At most every `countCleanupIntervalMs`, after the count,
   * rows of windows that ended are deleted (one statement on the `window_end` index, not awaited by the
   * request; a failure is left to the next one).
   */
  async countRequest(tokenId: string, windowStartMs: number, windowMs: number): Promise<number> {
    const { rows } = await this.#query<{ count: number }>(
      `INSERT INTO token_request_counts (token_id, window_start, window_end, count) VALUES ($1, $2, $3, 1)
       ON CONFLICT (token_id, window_start) DO UPDATE SET count = token_request_counts.count + 1
       RETURNING count`,
      [tokenId, windowStartMs, windowStartMs + windowMs],
    );
    const nowMs = this.#now();
    if (this.#cleaning === undefined && nowMs - this.#cleanedAt >= this.#countCleanupIntervalMs) {
      this.#cleanedAt = nowMs;
      this.#cleaning = this.deleteEndedWindows(nowMs)
        .then(
          () => {},
          () => {},
        )
        .finally(() => {
          this.#cleaning = undefined;
        });
    }
    return rows[0]?.count ?? 1;
  }

  /**
   * Deletes the request counts of windows that ended at or before `nowMs` (`countRequest` calls it
   * periodically). @returns how many rows were deleted
   */
  async deleteEndedWindows(nowMs: number): Promise<number> {
    const result = await this.#query('DELETE FROM token_request_counts WHERE window_end <= $1', [nowMs]);
    return result.rowCount ?? 0;
  }

  /** {@inheritDoc @kv/engine#TokenStore.revoke} */
  async revoke(id: string, nowMs: number): Promise<boolean> {
    const changed = await this.#write(
      'UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
      [nowMs, id],
    );
    return changed > 0;
  }
}
