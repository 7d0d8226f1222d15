/**
 * Data access inside one write transaction on one PostgreSQL store: {@link PgTx}, the engine's
 * `StorageTx` (the contract is in `@kv/engine`'s `storage.ts`; the commit rules that call it are the
 * engine's `applyCommit`). The store row is locked (`SELECT ... FOR UPDATE`) for the whole transaction,
 * so the transactions of one store run one at a time across every instance, each sees what the previous
 * one committed, and the revisions it takes are the next ones of the store's sequence, gap-free and in
 * commit order.
 *
 * Round trips are what a store's write rate is bounded by (the lock is held across them), so the usual
 * sequences of calls become one statement each: `putEntry` + `appendChange`, `updateEntry` +
 * `appendChange`, `removeEntry` + `appendHistory` + `appendChange` (a delete or expire) and
 * `[removeEntry +] purgeHistory + appendChange` (a purge). A write call is held until the next call
 * shows whether it continues such a sequence; any other call (a read included) first runs what is held
 * on its own, so reads always see the transaction's writes. `BEGIN` with the lock, and the store row's
 * update with `COMMIT`, each share one round trip too (`begin`, `finishSql`).
 *
 * Layout (as SQLite's): the key's entry is its row in `entries` and also the newest record of its
 * history; `history` holds only the past records.
 *
 * @module
 */
import { StoreNotFoundError } from '@kv/core/protocol';
import type {
  ChangeRecord,
  IdempotencyRecord,
  QueueMessage,
  StorageTx,
  StoredEntry,
  StoreRecord,
} from '@kv/engine';
import type pg from 'pg';
import {
  type ChangeRow,
  type EntryRow,
  messageParams,
  metaCols,
  type QueueRow,
  type StoreRow,
  toBytes,
  toChange,
  toEntry,
  toMessage,
  toStore,
} from './rows.js';

/** Change rows are physically deleted once per this many revisions (reads hide older ones). */
export const TRIM_BATCH = 64;

const RECORD_COLS =
  'store_id, key, revision, operation, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value';

/** Copies the entry of ($1, $2) into history as a `put` record, when $3 is true. */
const COPY_TO_HISTORY = `INSERT INTO history (${RECORD_COLS})
  SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value
  FROM entries WHERE store_id = $1 AND key = $2 AND $3::boolean`;

/** Deletes the history rows of ($1, $2) but the newest `$<offset>` (as seen before the statement). */
const trimHistory = (
  offset: number,
): string => `DELETE FROM history WHERE store_id = $1 AND key = $2 AND revision <= (
  SELECT revision FROM history WHERE store_id = $1 AND key = $2 ORDER BY revision DESC LIMIT 1 OFFSET $${offset})`;

/** The entry upsert of `putEntry`: $5 id ... $15 value (see {@link PgTx.putEntry}). */
const UPSERT_ENTRY = `INSERT INTO entries (store_id, key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value)
    VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (store_id, key) DO UPDATE SET revision = EXCLUDED.revision, content_type = EXCLUDED.content_type,
      metadata = EXCLUDED.metadata, scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at,
      expires_at = EXCLUDED.expires_at, resume = EXCLUDED.resume, size = EXCLUDED.size, value = EXCLUDED.value
    RETURNING *`;
const PUT_SCOPES = `scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2 AND NOT (scope = ANY($9::text[]))),
  scopes_new AS (INSERT INTO entry_scopes (store_id, scope, key) SELECT $1, s, $2 FROM unnest($9::text[]) s
    ON CONFLICT DO NOTHING)`;
const CHANGE_FROM = (t: string): string => `INSERT INTO changes (${RECORD_COLS})
    SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value FROM ${t}`;
/** A tombstone or purge record from parameters $3 revision, $4 operation, $5 id ... $11 resume. */
const RECORD_VALUES =
  "($1, $2, $3::bigint, $4::text, $5, $6, $7, $8::text[], $9::bigint, $10::bigint, NULL, $11::boolean, 0, '\\x'::bytea)";

/** The columns of `queue_messages` after `store_id`, in the order of `messageParams` (store-rows.ts). */
export const QUEUE_COLS =
  'id, visible_at, lease_expires_at, enqueued_at, attempts, lease_id, content_type, keys_if_undelivered, backoff_schedule_ms, value';

