/**
 * `PostgresStorage`: the engine's `Storage` on PostgreSQL (node-postgres), for several stateless
 * `kv-server` instances on one database (docs/architecture.md "PostgreSQL").
 *
 * Everything an instance knows lives in the database: stores (settings, the revision sequence, counters),
 * entries, history, the change log watch reads, idempotency records and tokens. A write is one
 * transaction that locks its store's row first (`tx.ts`), so writes to one store are serialized across
 * instances and take gap-free revisions in commit order; a commit is acknowledged only after `COMMIT`
 * returned. Reads are single statements (one snapshot each) on any pooled connection, so a write
 * acknowledged by one instance is seen by the next read on every instance.
 *
 * A database that cannot be reached makes every method throw a 503 `unavailable`
 * ({@link DatabaseUnavailableError}) and {@link PostgresStorage.ping} answer false (`/readyz` 503).
 *
 * @module
 */
import { KeyExistsError, type StoreConfig, StoreNotFoundError } from '@kv/core/protocol';
import type {
  ChangeRecord,
  ExpiredEntry,
  IdempotencyRecord,
  MaybePromise,
  QueueCounts,
  ScanQuery,
  Storage,
  StorageTx,
  StoredEntry,
  StoreRecord,
} from '@kv/engine';
import pg from 'pg';
import { scanBounds } from '../keys.js';
import { isConnectionError, mapPgError } from './errors.js';
import { migrate } from './migrate.js';
import {
  type ChangeRow,
  type EntryRow,
  entryCols,
  isLive,
  type QueueCountsRow,
  type StoreRow,
  toChange,
  toEntry,
  toQueueCounts,
  toStore,
} from './rows.js';
import { idempotencyParams, PgTx, readIdempotency, TX_SQL, type TxQuery } from './tx.js';

/** Options of {@link PostgresStorage.open}. */
export interface PostgresStorageOptions {
  /**
   * libpq connection string (URL or `key=value` form).
   * @example 'postgresql://kv:secret@db.internal:5432/kv'
   * @example 'postgresql:///kv?host=/var/run/postgresql'
   */
  url: string;
  /**
   * Most connections this instance opens (node-postgres pool `max`). Every instance has its own pool:
   * the database must allow instances x this (its `max_connections`).
   * @default 10
   */
  poolSize?: number;
  /**
   * Changes kept per store in the change log (watch resume window), in revisions. Give every instance
   * the same value.
   * @default 10000
   */
  changeLogLimit?: number;
  /**
   * How long to wait for a connection (new or from the pool), in ms; then the call fails with a 503.
   * @default 5000
   */
  connectTimeoutMs?: number;
}

/** Thrown by {@link PostgresStorage.open} when the database cannot be used; the message never holds a password. */
export class PostgresOpenError extends Error {
  override name = 'PostgresOpenError';
}

/** int8 columns (revisions, counters, epoch ms) as numbers: every value kv stores is a safe integer. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Errors after which a write transaction is retried (serialization failure, deadlock). */
const RETRY_CODES = new Set(['40001', '40P01']);
const MAX_TX_ATTEMPTS = 5;

