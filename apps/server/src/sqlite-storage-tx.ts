/**
 * Writing to SQLite for `SqliteStorage`: {@link SqliteTx}, the data access of one transaction (the
 * `StorageTx` contract in `@kv/engine`'s `storage.ts`), and {@link GroupCommit}, which runs the
 * transactions issued in one event-loop turn inside one SQLite transaction.
 *
 * @module
 */
import type {
  ChangeRecord,
  IdempotencyRecord,
  QueueMessage,
  StorageTx,
  StoredEntry,
  StoreRecord,
} from '@kv/engine';
import type Database from 'better-sqlite3';
import { INLINE_VALUE_MAX_BYTES } from './schema.js';
import { isCorruptionError } from './sqlite-storage-open.js';
import {
  type ChangeRow,
  EMPTY,
  type EntryRow,
  messageParams,
  type QueueRow,
  type Statements,
  type StoreRow,
  TRIM_BATCH,
  toBytes,
  toChange,
  toEntry,
  toMessage,
  toStore,
} from './sqlite-storage-statements.js';

/**
 * The `StorageTx` of one `SqliteStorage.transaction` on one store: every method runs its statements at
 * once, on the connection's open transaction (so they answer synchronously). The store row (revision and
 * stats) is written once, by {@link SqliteTx.finish}.
 *
 * Layout: the key's entry is its row in `entries`, and also the newest record of its history; `history`
 * holds only the past records. So writing an entry first copies the row it replaces into `history`
 * (when the depth keeps more than one record) and trims `history` to depth - 1; a tombstone goes into
 * `history`, trimmed to depth.
 */
export class SqliteTx implements StorageTx {
  /** See `StorageTx.store`. */
  readonly store: StoreRecord;
  readonly #stmts: Statements;
  readonly #id: number;
  readonly #depth: number;
  readonly #changeLogLimit: number;
  readonly #startRevision: number;
  #revision: number;
  #keyDelta = 0;
  #bytesDelta = 0;
  #open = true;
  /** The row each entry answered by {@link SqliteTx.head} came from (its scopes JSON is reused). */
  readonly #rows = new WeakMap<StoredEntry, EntryRow>();

  /**
   * @param stmts - the storage's statements
   * @param row - the store's row, read in this transaction
   * @param changeLogLimit - revisions kept in the change log
   */
  constructor(stmts: Statements, row: StoreRow, changeLogLimit: number) {
    this.#stmts = stmts;
    this.store = toStore(row);
    this.#id = row.id;
    this.#depth = row.history;
    this.#changeLogLimit = changeLogLimit;
    this.#startRevision = row.revision;
    this.#revision = row.revision;
  }

  #check(): void {
    if (!this.#open) throw new Error('SqliteStorage: this transaction is over');
  }