/** Names of the statements a {@link PgTx} runs. */
export type TxStatement =
  | 'heads'
  | 'value'
  | 'lastRecord'
  | 'putEntry'
  | 'putEntryChange'
  | 'updateEntry'
  | 'updateEntryChange'
  | 'removeEntry'
  | 'appendHistory'
  | 'endEntry'
  | 'purgeHistory'
  | 'purge'
  | 'changeFromEntry'
  | 'insertChange'
  | 'getIdempotency'
  | 'deleteIdempotency'
  | 'putIdempotency'
  | 'getMessage'
  | 'dueMessages'
  | 'writeMessages';

/** The SQL of every statement a {@link PgTx} runs, by name (prepared once per connection). */
export const TX_SQL: Readonly<Record<TxStatement, string>> = {
  heads: `SELECT ${metaCols('e')} FROM entries e WHERE e.store_id = $1 AND e.key = $2`,
  value: 'SELECT value FROM entries WHERE store_id = $1 AND key = $2',
  lastRecord: `SELECT * FROM (
      SELECT 'put' AS operation, ${metaCols('e')} FROM entries e WHERE e.store_id = $1 AND e.key = $2
      UNION ALL
      (SELECT h.operation, ${metaCols('h')} FROM history h WHERE h.store_id = $1 AND h.key = $2
        ORDER BY h.revision DESC LIMIT 1)
    ) r ORDER BY r.revision DESC LIMIT 1`,
  // Every part of a statement sees the rows as they were before it, so a history trim keeps as many old
  // rows as the record(s) the same statement inserts leave room for ($4).
  putEntry: `WITH hist AS (${COPY_TO_HISTORY}), trim_hist AS (${trimHistory(4)}), up AS (${UPSERT_ENTRY}),
  ${PUT_SCOPES} SELECT 1`,
  putEntryChange: `WITH hist AS (${COPY_TO_HISTORY}), trim_hist AS (${trimHistory(4)}), up AS (${UPSERT_ENTRY}),
  ${PUT_SCOPES} ${CHANGE_FROM('up')}`,
  // $5 revision, $6 updatedAt, $7 expiresAt.
  updateEntry: `WITH hist AS (${COPY_TO_HISTORY}), trim_hist AS (${trimHistory(4)})
  UPDATE entries SET revision = $5, updated_at = $6, expires_at = $7 WHERE store_id = $1 AND key = $2`,
  updateEntryChange: `WITH hist AS (${COPY_TO_HISTORY}), trim_hist AS (${trimHistory(4)}),
  up AS (UPDATE entries SET revision = $5, updated_at = $6, expires_at = $7 WHERE store_id = $1 AND key = $2 RETURNING *)
  ${CHANGE_FROM('up')}`,
  removeEntry: `WITH hist AS (${COPY_TO_HISTORY}),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2)
  DELETE FROM entries WHERE store_id = $1 AND key = $2`,
  // $3 revision ... $11 resume: the tombstone; $12 history rows kept besides it.
  appendHistory: `WITH trim_hist AS (${trimHistory(12)}) INSERT INTO history (${RECORD_COLS}) VALUES ${RECORD_VALUES}`,
  // removeEntry + appendHistory + appendChange of a delete or expire. $12 the copy flag of removeEntry
  // (COPY_TO_HISTORY's $3 is the revision here, so the copy is spelled out), $13 history rows kept.
  endEntry: `WITH hist AS (INSERT INTO history (${RECORD_COLS})
    SELECT store_id, key, revision, 'put', id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value
    FROM entries WHERE store_id = $1 AND key = $2 AND $12::boolean),
  trim_hist AS (${trimHistory(13)}),
  gone AS (DELETE FROM entries WHERE store_id = $1 AND key = $2),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2),
  tomb AS (INSERT INTO history (${RECORD_COLS}) VALUES ${RECORD_VALUES})
  INSERT INTO changes (${RECORD_COLS}) VALUES ${RECORD_VALUES}`,
  purgeHistory: 'DELETE FROM history WHERE store_id = $1 AND key = $2',
  // [removeEntry +] purgeHistory + appendChange of a purge: the key's rows go, the purge record is logged.
  purge: `WITH gone AS (DELETE FROM entries WHERE store_id = $1 AND key = $2),
  scopes_gone AS (DELETE FROM entry_scopes WHERE store_id = $1 AND key = $2),
  hist_gone AS (DELETE FROM history WHERE store_id = $1 AND key = $2)
  INSERT INTO changes (${RECORD_COLS}) VALUES ${RECORD_VALUES}`,
  changeFromEntry: `${CHANGE_FROM('entries')} WHERE store_id = $1 AND key = $2`,
  insertChange: `INSERT INTO changes (${RECORD_COLS}) VALUES ${RECORD_VALUES}`,
  getIdempotency:
    'SELECT fingerprint, status, headers, body, expires_at FROM idempotency WHERE scope_key = $1',
  deleteIdempotency: 'DELETE FROM idempotency WHERE scope_key = $1 AND expires_at = $2',
  putIdempotency: `INSERT INTO idempotency (scope_key, fingerprint, status, headers, body, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope_key) DO NOTHING`,
  getMessage: `SELECT ${QUEUE_COLS} FROM queue_messages WHERE store_id = $1 AND id = $2`,
  // A range of queue_messages_due, already in delivery order.
  dueMessages: `SELECT ${QUEUE_COLS} FROM queue_messages WHERE store_id = $1 AND visible_at <= $2
    ORDER BY visible_at, id LIMIT $3`,
  // The held queue writes of a transaction in one statement: $2 the ids to delete, $3-$12 one array per
  // column of QUEUE_COLS for the rows to put (insert or replace). No id is in both (PgTx keeps the last
  // write of each id), so the two parts never touch the same row.
  writeMessages: `WITH gone AS (DELETE FROM queue_messages WHERE store_id = $1 AND id = ANY($2::text[]))
    INSERT INTO queue_messages (store_id, ${QUEUE_COLS})
    SELECT $1::bigint, m.* FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::integer[],
      $8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[]) AS m
    ON CONFLICT (store_id, id) DO UPDATE SET visible_at = EXCLUDED.visible_at,
      lease_expires_at = EXCLUDED.lease_expires_at, enqueued_at = EXCLUDED.enqueued_at,
      attempts = EXCLUDED.attempts, lease_id = EXCLUDED.lease_id, content_type = EXCLUDED.content_type,
      keys_if_undelivered = EXCLUDED.keys_if_undelivered, backoff_schedule_ms = EXCLUDED.backoff_schedule_ms,
      value = EXCLUDED.value`,
};