/** The connection string without its password, for messages. */
export function redactUrl(url: string): string {
  return url
    .replace(/(postgres(?:ql)?:\/\/[^:/?#@]*):[^@/?#]*@/i, '$1:***@')
    .replace(/password=\S+/gi, 'password=***');
}

function storeNotFound(name: string): StoreNotFoundError {
  return new StoreNotFoundError(`store "${name}" not found`, { details: { store: name } });
}

/**
 * SQL of one scan shape. Parameters: $1 store name, then the scope, the lower and upper bounds when
 * present, then now and the limit. One row per entry, or one row of NULLs when the store exists but
 * nothing matches (none when it does not exist).
 */
export function pgScanSql(
  scoped: boolean,
  lowerOp: '>' | '>=' | undefined,
  upper: boolean,
  reverse: boolean,
  values: boolean,
): string {
  const k = scoped ? 'sc.key' : 'e.key';
  const where = [scoped ? 'sc.store_id = s.id AND sc.scope = $2' : 'e.store_id = s.id'];
  let n = scoped ? 3 : 2;
  if (lowerOp) where.push(`${k} ${lowerOp} $${n++}`);
  if (upper) where.push(`${k} < $${n++}`);
  where.push(`(e.expires_at IS NULL OR e.expires_at > $${n++})`);
  const from = scoped
    ? 'entry_scopes sc JOIN entries e ON e.store_id = sc.store_id AND e.key = sc.key'
    : 'entries e';
  return `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT ${entryCols('e', values)} FROM ${from} WHERE ${where.join(' AND ')}
    ORDER BY ${k} ${reverse ? 'DESC' : 'ASC'} LIMIT $${n}) x ON true WHERE s.name = $1`;
}

/** Statements of the read paths, by name. */
const READ_SQL = {
  ping: 'SELECT 1 AS ok',
  insertStore: `INSERT INTO stores (name, history, default_ttl_ms, max_value_bytes, created_at, updated_at, signing_secret)
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
  getStore: 'SELECT * FROM stores WHERE name = $1',
  listStores: 'SELECT * FROM stores ORDER BY name',
  rotateSecret: 'UPDATE stores SET signing_secret = $1, updated_at = $2 WHERE name = $3 RETURNING *',
  get: `SELECT s.id AS sid, ${entryCols('e')} FROM stores s
    LEFT JOIN entries e ON e.store_id = s.id AND e.key = $2 WHERE s.name = $1`,
  getById: `SELECT s.id AS sid, ${entryCols('e')} FROM stores s
    LEFT JOIN entries e ON e.store_id = s.id AND e.id = $2 WHERE s.name = $1`,
  getMany: `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT ${entryCols('e')} FROM entries e WHERE e.store_id = s.id AND e.key = ANY($2::text[])) x ON true
    WHERE s.name = $1`,
  getManyMeta: `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT ${entryCols('e', false)} FROM entries e WHERE e.store_id = s.id AND e.key = ANY($2::text[])) x ON true
    WHERE s.name = $1`,
  // The live record (as a put, even if expired and not swept) and the newest history records: the
  // store's depth in all.
  history: `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT * FROM (
      SELECT 'put' AS operation, ${entryCols('e')} FROM entries e WHERE e.store_id = s.id AND e.key = $2
      UNION ALL
      (SELECT h.operation, ${entryCols('h')} FROM history h WHERE h.store_id = s.id AND h.key = $2
        ORDER BY h.revision DESC LIMIT s.history)
    ) r ORDER BY r.revision DESC LIMIT s.history) x ON true WHERE s.name = $1`,
  listScopes: `SELECT s.id AS sid, x.scope FROM stores s LEFT JOIN LATERAL (
    SELECT DISTINCT sc.scope FROM entry_scopes sc JOIN entries e ON e.store_id = sc.store_id AND e.key = sc.key
    WHERE sc.store_id = s.id AND (e.expires_at IS NULL OR e.expires_at > $2)) x ON true
    WHERE s.name = $1 ORDER BY x.scope`,
  // $2 after, $3 limit, $4 change-log limit. The floor is computed in the same snapshot as the rows.
  changes: `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT c.operation, ${entryCols('c')} FROM changes c WHERE c.store_id = s.id
      AND c.revision > GREATEST($2::bigint, s.revision - $4::bigint,
        coalesce((SELECT min(m.revision) FROM changes m WHERE m.store_id = s.id) - 1, 0))
    ORDER BY c.revision LIMIT $3) x ON true WHERE s.name = $1`,
  changeLogFloor: `SELECT GREATEST(0, s.revision - $2::bigint,
      coalesce((SELECT min(m.revision) FROM changes m WHERE m.store_id = s.id) - 1, 0)) AS floor
    FROM stores s WHERE s.name = $1`,
  // The QueueCounts definitions (storage.ts) at $2; one row of NULLs for an empty queue, none without the store.
  queueCounts: `SELECT s.id AS sid, x.* FROM stores s LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE q.visible_at <= $2::bigint
               AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= $2::bigint)) AS ready,
           count(*) FILTER (WHERE q.visible_at > $2::bigint
               AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= $2::bigint)) AS delayed,
           count(*) FILTER (WHERE q.lease_expires_at > $2::bigint) AS in_flight,
           min(q.visible_at) AS next_visible_at
    FROM queue_messages q WHERE q.store_id = s.id) x ON true WHERE s.name = $1`,
  deleteExpiredIdempotency: `DELETE FROM idempotency WHERE scope_key IN (
    SELECT scope_key FROM idempotency WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
  // Oldest expiry first, ties by store name then key bytes (the order MemoryStorage sweeps in).
  expiredEntries: `SELECT s.name AS store, e.key, e.expires_at AS "expiresAt" FROM entries e
    JOIN stores s ON s.id = e.store_id
    WHERE e.expires_at IS NOT NULL AND e.expires_at <= $1 ORDER BY e.expires_at, s.name, e.key LIMIT $2`,
  updateStore: `UPDATE stores SET history = $2, default_ttl_ms = $3, max_value_bytes = $4, updated_at = $5
    WHERE id = $1 RETURNING *`,
  // Keeps, per key, the newest `$2` rows minus one when the key has a live entry (its newest revision).
  trimStoreHistory: `DELETE FROM history h USING (
      SELECT r.key, r.revision FROM (
        SELECT key, revision, row_number() OVER (PARTITION BY key ORDER BY revision DESC) AS rn
        FROM history WHERE store_id = $1) r
      WHERE r.rn > $2 - (SELECT count(*) FROM entries e WHERE e.store_id = $1 AND e.key = r.key)
    ) d WHERE h.store_id = $1 AND h.key = d.key AND h.revision = d.revision`,
  deleteStoreData: `WITH a AS (DELETE FROM entry_scopes WHERE store_id = $1),
    b AS (DELETE FROM entries WHERE store_id = $1),
    c AS (DELETE FROM history WHERE store_id = $1),
    d AS (DELETE FROM changes WHERE store_id = $1),
    e AS (DELETE FROM queue_messages WHERE store_id = $1)
    DELETE FROM stores WHERE id = $1`,
  ...TX_SQL,
} as const;

