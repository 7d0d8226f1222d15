/**
 * Data access inside one write transaction on one PostgreSQL store: the store row is locked
 * (`SELECT ... FOR UPDATE`) for the whole transaction, so commits of a store run one at a time across
 * every instance, each sees the state the previous one committed, and the revisions it takes are the next
 * ones of the store's sequence, gap-free and in commit order.
 *
 * {@link PgStoreTx} only reads and writes rows; the commit rules (preconditions, atomic and each modes,
 * expire-before-write) are in `commit.ts`.
 *
 * @module
 */
import { compareKeys, type JsonObject, StoreNotFoundError } from '@kv/core/protocol';
import type { PutOp } from '@kv/engine';
import type pg from 'pg';
import { type EntryRow, metaCols, type StoreRow } from './rows.js';

/** Change rows are physically deleted once per this many revisions (reads hide older ones). */
export const TRIM_BATCH = 64;

/** Most keys whose current records {@link PgStoreTx.begin} reads in its first round trip. */
export const PREFETCH_KEYS = 64;

const RECORD_COLS =
  'store_id, key, revision, operation, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value';

/** Copies the live entry of ($1, $2) into history as a `put` record, when $3 is true. */
const COPY_TO_HISTORY = `INSERT INTO history (${RECORD_COLS})
  SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value
  FROM entries WHERE store_id = $1 AND key = $2 AND $3::boolean`;

/** Deletes the history rows of ($1, $2) but the newest $4 (as seen before the statement). */
const TRIM_HISTORY = `DELETE FROM history WHERE store_id = $1 AND key = $2 AND revision <= (
  SELECT revision FROM history WHERE store_id = $1 AND key = $2 ORDER BY revision DESC LIMIT 1 OFFSET $4)`;

/** Names of the statements a {@link PgStoreTx} runs. */
export type TxStatement = 'heads' | 'lastHistory' | 'put' | 'tombstone' | 'purge' | 'setExpiry';

/** The SQL of every statement a {@link PgStoreTx} runs, by name (prepared once per connection). */
export const TX_SQL: Readonly<Record<TxStatement, string>> = {
  heads: `SELECT ${metaCols('e')} FROM entries e WHERE e.store_id = $1 AND e.key = ANY($2::text[])`,
  lastHistory: `SELECT ${metaCols('h')} FROM history h WHERE h.store_id = $1 AND h.key = $2
    ORDER BY h.revision DESC LIMIT 1`,
  // One statement per write: every part sees the rows as they were before it, so the history trim keeps
  // as many old rows as the record(s) inserted by the same statement leave room for ($4).
  put: `WITH hist AS (${COPY_TO_HISTORY}),
  trim_hist AS (${TRIM_HISTORY}),
  up AS (
    INSERT INTO entries (store_id, key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value)
    VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (store_id, key) DO UPDATE SET revision = EXCLUDED.revision, content_type = EXCLUDED.content_type,
      metadata = EXCLUDED.metadata, scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at,
      expires_at = EXCLUDED.expires_at, resume = EXCLUDED.resume, size = EXCLUDED.size, value = EXCLUDED.value
    RETURNING *),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2 AND NOT (scope = ANY($9::text[]))),
  scopes_new AS (INSERT INTO entry_scopes (store_id, scope, key) SELECT $1, s, $2 FROM unnest($9::text[]) s
    ON CONFLICT DO NOTHING)
  INSERT INTO changes (${RECORD_COLS})
    SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value FROM up`,
  // $5 revision, $6 operation ('delete' | 'expire'), $7 now.
  tombstone: `WITH hist AS (${COPY_TO_HISTORY}),
  trim_hist AS (${TRIM_HISTORY}),
  gone AS (DELETE FROM entries WHERE store_id = $1 AND key = $2 RETURNING *),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2),
  tomb AS (INSERT INTO history (${RECORD_COLS})
    SELECT store_id, key, $5::bigint, $6::text, id, content_type, metadata, scopes, created_at, $7::bigint, NULL, resume, 0, '\\x'::bytea FROM gone)
  INSERT INTO changes (${RECORD_COLS})
    SELECT store_id, key, $5::bigint, $6::text, id, content_type, metadata, scopes, created_at, $7::bigint, NULL, resume, 0, '\\x'::bytea FROM gone`,
  // $3 revision, $4 now, then the fields of the key's newest record.
  purge: `WITH gone AS (DELETE FROM entries WHERE store_id = $1 AND key = $2),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2),
  hist_gone AS (DELETE FROM history WHERE store_id = $1 AND key = $2)
  INSERT INTO changes (${RECORD_COLS})
    VALUES ($1, $2, $3, 'purge', $5, $6, $7, $8, $9, $4, NULL, $10, 0, '\\x'::bytea)`,
  // $5 revision, $6 now, $7 expiresAt.
  setExpiry: `WITH hist AS (${COPY_TO_HISTORY}),
  trim_hist AS (${TRIM_HISTORY}),
  up AS (UPDATE entries SET revision = $5, updated_at = $6, expires_at = $7 WHERE store_id = $1 AND key = $2 RETURNING *)
  INSERT INTO changes (${RECORD_COLS})
    SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value FROM up`,
};