/**
 * The idempotency record under `scopeKey` (`getIdempotency` of `TX_SQL`), or undefined; an expired one
 * is deleted and not answered (the `Storage.getIdempotency` contract). Shared by the storage (outside a
 * transaction) and {@link PgTx} (inside one).
 */
export async function readIdempotency(
  run: (name: 'getIdempotency' | 'deleteIdempotency', values: unknown[]) => Promise<pg.QueryResult>,
  scopeKey: string,
  nowMs: number,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await run('getIdempotency', [scopeKey]);
  const row = rows[0] as
    | { fingerprint: string; status: number; headers: string; body: Uint8Array; expires_at: number }
    | undefined;
  if (!row) return undefined;
  if (row.expires_at <= nowMs) {
    await run('deleteIdempotency', [scopeKey, row.expires_at]);
    return undefined;
  }
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    headers: JSON.parse(row.headers) as Record<string, string>,
    body: new Uint8Array(row.body.buffer, row.body.byteOffset, row.body.byteLength),
    expiresAt: row.expires_at,
  };
}

/** The parameters of `putIdempotency` of `TX_SQL` for `record`. */
export function idempotencyParams(scopeKey: string, record: IdempotencyRecord): unknown[] {
  return [
    scopeKey,
    record.fingerprint,
    record.status,
    JSON.stringify(record.headers),
    record.body,
    record.expiresAt,
  ];
}

/** A query runner bound to the transaction's connection. */
export type TxQuery = <R extends pg.QueryResultRow>(
  name: TxStatement,
  values: unknown[],
) => Promise<pg.QueryResult<R>>;

/** A write call held until the next call shows whether it continues a sequence (module comment). */
type Held =
  | { kind: 'put'; entry: StoredEntry; previous: StoredEntry | undefined }
  | {
      kind: 'update';
      previous: StoredEntry;
      change: { revision: number; updatedAt: number; expiresAt: number | null };
    }
  | { kind: 'remove'; previous: StoredEntry }
  | { kind: 'end'; previous: StoredEntry; tombstone: ChangeRecord }
  | { kind: 'purge'; key: string; removed: StoredEntry | undefined };

/** The key a held write is about. */
function heldKey(held: Held): string {
  switch (held.kind) {
    case 'put':
      return held.entry.key;
    case 'purge':
      return held.key;
    default:
      return held.previous.key;
  }
}

function storeNotFound(name: string): StoreNotFoundError {
  return new StoreNotFoundError(`store "${name}" not found`, { details: { store: name } });
}