type SqlName = keyof typeof READ_SQL;

/**
 * `Storage` on PostgreSQL. Open with {@link PostgresStorage.open} (connects, checks the database and
 * migrates the schema); call `close()` when done. Any number of instances may share one database.
 */
export class PostgresStorage implements Storage {
  /** The connection pool (shared with `PostgresTokenStore`). */
  readonly pool: pg.Pool;
  /** The connection string without its password (for logs). */
  readonly displayUrl: string;
  readonly #changeLogLimit: number;
  readonly #scanSql = new Map<string, { name: string; text: string }>();
  #closed = false;
  readonly #url: string;
  readonly #changeListeners = new Set<(store: string) => void>();
  #listenClient: pg.Client | undefined;
  #listenRetry: ReturnType<typeof setTimeout> | undefined;

  private constructor(pool: pg.Pool, url: string, displayUrl: string, changeLogLimit: number) {
    this.pool = pool;
    this.#url = url;
    this.displayUrl = displayUrl;
    this.#changeLogLimit = changeLogLimit;
  }

  /**
   * Connects, checks that the database is UTF-8 (keys compare by their UTF-8 bytes) and applies missing
   * schema migrations (under an advisory lock: several instances may start at once).
   *
   * @throws PostgresOpenError when the database cannot be reached, is not UTF-8, or has a newer schema
   *   (the message names the database without its password)
   */
  static async open(options: PostgresStorageOptions): Promise<PostgresStorage> {
    const displayUrl = redactUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: 'kv-server',
      types: TYPES,
    });
    // An idle connection that breaks (database restart) is dropped by the pool; without a listener the
    // 'error' event would end the process.
    pool.on('error', () => {});
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      const { rows } = await client.query<{ encoding: string }>(
        "SELECT current_setting('server_encoding') AS encoding",
      );
      if (rows[0]?.encoding !== 'UTF8') {
        throw new PostgresOpenError(
          `database ${displayUrl} has encoding ${rows[0]?.encoding}; kv needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')`,
        );
      }
      await migrate(client);
      client.release();
    } catch (e) {
      client?.release(true);
      await pool.end().catch(() => {});
      if (e instanceof PostgresOpenError) throw e;
      throw new PostgresOpenError(`cannot use PostgreSQL database ${displayUrl}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return new PostgresStorage(pool, options.url, displayUrl, options.changeLogLimit ?? 10_000);
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs a named statement on any pooled connection. */
  async #q<R extends pg.QueryResultRow>(name: SqlName, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.#run(this.pool, name, READ_SQL[name], values);
  }

  async #run<R extends pg.QueryResultRow>(
    on: pg.Pool | pg.PoolClient,
    name: string,
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new Error('PostgresStorage is closed');
    try {
      return await on.query<R>({ name: `kv_${name}`, text, values });
    } catch (e) {
      throw mapPgError(e);
    }
  }

  /**
   * Runs `fn` in a write transaction on store `store` (one pooled connection): `BEGIN` with the store
   * row locked `FOR UPDATE` ({@link PgTx.begin}, one round trip), `fn`, then what `fn` left held, and
   * the store row's update with `COMMIT` (one round trip); resolves only once committed. `ROLLBACK` when
   * anything throws. Retried (up to 5 attempts, `fn` again after the rollback) on a serialization failure
   * or deadlock, which the one-lock-per-transaction design should never meet.
   *
   * @throws StoreNotFoundError when the store does not exist
   */
  async #storeTransaction<T>(
    store: string,
    fn: (tx: PgTx, client: pg.PoolClient) => MaybePromise<T>,
  ): Promise<T> {
    if (this.#closed) throw new Error('PostgresStorage is closed');
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (e) {
        throw mapPgError(e);
      }
      const query: TxQuery = (name, values) => this.#run(client, name, TX_SQL[name], values);
      let broken: Error | undefined;
      let tx: PgTx | undefined;
      try {
        tx = await PgTx.begin(client, query, store, this.#changeLogLimit);
        const result = await fn(tx, client);
        await tx.flush();
        await client.query(`${tx.finishSql()}COMMIT`);
        return result;
      } catch (e) {
        tx?.abandon();
        if (isConnectionError(e) || isConnectionError((e as { cause?: unknown }).cause)) broken = e as Error;
        else await client.query('ROLLBACK').catch(() => {});
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && RETRY_CODES.has(code) && attempt < MAX_TX_ATTEMPTS) continue;
        throw mapPgError(e);
      } finally {
        client.release(broken);
      }
    }
  }

  // ---------------------------------------------------------------- stores

  /** @inheritDoc */
  async createStore(
    name: string,
    config: StoreConfig,
    nowMs: number,
    signingSecret: string,
  ): Promise<StoreRecord> {
    try {
      const { rows } = await this.#q<StoreRow>('insertStore', [
        name,
        config.history,
        config.defaultTtlMs,
        config.maxValueBytes,
        nowMs,
        nowMs,
        signingSecret,
      ]);
      return toStore(rows[0]!);
    } catch (e) {
      if ((e as { code?: unknown }).code === '23505') {
        throw new KeyExistsError(`store "${name}" already exists`, {
          code: 'store_exists',
          details: { store: name },
        });
      }
      throw e;
    }
  }

  /** @inheritDoc */
  async getStore(name: string): Promise<StoreRecord | undefined> {
    const { rows } = await this.#q<StoreRow>('getStore', [name]);
    return rows[0] && toStore(rows[0]);
  }

  /** @inheritDoc */
  async listStores(): Promise<StoreRecord[]> {
    return (await this.#q<StoreRow>('listStores', [])).rows.map(toStore);
  }

  /** @inheritDoc */
  async updateStore(name: string, patch: Partial<StoreConfig>, nowMs: number): Promise<StoreRecord> {
    return this.#storeTransaction(name, async (tx, client) => {
      const row = tx.row;
      const history = patch.history ?? row.history;
      const defaultTtlMs = patch.defaultTtlMs === undefined ? row.default_ttl_ms : patch.defaultTtlMs;
      const maxValueBytes = patch.maxValueBytes ?? row.max_value_bytes;
      const { rows } = await this.#run<StoreRow>(client, 'updateStore', READ_SQL.updateStore, [
        row.id,
        history,
        defaultTtlMs,
        maxValueBytes,
        nowMs,
      ]);
      if (history < row.history) {
        await this.#run(client, 'trimStoreHistory', READ_SQL.trimStoreHistory, [row.id, history]);
      }
      return toStore(rows[0]!);
    });
  }

  /** @inheritDoc */
  async rotateSigningSecret(name: string, secret: string, nowMs: number): Promise<StoreRecord> {
    const { rows } = await this.#q<StoreRow>('rotateSecret', [secret, nowMs, name]);
    if (!rows[0]) throw storeNotFound(name);
    return toStore(rows[0]);
  }

  /** @inheritDoc */
  async deleteStore(name: string): Promise<boolean> {
    try {
      return await this.#storeTransaction(name, async (tx, client) => {
        await this.#run(client, 'deleteStoreData', READ_SQL.deleteStoreData, [tx.row.id]);
        return true;
      });
    } catch (e) {
      if (e instanceof StoreNotFoundError) return false;
      throw e;
    }
  }

  // ---------------------------------------------------------------- reads

  /** @inheritDoc */
  async get(store: string, key: string, nowMs: number): Promise<StoredEntry | undefined> {
    const { rows } = await this.#q<EntryRow & { sid: number }>('get', [store, key]);
    const row = rows[0];
    if (!row) throw storeNotFound(store);
    return row.key !== null && isLive(row, nowMs) ? toEntry(row) : undefined;
  }

  /** @inheritDoc */
  async getById(store: string, id: string, nowMs: number): Promise<StoredEntry | undefined> {
    const { rows } = await this.#q<EntryRow & { sid: number }>('getById', [store, id]);
    const row = rows[0];
    if (!row) throw storeNotFound(store);
    return row.key !== null && isLive(row, nowMs) ? toEntry(row) : undefined;
  }

  /** @inheritDoc */
  async getMany(
    store: string,
    keys: string[],
    nowMs: number,
    values: boolean,
  ): Promise<Array<StoredEntry | undefined>> {
    const { rows } = await this.#q<EntryRow & { sid: number }>(values ? 'getMany' : 'getManyMeta', [
      store,
      [...new Set(keys)],
    ]);
    if (rows.length === 0) throw storeNotFound(store);
    const byKey = new Map<string, StoredEntry>();
    for (const row of rows) if (row.key !== null && isLive(row, nowMs)) byKey.set(row.key, toEntry(row));
    return keys.map((key) => byKey.get(key));
  }

  /** @inheritDoc */
  async scan(store: string, query: ScanQuery): Promise<StoredEntry[]> {
    const plan = scanBounds(query);
    const scoped = query.scope !== undefined;
    const reverse = query.reverse === true;
    const shape = `scan_${scoped ? 's' : 'k'}${plan?.lowerOp === '>' ? 'gt' : plan?.lowerOp === '>=' ? 'ge' : ''}${plan?.upper !== undefined ? 'lt' : ''}${reverse ? 'd' : 'a'}${query.values ? 'v' : ''}`;
    let sql = this.#scanSql.get(shape);
    if (sql === undefined) {
      sql = {
        name: shape,
        text: pgScanSql(scoped, plan?.lowerOp, plan?.upper !== undefined, reverse, query.values),
      };
      this.#scanSql.set(shape, sql);
    }
    const params: unknown[] = [store];
    if (scoped) params.push(query.scope);
    if (plan?.lowerOp) params.push(plan.lower);
    if (plan?.upper !== undefined) params.push(plan.upper);
    // An empty range still asks whether the store exists (limit 0).
    params.push(query.nowMs, plan ? Math.max(0, Math.floor(query.limit)) : 0);
    const { rows } = await this.#run<EntryRow & { sid: number }>(this.pool, sql.name, sql.text, params);
    if (rows.length === 0) throw storeNotFound(store);
    return rows.filter((r) => r.key !== null).map(toEntry);
  }

  /** @inheritDoc */
  async history(store: string, key: string): Promise<ChangeRecord[]> {
    const { rows } = await this.#q<ChangeRow & { sid: number }>('history', [store, key]);
    if (rows.length === 0) throw storeNotFound(store);
    return rows.filter((r) => r.key !== null).map(toChange);
  }

  /** @inheritDoc */
  async listScopes(store: string, nowMs: number): Promise<string[]> {
    const { rows } = await this.#q<{ sid: number; scope: string | null }>('listScopes', [store, nowMs]);
    if (rows.length === 0) throw storeNotFound(store);
    return rows.flatMap((r) => (r.scope === null ? [] : [r.scope]));
  }

  /** @inheritDoc */
  async changes(store: string, afterRevision: number, limit: number): Promise<ChangeRecord[]> {
    const { rows } = await this.#q<ChangeRow & { sid: number }>('changes', [
      store,
      afterRevision,
      Math.max(0, limit),
      this.#changeLogLimit,
    ]);
    if (rows.length === 0) throw storeNotFound(store);
    return rows.filter((r) => r.key !== null).map(toChange);
  }

  /**
   * Revision of the newest change dropped from the log, 0 when none was. The log keeps the newest
   * `changeLogLimit` revisions (rows are deleted in batches, older rows still stored are hidden).
   */
  async changeLogFloor(store: string): Promise<number> {
    const { rows } = await this.#q<{ floor: number }>('changeLogFloor', [store, this.#changeLogLimit]);
    if (!rows[0]) throw storeNotFound(store);
    return rows[0].floor;
  }

  /** @inheritDoc */
  async queueStats(store: string, nowMs: number): Promise<QueueCounts> {
    const { rows } = await this.#q<QueueCountsRow & { sid: number }>('queueCounts', [store, nowMs]);
    if (!rows[0]) throw storeNotFound(store);
    return toQueueCounts(rows[0]);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Runs `fn` in one transaction that locks the store's row first (see `Storage.transaction` in
   * `@kv/engine` for the contract, and the module comment of `tx.ts`): transactions of one store run one
   * at a time across every instance, and the promise resolves only after `COMMIT`. `fn` may be async.
   */
  async transaction<T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T> {
    return this.#storeTransaction(store, (tx) => fn(tx));
  }

  /**
   * Up to `limit` entries whose `expiresAt <= nowMs`, oldest first (ties: store name, then key bytes).
   * The engine's sweep expires each in a transaction on its store, whose lock serializes instances that
   * sweep at once: the second finds the key gone (its `head` re-read under the lock), so each key gets
   * exactly one `expire`.
   */
  async expiredEntries(nowMs: number, limit: number): Promise<ExpiredEntry[]> {
    const { rows } = await this.#q<ExpiredEntry>('expiredEntries', [nowMs, Math.max(0, limit)]);
    return rows;
  }

  /** @inheritDoc */
  async deleteExpiredIdempotency(nowMs: number, limit: number): Promise<number> {
    const { rowCount } = await this.#q('deleteExpiredIdempotency', [nowMs, Math.max(0, limit)]);
    return rowCount ?? 0;
  }

  /** @inheritDoc */
  async getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined> {
    return readIdempotency((name, values) => this.#q(name, values), scopeKey, nowMs);
  }

  /** @inheritDoc */
  async putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void> {
    await this.#q('putIdempotency', idempotencyParams(scopeKey, record));
  }

  /**
   * Every live entry of `store` (values included), in key order, in pages of `pageSize`, all read in one
   * `REPEATABLE READ` snapshot: what `kv-server export` writes, consistent while other instances write.
   *
   * @throws StoreNotFoundError when the store does not exist
   */
  async *snapshotEntries(store: string, nowMs: number, pageSize = 1000): AsyncGenerator<StoredEntry[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapPgError(e);
    }
    const text = pgScanSql(false, '>', false, false, true);
    const first = pgScanSql(false, undefined, false, false, true);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let after: string | undefined;
      for (;;) {
        const { rows } =
          after === undefined
            ? await this.#run<EntryRow>(client, 'scan_kav', first, [store, nowMs, pageSize])
            : await this.#run<EntryRow>(client, 'scan_kgtav', text, [store, after, nowMs, pageSize]);
        if (rows.length === 0) throw storeNotFound(store);
        const page = rows.filter((r) => r.key !== null).map(toEntry);
        if (page.length > 0) yield page;
        if (page.length < pageSize) break;
        after = page[page.length - 1]!.key;
      }
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => {}); // no-op after COMMIT; ends an abandoned snapshot
      client.release();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Readiness: a `SELECT 1` on a pooled connection answers (false once closed or when unreachable). */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#q('ping', []);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes every pooled connection (waits for checked-out ones to be released). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#changeListeners.clear();
    clearTimeout(this.#listenRetry);
    const listening = this.#listenClient;
    this.#listenClient = undefined;
    await listening?.end().catch(() => {});
    await this.pool.end();
  }

  /**
   * Calls `listener` with a store's name soon after any instance commits a write to that store: every
   * write transaction sends `NOTIFY kv_changes, '<store>'`, and this storage `LISTEN`s on one dedicated
   * connection (opened with the first listener, reopened a second after it breaks, closed with the last
   * listener). A wake-up hint only: notifications sent while the connection was down are lost, so a
   * watcher must also poll (the engine's watch hub does).
   *
   * @returns a function that removes the listener
   */
  onChange(listener: (store: string) => void): () => void {
    this.#changeListeners.add(listener);
    void this.#listen();
    return () => {
      this.#changeListeners.delete(listener);
      if (this.#changeListeners.size === 0) {
        clearTimeout(this.#listenRetry);
        const client = this.#listenClient;
        this.#listenClient = undefined;
        void client?.end().catch(() => {});
      }
    };
  }

  async #listen(): Promise<void> {
    if (this.#closed || this.#changeListeners.size === 0 || this.#listenClient !== undefined) return;
    const client = new pg.Client({ connectionString: this.#url, application_name: 'kv-server-listen' });
    this.#listenClient = client;
    let failed = false;
    const retry = (): void => {
      if (failed) return;
      failed = true;
      if (this.#listenClient === client) this.#listenClient = undefined;
      void client.end().catch(() => {});
      if (!this.#closed && this.#changeListeners.size > 0) {
        this.#listenRetry = setTimeout(() => void this.#listen(), 1000);
        this.#listenRetry.unref?.();
      }
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (message) => {
      if (message.channel !== 'kv_changes' || !message.payload) return;
      for (const listener of [...this.#changeListeners]) listener(message.payload);
    });
    try {
      await client.connect();
      await client.query('LISTEN kv_changes');
    } catch {
      retry();
    }
  }

  /**
   * Runs `fn` while holding the session advisory lock `key` (on a dedicated connection), so that only one
   * instance at a time runs it: e.g. the admin-token bootstrap at startup.
   *
   * @throws DatabaseUnavailableError when the database cannot be reached
   */
  async withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapPgError(e);
    }
    try {
      await client.query('SELECT pg_advisory_lock($1)', [key]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
      }
    } catch (e) {
      throw mapPgError(e);
    } finally {
      client.release();
    }
  }
}