/** A query runner bound to the transaction's connection. */
export type TxQuery = <R extends pg.QueryResultRow>(
  name: TxStatement,
  values: unknown[],
) => Promise<pg.QueryResult<R>>;

function storeNotFound(name: string): StoreNotFoundError {
  return new StoreNotFoundError(`store "${name}" not found`, { details: { store: name } });
}

function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort(compareKeys);
}

/**
 * The rows of one store inside a write transaction (see the module comment). Open with
 * {@link PgStoreTx.lock}; every write takes the next revision; {@link PgStoreTx.finish} writes the
 * store's counters. Current records are read once and then followed in memory as the transaction writes.
 */
export class PgStoreTx {
  /** The locked store row as it was before this transaction. */
  readonly store: StoreRow;
  /** The store's latest revision, including the writes of this transaction. */
  revision: number;
  readonly #query: TxQuery;
  readonly #changeLogLimit: number;
  /** Current record (meta only) by key: null = none; missing = not read yet. */
  readonly #heads = new Map<string, EntryRow | null>();
  #keyDelta = 0;
  #bytesDelta = 0;

  private constructor(query: TxQuery, store: StoreRow, changeLogLimit: number) {
    this.#query = query;
    this.store = store;
    this.revision = store.revision;
    this.#changeLogLimit = changeLogLimit;
  }

  /**
   * Begins the transaction on `client` and locks store `name`, reading the current records of up to
   * {@link PREFETCH_KEYS} of `keys` too, in one round trip: `BEGIN`, the store row `FOR UPDATE`, then the
   * entries, as statements of one simple query (under READ COMMITTED each statement takes its snapshot
   * when it starts, so the entries are read after the lock is held and see every commit before it).
   *
   * @throws StoreNotFoundError when there is no such store (the transaction is open: roll it back)
   */
  static async begin(
    client: pg.ClientBase,
    query: TxQuery,
    name: string,
    keys: readonly string[],
    changeLogLimit: number,
  ): Promise<PgStoreTx> {
    const unique = [...new Set(keys)];
    const prefetch = unique.length <= PREFETCH_KEYS ? unique : [];
    const store = client.escapeLiteral(name);
    const statements = ['BEGIN', `SELECT * FROM stores WHERE name = ${store} FOR UPDATE`];
    if (prefetch.length > 0) {
      statements.push(
        `SELECT ${metaCols('e')} FROM entries e JOIN stores s ON s.id = e.store_id
         WHERE s.name = ${store} AND e.key IN (${prefetch.map((k) => client.escapeLiteral(k)).join(', ')})`,
      );
    }
    const results = (await client.query(statements.join(';\n'))) as unknown as Array<pg.QueryResult>;
    const row = results[1]?.rows[0] as StoreRow | undefined;
    if (row === undefined) throw storeNotFound(name);
    const tx = new PgStoreTx(query, row, changeLogLimit);
    if (prefetch.length > 0) {
      for (const key of prefetch) tx.#heads.set(key, null);
      for (const head of (results[2]?.rows ?? []) as EntryRow[]) tx.#heads.set(head.key, head);
    } else if (unique.length > 0) {
      const found = await query<EntryRow>('heads', [row.id, unique]);
      for (const key of unique) tx.#heads.set(key, null);
      for (const head of found.rows) tx.#heads.set(head.key, head);
    }
    return tx;
  }

  /** The store's history depth (revisions kept per key). */
  get depth(): number {
    return this.store.history;
  }

  /** The current record of `key` (live or expired, not swept), without its value; undefined if none. */
  async head(key: string): Promise<EntryRow | undefined> {
    let row = this.#heads.get(key);
    if (row === undefined) {
      const found = await this.#query<EntryRow>('heads', [this.store.id, [key]]);
      row = found.rows[0] ?? null;
      this.#heads.set(key, row);
    }
    return row ?? undefined;
  }