/**
 * The `StorageTx` of one `PostgresStorage.transaction` (see the module comment). Open with
 * {@link PgTx.begin}; the storage sends {@link PgTx.finishSql} with `COMMIT` after {@link PgTx.flush}.
 */
export class PgTx implements StorageTx {
  /** See `StorageTx.store`. */
  readonly store: StoreRecord;
  /** The store row as locked. */
  readonly row: StoreRow;
  readonly #query: TxQuery;
  readonly #changeLogLimit: number;
  #revision: number;
  #keyDelta = 0;
  #bytesDelta = 0;
  #held: Held | undefined;
  /** Queue writes not sent yet, by message id: the message to put, or null to delete it. */
  readonly #messages = new Map<string, QueueMessage | null>();
  /** Whether queue writes were sent (the commit then notifies even when no entry was written). */
  #queueWritten = false;
  #open = true;

  private constructor(query: TxQuery, row: StoreRow, changeLogLimit: number) {
    this.#query = query;
    this.row = row;
    this.store = toStore(row);
    this.#revision = row.revision;
    this.#changeLogLimit = changeLogLimit;
  }

  /**
   * Begins the transaction on `client` and locks store `name`, in one round trip: `BEGIN` and the store
   * row `FOR UPDATE` as two statements of one simple query (statements after the lock take their
   * snapshot once it is held, under READ COMMITTED, and see every commit before it).
   *
   * @throws StoreNotFoundError when there is no such store (the transaction is open: roll it back)
   */
  static async begin(
    client: pg.ClientBase,
    query: TxQuery,
    name: string,
    changeLogLimit: number,
  ): Promise<PgTx> {
    const results = (await client.query(
      `BEGIN; SELECT * FROM stores WHERE name = ${client.escapeLiteral(name)} FOR UPDATE`,
    )) as unknown as pg.QueryResult[];
    const row = results[1]?.rows[0] as StoreRow | undefined;
    if (row === undefined) throw storeNotFound(name);
    return new PgTx(query, row, changeLogLimit);
  }

  #check(): void {
    if (!this.#open) throw new Error('PostgresStorage: this transaction is over');
  }