  /** The scopes of `entry` as stored (JSON). */
  #scopesJson(entry: StoredEntry): string {
    return this.#rows.get(entry)?.scopes ?? JSON.stringify(entry.scopes);
  }

  /** @inheritDoc */
  head(key: string): StoredEntry | undefined {
    this.#check();
    const row = this.#stmts.getEntryMeta.get(this.#id, key) as EntryRow | undefined;
    if (row === undefined) return undefined;
    const entry = toEntry(row);
    this.#rows.set(entry, row);
    return entry;
  }

  /** @inheritDoc */
  value(key: string): Uint8Array | undefined {
    this.#check();
    const row = this.#stmts.getEntry.get(this.#id, key) as EntryRow | undefined;
    return row === undefined ? undefined : toBytes(row.value);
  }

  /** @inheritDoc */
  lastRecord(key: string): ChangeRecord | undefined {
    this.#check();
    const row = this.#stmts.lastHistory.get(this.#id, key) as ChangeRow | undefined;
    return row === undefined ? undefined : toChange(row);
  }

  /** @inheritDoc */
  putEntry(entry: StoredEntry, previous: StoredEntry | undefined): void {
    this.#check();
    const stmts = this.#stmts;
    const scopes = JSON.stringify(entry.scopes);
    const metadata = entry.metadata === null ? null : JSON.stringify(entry.metadata);
    const size = entry.value.byteLength;
    // A long value goes to `blobs`, shared by this revision's entries, history and changes rows.
    const blobId =
      size > INLINE_VALUE_MAX_BYTES ? Number(stmts.insertBlob.run(entry.value).lastInsertRowid) : null;
    const inlineValue = blobId === null ? entry.value : EMPTY;
    if (previous !== undefined) {
      if (this.#depth > 1) stmts.historyFromEntry.run('put', this.#id, entry.key);
      // Same life: id and createdAt unchanged, so the id index is not touched.
      stmts.overwriteEntry.run(
        entry.revision,
        entry.contentType,
        metadata,
        scopes,
        entry.updatedAt,
        entry.expiresAt,
        entry.resume ? 1 : 0,
        size,
        inlineValue,
        blobId,
        this.#id,
        entry.key,
      );
      const previousScopes = this.#scopesJson(previous);
      if (previousScopes !== scopes) {
        this.#removeScopes(entry.key, previousScopes);
        this.#addScopes(entry.key, scopes);
      }
    } else {
      stmts.insertEntry.run(
        this.#id,
        entry.key,
        entry.id,
        entry.revision,
        entry.contentType,
        metadata,
        scopes,
        entry.createdAt,
        entry.updatedAt,
        entry.expiresAt,
        entry.resume ? 1 : 0,
        size,
        inlineValue,
        blobId,
      );
      this.#addScopes(entry.key, scopes);
    }
    stmts.trimHistory.run(this.#id, entry.key, this.#id, entry.key, this.#depth - 1);
  }

  /** @inheritDoc */
  updateEntry(
    previous: StoredEntry,
    change: { revision: number; updatedAt: number; expiresAt: number | null },
  ): void {
    this.#check();
    const stmts = this.#stmts;
    if (this.#depth > 1) stmts.historyFromEntry.run('put', this.#id, previous.key);
    stmts.updateExpiry.run(change.revision, change.updatedAt, change.expiresAt, this.#id, previous.key);
    stmts.trimHistory.run(this.#id, previous.key, this.#id, previous.key, this.#depth - 1);
  }

  /** @inheritDoc */
  removeEntry(previous: StoredEntry): void {
    this.#check();
    if (this.#depth > 1) this.#stmts.historyFromEntry.run('put', this.#id, previous.key);
    this.#stmts.deleteEntry.run(this.#id, previous.key);
    this.#removeScopes(previous.key, this.#scopesJson(previous));
  }

  /** @inheritDoc */
  appendHistory(tombstone: ChangeRecord): void {
    this.#check();
    this.#stmts.insertHistory.run(this.#id, ...this.#recordFields(tombstone));
    this.#stmts.trimHistory.run(this.#id, tombstone.key, this.#id, tombstone.key, this.#depth);
  }

  /** @inheritDoc */
  purgeHistory(key: string): void {
    this.#check();
    this.#stmts.purgeHistory.run(this.#id, key);
  }

  /** @inheritDoc */
  appendChange(record: ChangeRecord): void {
    this.#check();
    // A put is the key's entry row: copied with its value (or blob) instead of binding the bytes again.
    if (record.operation === 'put') this.#stmts.changeFromEntry.run('put', this.#id, record.key);
    else this.#stmts.insertChange.run(this.#id, ...this.#recordFields(record));
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

  /** @inheritDoc */
  getIdempotency(scopeKey: string, nowMs: number): IdempotencyRecord | undefined {
    this.#check();
    return readIdempotencyRow(this.#stmts, scopeKey, nowMs, true);
  }

  /** @inheritDoc */
  putIdempotency(scopeKey: string, record: IdempotencyRecord): void {
    this.#check();
    putIdempotencyRow(this.#stmts, scopeKey, record);
  }

  /** @inheritDoc */
  getMessage(id: string): QueueMessage | undefined {
    this.#check();
    const row = this.#stmts.getMessage.get(this.#id, id) as QueueRow | undefined;
    return row === undefined ? undefined : toMessage(row);
  }

  /** @inheritDoc */
  dueMessages(nowMs: number, limit: number): QueueMessage[] {
    this.#check();
    const rows = this.#stmts.dueMessages.all(this.#id, nowMs, Math.max(0, Math.floor(limit))) as QueueRow[];
    return rows.map(toMessage);
  }

  /** @inheritDoc */
  putMessage(message: QueueMessage): void {
    this.#check();
    this.#stmts.putMessage.run(this.#id, ...messageParams(message));
  }

  /** @inheritDoc */
  deleteMessage(id: string): void {
    this.#check();
    this.#stmts.deleteMessage.run(this.#id, id);
  }

  /**
   * Writes the store row (revision, stats) and trims the change log; the transaction is over after it.
   * Old change rows are deleted once per {@link TRIM_BATCH} revisions: one page write per batch instead
   * of one per commit (reads hide rows older than the window).
   */
  finish(): void {
    this.#check();
    this.#open = false;
    this.#stmts.updateStoreCounters.run(this.#revision, this.#keyDelta, this.#bytesDelta, this.#id);
    const cutoff = this.#revision - this.#changeLogLimit;
    if (
      cutoff > 0 &&
      Math.floor(cutoff / TRIM_BATCH) > Math.floor((this.#startRevision - this.#changeLogLimit) / TRIM_BATCH)
    ) {
      this.#stmts.trimChanges.run(this.#id, cutoff);
    }
  }

  /** Ends the transaction without writing the store row (it is being rolled back). */
  abandon(): void {
    this.#open = false;
  }

  /** The columns of `history`/`changes` after `store_id`, for a tombstone or purge record. */
  #recordFields(r: ChangeRecord) {
    return [
      r.key,
      r.revision,
      r.operation,
      r.id,
      r.contentType,
      r.metadata === null ? null : JSON.stringify(r.metadata),
      JSON.stringify(r.scopes),
      r.createdAt,
      r.updatedAt,
      r.expiresAt,
      r.resume ? 1 : 0,
      0,
      EMPTY,
    ] as const;
  }

  #addScopes(key: string, scopesJson: string): void {
    if (scopesJson === '[]') return;
    for (const scope of JSON.parse(scopesJson) as string[]) this.#stmts.insertScope.run(this.#id, scope, key);
  }

  #removeScopes(key: string, scopesJson: string): void {
    if (scopesJson === '[]') return;
    for (const scope of JSON.parse(scopesJson) as string[]) this.#stmts.deleteScope.run(this.#id, scope, key);
  }
}

/**
 * The idempotency record for `scopeKey` unless missing or expired at `nowMs`; an expired one is deleted
 * when `tidy` (a write: callers pass false for a file found corrupt).
 */
export function readIdempotencyRow(
  stmts: Statements,
  scopeKey: string,
  nowMs: number,
  tidy: boolean,
): IdempotencyRecord | undefined {
  const row = stmts.getIdempotency.get(scopeKey) as
    | { fingerprint: string; status: number; headers: string; body: Uint8Array; expires_at: number }
    | undefined;
  if (!row) return undefined;
  if (row.expires_at <= nowMs) {
    if (tidy) stmts.deleteIdempotency.run(scopeKey, row.expires_at);
    return undefined;
  }
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    headers: JSON.parse(row.headers) as Record<string, string>,
    body: toBytes(row.body),
    expiresAt: row.expires_at,
  };
}

/** Inserts an idempotency record unless one exists for `scopeKey` (first writer wins). */
export function putIdempotencyRow(stmts: Statements, scopeKey: string, record: IdempotencyRecord): void {
  stmts.putIdempotency.run(
    scopeKey,
    record.fingerprint,
    record.status,
    JSON.stringify(record.headers),
    record.body,
    record.expiresAt,
  );
}

/** How {@link GroupCommit} reaches its storage. */
export interface GroupCommitHost {
  /** The connection. */
  db: Database.Database;
  /** The error that refuses every write (the file was found corrupt), or undefined. */
  refusal(): unknown;
  /** Maps an error of a statement (corruption errors mark the storage corrupt). */
  mapError(error: unknown): unknown;
}

/**
 * Group commit: writes queued in the same event-loop turn (concurrent requests) run, in arrival order,
 * inside one `BEGIN IMMEDIATE` transaction, each in its own savepoint (a write that throws is rolled
 * back alone); every promise settles only after that transaction is committed to the WAL, so no
 * acknowledged write is lost when the process dies. Results are exactly those of running the writes one
 * by one. A corruption error fails the whole batch (nothing more is written into a damaged file).
 */
export class GroupCommit {
  readonly #host: GroupCommitHost;
  /** One transaction wrapper, made once (better-sqlite3 builds a new function per `db.transaction`). */
  readonly #runner: Database.Transaction<(fn: () => unknown) => unknown>;
  #pending: Array<{
    apply: () => unknown;
    resolve: (result: never) => void;
    reject: (error: unknown) => void;
  }> = [];

  /** @param host - the storage: its connection, refusal and error mapping */
  constructor(host: GroupCommitHost) {
    this.#host = host;
    this.#runner = host.db.transaction((fn: () => unknown) => fn());
  }

  /** Queues `apply` for the next group commit; resolves with its result once that transaction is in the WAL. */
  enqueue<T>(apply: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ apply, resolve: resolve as (result: never) => void, reject });
      if (this.#pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Runs the queued writes now, in one transaction. */
  flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const refused = this.#host.refusal();
    if (refused !== undefined) {
      // Found corrupt since these were queued: nothing more is written into the file.
      for (const item of batch) item.reject(refused);
      return;
    }
    const outcomes: Array<{ ok: true; result: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#runner.immediate(() => {
        outcomes.length = 0;
        for (const item of batch) {
          try {
            // Nested transaction function = SAVEPOINT; it rolls back to it when the write throws.
            outcomes.push({ ok: true, result: this.#runner(item.apply) });
          } catch (error) {
            // A damaged file fails the whole transaction: the other writes of the batch must not be
            // committed into it either (the outer catch rejects them all).
            if (isCorruptionError(error)) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The transaction itself failed (e.g. disk full, a corrupt page): nothing of the batch was written.
      const reason = this.#host.mapError(error);
      for (const item of batch) item.reject(reason);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.result as never);
      else item.reject(outcome.error);
    });
  }
}
