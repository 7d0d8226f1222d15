/**
 * The engine's `TokenStore` on PostgreSQL, shared by every instance on the database.
 *
 * @module
 */
import type { TokenRecord, TokenStore } from '@kv/engine';
import type pg from 'pg';
import { hashesEqual } from '../auth.js';
import { mapPgError } from './errors.js';

interface TokenRow {
  id: string;
  hash: string;
  capabilities: string;
  description: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

function fromRow(row: TokenRow): TokenRecord {
  let capabilities: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.capabilities);
    if (Array.isArray(parsed)) capabilities = parsed.filter((c): c is string => typeof c === 'string');
  } catch {
    // A damaged row grants nothing (fail closed).
  }
  return {
    id: row.id,
    hash: row.hash,
    capabilities,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

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
 */
export class PostgresTokenStore implements TokenStore {
  /** Most token records kept in memory; the cache is emptied when it would grow past this. */
  static readonly CACHE_LIMIT = 4096;

  readonly #pool: pg.Pool;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, TokenRecord>();
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
      `INSERT INTO tokens (id, hash, capabilities, description, created_at, expires_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        record.id,
        record.hash,
        JSON.stringify(record.capabilities),
        record.description,
        record.createdAt,
        record.expiresAt,
        record.revokedAt,
      ],
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
    let record = this.#cache.get(hash);
    if (record === undefined) {
      const version = this.#version;
      const { rows } = await this.#query<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash]);
      if (rows[0] === undefined) return undefined;
      record = fromRow(rows[0]);
      // Cached only if no change was seen while the query ran (else the next call reads it again).
      if (version === this.#version) {
        if (this.#cache.size >= PostgresTokenStore.CACHE_LIMIT) this.#cache.clear();
        this.#cache.set(hash, record);
      }
    }
    return hashesEqual(record.hash, hash) ? record : undefined;
  }

  /** {@inheritDoc @kv/engine#TokenStore.list} */
  async list(): Promise<TokenRecord[]> {
    const { rows } = await this.#query<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id', []);
    return rows.map(fromRow);
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