  /**
   * Writes a new revision of `op.key`: overwrites `live` (same id and `createdAt`), or starts a new life
   * with `op.newId`. The previous revision goes to history (depth > 1), history is trimmed, the change
   * log gets the put.
   */
  async put(op: PutOp, live: EntryRow | undefined, nowMs: number): Promise<{ revision: number; id: string }> {
    const scopes = normalizeScopes(op.scopes);
    const metadata = op.metadata === null ? null : JSON.stringify(op.metadata satisfies JsonObject);
    const size = op.value.byteLength;
    const id = live ? live.id : op.newId;
    const createdAt = live ? live.created_at : nowMs;
    const copy = live !== undefined && this.depth > 1;
    const revision = ++this.revision;
    await this.#query('put', [
      this.store.id,
      op.key,
      copy,
      this.depth - 1 - (copy ? 1 : 0),
      id,
      revision,
      op.contentType,
      metadata,
      scopes,
      createdAt,
      nowMs,
      op.expiresAt,
      op.resume,
      size,
      op.value,
    ]);
    if (live) this.#bytesDelta += size - live.size;
    else {
      this.#keyDelta++;
      this.#bytesDelta += size;
    }
    this.#heads.set(op.key, {
      key: op.key,
      id,
      revision,
      content_type: op.contentType,
      metadata,
      scopes,
      created_at: createdAt,
      updated_at: nowMs,
      expires_at: op.expiresAt,
      resume: op.resume,
      size,
    });
    return { revision, id };
  }

  /**
   * Ends the life of `row` (the key's current record) as a `delete` or `expire` write: its revision goes
   * to history (depth > 1), then the tombstone, both trimmed to the depth; the change log gets the
   * tombstone; the entry and its scopes are removed.
   */
  async tombstone(row: EntryRow, operation: 'delete' | 'expire', nowMs: number): Promise<number> {
    const copy = this.depth > 1;
    const revision = ++this.revision;
    await this.#query('tombstone', [
      this.store.id,
      row.key,
      copy,
      this.depth - 1 - (copy ? 1 : 0),
      revision,
      operation,
      nowMs,
    ]);
    this.#keyDelta--;
    this.#bytesDelta -= row.size;
    this.#heads.set(row.key, null);
    return revision;
  }

  /**
   * Removes `key`, its live entry (if `live`) and its whole history, recording a `purge` change with the
   * fields of the key's newest record (`live`, else its newest history record). Returns undefined (and
   * writes nothing) when the key has no record at all.
   */
  async purge(
    key: string,
    live: EntryRow | undefined,
    nowMs: number,
  ): Promise<{ revision: number; id: string } | undefined> {
    let head = live;
    if (head === undefined) {
      const { rows } = await this.#query<EntryRow>('lastHistory', [this.store.id, key]);
      head = rows[0];
    }
    if (head === undefined) return undefined;
    const revision = ++this.revision;
    await this.#query('purge', [
      this.store.id,
      key,
      revision,
      nowMs,
      head.id,
      head.content_type,
      head.metadata,
      head.scopes,
      head.created_at,
      head.resume,
    ]);
    if (live) {
      this.#keyDelta--;
      this.#bytesDelta -= live.size;
    }
    this.#heads.set(key, null);
    return { revision, id: head.id };
  }

  /** Changes only the expiry of `live` (a `put` revision with the same value). */
  async setExpiry(live: EntryRow, expiresAt: number | null, nowMs: number): Promise<number> {
    const copy = this.depth > 1;
    const revision = ++this.revision;
    await this.#query('setExpiry', [
      this.store.id,
      live.key,
      copy,
      this.depth - 1 - (copy ? 1 : 0),
      revision,
      nowMs,
      expiresAt,
    ]);
    this.#heads.set(live.key, { ...live, revision, updated_at: nowMs, expires_at: expiresAt });
    return revision;
  }

  /**
   * The statements that end this transaction's writes, to send with `COMMIT` in one round trip: the store
   * row's revision and counters (when anything was written), the drop of change-log rows older than the
   * window (once per {@link TRIM_BATCH} revisions), and a `kv_changes` notification naming the store
   * (delivered at commit, to wake watchers on every instance). Empty when nothing was written. Only
   * integers this class computed are inlined.
   */
  finishSql(): string {
    if (this.revision === this.store.revision) return '';
    const id = this.store.id;
    const cutoff = this.revision - this.#changeLogLimit;
    const numbers = [id, this.revision, this.#keyDelta, this.#bytesDelta, cutoff];
    if (!numbers.every(Number.isSafeInteger)) throw new Error(`not an integer: ${numbers.join(', ')}`);
    const trim =
      cutoff > 0 &&
      Math.floor(cutoff / TRIM_BATCH) > Math.floor((this.store.revision - this.#changeLogLimit) / TRIM_BATCH);
    return [
      `UPDATE stores SET revision = ${this.revision}, key_count = key_count + (${this.#keyDelta}),
         total_bytes = total_bytes + (${this.#bytesDelta}) WHERE id = ${id}
         RETURNING pg_notify('kv_changes', name)`,
      ...(trim ? [`DELETE FROM changes WHERE store_id = ${id} AND revision <= ${cutoff}`] : []),
      '',
    ].join(';\n');
  }
}