  #depth(): number {
    return this.row.history;
  }

  /**
   * Runs the held write on its own (when the calls after it did not continue its sequence), and the
   * held queue writes.
   */
  async flush(): Promise<void> {
    await this.#flushMessages();
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    switch (held.kind) {
      case 'put':
        await this.#query('putEntry', this.#putParams(held.entry, held.previous));
        return;
      case 'update':
        await this.#query('updateEntry', this.#updateParams(held.previous, held.change));
        return;
      case 'remove':
        await this.#query('removeEntry', [this.row.id, held.previous.key, this.#depth() > 1]);
        return;
      case 'end':
        await this.#query('removeEntry', [this.row.id, held.previous.key, this.#depth() > 1]);
        await this.#query('appendHistory', [...this.#recordParams(held.tombstone), this.#depth() - 1]);
        return;
      case 'purge':
        if (held.removed) await this.#query('removeEntry', [this.row.id, held.key, false]);
        await this.#query('purgeHistory', [this.row.id, held.key]);
        return;
    }
  }

  /** @inheritDoc */
  async head(key: string): Promise<StoredEntry | undefined> {
    this.#check();
    await this.flush();
    const { rows } = await this.#query<EntryRow>('heads', [this.row.id, key]);
    return rows[0] === undefined ? undefined : toEntry(rows[0]);
  }

  /** @inheritDoc */
  async value(key: string): Promise<Uint8Array | undefined> {
    this.#check();
    await this.flush();
    const { rows } = await this.#query<{ value: Uint8Array }>('value', [this.row.id, key]);
    return rows[0] === undefined ? undefined : toBytes(rows[0].value);
  }

  /** @inheritDoc */
  async lastRecord(key: string): Promise<ChangeRecord | undefined> {
    this.#check();
    await this.flush();
    const { rows } = await this.#query<ChangeRow>('lastRecord', [this.row.id, key]);
    return rows[0] === undefined ? undefined : toChange(rows[0]);
  }

  /** @inheritDoc */
  async putEntry(entry: StoredEntry, previous: StoredEntry | undefined): Promise<void> {
    this.#check();
    await this.flush();
    this.#held = { kind: 'put', entry, previous };
  }

  /** @inheritDoc */
  async updateEntry(
    previous: StoredEntry,
    change: { revision: number; updatedAt: number; expiresAt: number | null },
  ): Promise<void> {
    this.#check();
    await this.flush();
    this.#held = { kind: 'update', previous, change };
  }

  /** @inheritDoc */
  async removeEntry(previous: StoredEntry): Promise<void> {
    this.#check();
    await this.flush();
    this.#held = { kind: 'remove', previous };
  }

  /** @inheritDoc */
  async appendHistory(tombstone: ChangeRecord): Promise<void> {
    this.#check();
    const held = this.#held;
    if (held?.kind === 'remove' && held.previous.key === tombstone.key) {
      this.#held = { kind: 'end', previous: held.previous, tombstone };
      return;
    }
    await this.flush();
    await this.#query('appendHistory', [...this.#recordParams(tombstone), this.#depth() - 1]);
  }

  /** @inheritDoc */
  async purgeHistory(key: string): Promise<void> {
    this.#check();
    const held = this.#held;
    if (held?.kind === 'remove' && held.previous.key === key) {
      this.#held = { kind: 'purge', key, removed: held.previous };
      return;
    }
    await this.flush();
    this.#held = { kind: 'purge', key, removed: undefined };
  }

  /** @inheritDoc */
  async appendChange(record: ChangeRecord): Promise<void> {
    this.#check();
    const held = this.#held;
    const same = held !== undefined && heldKey(held) === record.key;
    if (same && record.operation === 'put' && held.kind === 'put') {
      this.#held = undefined;
      await this.#query('putEntryChange', this.#putParams(held.entry, held.previous));
      return;
    }
    if (same && record.operation === 'put' && held.kind === 'update') {
      this.#held = undefined;
      await this.#query('updateEntryChange', this.#updateParams(held.previous, held.change));
      return;
    }
    if (same && held.kind === 'end' && record.operation === held.tombstone.operation) {
      this.#held = undefined;
      const depth = this.#depth();
      const copy = depth > 1;
      await this.#query('endEntry', [
        ...this.#recordParams(held.tombstone),
        copy,
        depth - 1 - (copy ? 1 : 0),
      ]);
      return;
    }
    if (same && held.kind === 'purge' && record.operation === 'purge') {
      this.#held = undefined;
      await this.#query('purge', this.#recordParams(record));
      return;
    }
    await this.flush();
    if (record.operation === 'put') await this.#query('changeFromEntry', [this.row.id, record.key]);
    else await this.#query('insertChange', this.#recordParams(record));
  }

  /** @inheritDoc */
  nextRevision(): number {
    this.#check();
    return ++this.#revision;
  }

  /** @inheritDoc */
  adjustStats(deltaKeys: number, deltaBytes: number): void {
    this.#check();
    this.#keyDelta += deltaKeys;
    this.#bytesDelta += deltaBytes;
  }

  /**
   * @inheritDoc
   *
   * The store row is locked by this transaction and the engine's scope keys name the store, so a record
   * another instance committed for the same scope key before this transaction took the lock is seen here.
   */
  async getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined> {
    this.#check();
    await this.flush();
    return readIdempotency((name, values) => this.#query(name, values), scopeKey, nowMs);
  }

  /** @inheritDoc */
  async putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void> {
    this.#check();
    await this.flush();
    await this.#query('putIdempotency', idempotencyParams(scopeKey, record));
  }
  /** @inheritDoc */
  async getMessage(id: string): Promise<QueueMessage | undefined> {
    this.#check();
    await this.#flushMessages();
    const { rows } = await this.#query<QueueRow>('getMessage', [this.row.id, id]);
    return rows[0] === undefined ? undefined : toMessage(rows[0]);
  }

  /** @inheritDoc */
  async dueMessages(nowMs: number, limit: number): Promise<QueueMessage[]> {
    this.#check();
    await this.#flushMessages();
    const { rows } = await this.#query<QueueRow>('dueMessages', [
      this.row.id,
      nowMs,
      Math.max(0, Math.floor(limit)),
    ]);
    return rows.map(toMessage);
  }

  /**
   * @inheritDoc
   *
   * Held (a copy), with the other queue writes of the transaction, until the next queue read or the
   * commit sends them all as one statement: a lease of n messages is one write, not n.
   */
  async putMessage(message: QueueMessage): Promise<void> {
    this.#check();
    this.#messages.set(message.id, {
      ...message,
      value: message.value.slice(),
      keysIfUndelivered: [...message.keysIfUndelivered],
      backoffScheduleMs: [...message.backoffScheduleMs],
    });
  }

  /**
   * @inheritDoc
   *
   * Held like {@link PgTx.putMessage}.
   */
  async deleteMessage(id: string): Promise<void> {
    this.#check();
    this.#messages.set(id, null);
  }

  /** Sends the held queue writes (the last write of each id) as one statement. */
  async #flushMessages(): Promise<void> {
    if (this.#messages.size === 0) return;
    const writes = [...this.#messages];
    this.#messages.clear();
    this.#queueWritten = true;
    const deleted: string[] = [];
    const columns: unknown[][] = Array.from({ length: 10 }, () => []);
    for (const [id, message] of writes) {
      if (message === null) {
        deleted.push(id);
        continue;
      }
      for (const [i, value] of messageParams(message).entries()) columns[i]!.push(value);
    }
    await this.#query('writeMessages', [this.row.id, deleted, ...columns]);
  }

  /**
   * Ends the transaction's data access (calls after it throw) and answers the statements to send with
   * `COMMIT`: the store row's revision and counters (when anything was written), the drop of change-log
   * rows older than the window (once per {@link TRIM_BATCH} revisions), and a `kv_changes` notification
   * naming the store (delivered at commit, to wake watchers on every instance). Empty when nothing was
   * written; only the notification when nothing but queue messages was. Only integers this class
   * computed are inlined. Call after {@link PgTx.flush}.
   */
  finishSql(): string {
    this.#open = false;
    if (this.#held !== undefined || this.#messages.size > 0) throw new Error('PgTx.finishSql before flush');
    const id = this.row.id;
    if (this.#revision === this.row.revision && this.#keyDelta === 0 && this.#bytesDelta === 0) {
      if (!this.#queueWritten) return '';
      // Only queue rows changed: the store row stays, the hint still goes out (it wakes the queue's
      // waiting listeners on every instance; `Storage.onChange`).
      if (!Number.isSafeInteger(id)) throw new Error(`not an integer: ${id}`);
      return `SELECT pg_notify('kv_changes', name) FROM stores WHERE id = ${id};\n`;
    }
    const cutoff = this.#revision - this.#changeLogLimit;
    const numbers = [id, this.#revision, this.#keyDelta, this.#bytesDelta, cutoff];
    if (!numbers.every(Number.isSafeInteger)) throw new Error(`not an integer: ${numbers.join(', ')}`);
    const trim =
      cutoff > 0 &&
      Math.floor(cutoff / TRIM_BATCH) > Math.floor((this.row.revision - this.#changeLogLimit) / TRIM_BATCH);
    return [
      `UPDATE stores SET revision = ${this.#revision}, key_count = key_count + (${this.#keyDelta}),
         total_bytes = total_bytes + (${this.#bytesDelta}) WHERE id = ${id}
         RETURNING pg_notify('kv_changes', name)`,
      ...(trim ? [`DELETE FROM changes WHERE store_id = ${id} AND revision <= ${cutoff}`] : []),
      '',
    ].join(';\n');
  }

  /** Ends the transaction's data access without writing (it is being rolled back). */
  abandon(): void {
    this.#open = false;
    this.#held = undefined;
    this.#messages.clear();
  }

  #putParams(entry: StoredEntry, previous: StoredEntry | undefined): unknown[] {
    const copy = previous !== undefined && this.#depth() > 1;
    return [
      this.row.id,
      entry.key,
      copy,
      this.#depth() - 1 - (copy ? 1 : 0),
      entry.id,
      entry.revision,
      entry.contentType,
      entry.metadata === null ? null : JSON.stringify(entry.metadata),
      entry.scopes,
      entry.createdAt,
      entry.updatedAt,
      entry.expiresAt,
      entry.resume,
      entry.value.byteLength,
      entry.value,
    ];
  }

  #updateParams(
    previous: StoredEntry,
    change: { revision: number; updatedAt: number; expiresAt: number | null },
  ): unknown[] {
    const copy = this.#depth() > 1;
    return [
      this.row.id,
      previous.key,
      copy,
      this.#depth() - 1 - (copy ? 1 : 0),
      change.revision,
      change.updatedAt,
      change.expiresAt,
    ];
  }

  /** $1-$11 of a tombstone or purge record ({@link RECORD_VALUES}). */
  #recordParams(r: ChangeRecord): unknown[] {
    return [
      this.row.id,
      r.key,
      r.revision,
      r.operation,
      r.id,
      r.contentType,
      r.metadata === null ? null : JSON.stringify(r.metadata),
      r.scopes,
      r.createdAt,
      r.updatedAt,
      r.resume,
    ];
  }
}
