/**
 * `SqliteStorage`: the engine's `Storage` on an embedded SQLite database (`better-sqlite3`), the
 * server's default (docs/architecture.md: embedded SQLite by default, WAL). It implements the
 * contract written in `@kv/engine`'s `storage.ts` (data access only; the commit rules are the engine's).
 *
 * Files: this facade (reads, store settings, lifecycle), `sqlite-storage-tx.ts` (the transaction's data
 * access and the group commit), `sqlite-storage-statements.ts` (rows and SQL), `sqlite-storage-open.ts`
 * (file checks, migrations, corruption errors); the tables are in `schema.ts`. Every
 * list/scope/id/expiry/history/change query is an index range scan (checked by a test with
 * `EXPLAIN QUERY PLAN`).
 *
 * better-sqlite3 is synchronous: a transaction's `fn` runs to completion inside the SQLite transaction
 * (it must not return a promise), so no read ever observes a write before its commit, and each read
 * method runs its statements before any other code can write.
 *
 * @module
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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
import Database from 'better-sqlite3';
import { scanBounds } from './keys.js';
import { MIGRATIONS } from './schema.js';
import {
  checkFile,
  classifyOpenError,
  DatabaseCorruptError,
  DatabaseOpenError,
  isCorruptionError,
  isSqliteError,
  migrate,
  quickCheck,
} from './sqlite-storage-open.js';
import {
  type ChangeRow,
  type EntryRow,
  isLive,
  prepareStatements,
  type QueueCountsRow,
  type Statements,
  type StoreRow,
  scanSql,
  toChange,
  toEntry,
  toQueueCounts,
  toStore,
} from './sqlite-storage-statements.js';
import { GroupCommit, putIdempotencyRow, readIdempotencyRow, SqliteTx } from './sqlite-storage-tx.js';

export {
  classifyOpenError,
  DatabaseCorruptError,
  DatabaseOpenError,
  type DatabaseOpenFailure,
  isCorruptionError,
} from './sqlite-storage-open.js';
export { scanSql } from './sqlite-storage-statements.js';

/** Options of {@link SqliteStorage.open}. */
export interface SqliteStorageOptions {
  /**
   * Path of the database file, or `:memory:`. A missing file is created, with its directory.
   * @example './data/kv.sqlite'
   */
  path: string;
  /**
   * `PRAGMA synchronous`. With WAL, `normal` never loses a committed transaction when the process
   * dies (kill -9), only possibly the last ones on power loss; `full` fsyncs every commit.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /**
   * How long a statement waits for a lock held by another connection (e.g. a backup), in ms.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Changes kept per store in the change log (watch resume window), in revisions.
   * @default 10000
   */
  changeLogLimit?: number;
  /**
   * Open read-only (backup and export tools). No migration runs; the schema must be current.
   * @default false
   */
  readonly?: boolean;
  /**
   * Checkpoint the WAL from a worker thread every this many ms (its own connection, `PASSIVE`), so
   * checkpoint `fsync`s never block the event loop; the main connection then only checkpoints as a
   * backstop when the WAL passes 10,000 pages. `null` leaves SQLite's automatic checkpoints (every
   * 1,000 pages, on the committing thread). Needs the built worker (`dist/checkpointer.js`); when it is
   * missing (tests running on sources) automatic checkpoints are used. Short, so that under a steady
   * write load the WAL is checkpointed before it reaches the backstop: at 1,000 ms, 32 connections of
   * PUTs (about 15,000 a second, several WAL frames each) reached it several times a second, and each
   * backstop checkpoint on the event loop put 20-30 ms into the p99 (docs/performance.md "WAL
   * checkpoints"). A checkpoint with nothing to copy costs microseconds.
   * @default 50
   */
  checkpointIntervalMs?: number | null;
  /**
   * Run `PRAGMA quick_check` before using the file, and refuse it (a `corrupt` {@link DatabaseOpenError})
   * unless it answers `ok`. It reads every page of the file: about 3 s per GB measured
   * (apps/server/README.md), nothing for a new file. Not run on `:memory:`.
   * @default true
   */
  quickCheck?: boolean;
  /**
   * Called once, with the error, when a statement first finds the file corrupt while serving (see
   * {@link SqliteStorage.corruption}); e.g. to log the file.
   * @default undefined
   */
  onCorruption?: (error: DatabaseCorruptError) => void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * `Storage` on SQLite. Open with {@link SqliteStorage.open}; call `close()` when done (it checkpoints
 * the WAL). One process should serve a database file; other processes may read it (backup, export).
 */
export class SqliteStorage implements Storage {
  /** The underlying better-sqlite3 connection (for backup, metrics and tests). */
  readonly db: Database.Database;
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  private readonly changeLogLimit: number;
  private readonly stmts: Statements;
  private readonly scanCache = new Map<string, Database.Statement>();
  private closed = false;
  private corruptError: DatabaseCorruptError | undefined;
  private readonly onCorruption: ((error: DatabaseCorruptError) => void) | undefined;
  private checkpointer: Worker | undefined;
  /** Commits and idempotency records waiting for the next group commit (see {@link GroupCommit}). */
  readonly #group: GroupCommit;
  /** One transaction wrapper, made once (better-sqlite3 builds a new function per `db.transaction`). */
  readonly #runner: Database.Transaction<(fn: () => unknown) => unknown>;
  private constructor(
    db: Database.Database,
    path: string,
    changeLogLimit: number,
    onCorruption: ((error: DatabaseCorruptError) => void) | undefined,
  ) {
    this.db = db;
    this.path = path;
    this.changeLogLimit = changeLogLimit;
    this.onCorruption = onCorruption;
    this.stmts = prepareStatements(db);
    this.#runner = db.transaction((fn: () => unknown) => fn());
    this.#group = new GroupCommit({
      db,
      refusal: () => this.corruptError,
      mapError: (error) => this.mapError(error),
    });
  }

  /**
   * Opens (creating if needed) the database, runs `PRAGMA quick_check` (unless `quickCheck: false`),
   * sets WAL, `synchronous`, `busy_timeout`, and applies pending migrations. Nothing is written to a
   * file that fails the check.
   *
   * @throws DatabaseOpenError when the file is read-only, not a SQLite database or corrupt, cannot be
   *   opened, or has a newer schema than this server knows.
   */
  static open(options: SqliteStorageOptions): SqliteStorage {
    const memory = options.path === ':memory:';
    const path = memory ? options.path : resolve(options.path);
    const readonly = options.readonly ?? false;
    if (!memory) checkFile(path, readonly);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly });
    } catch (e) {
      throw new DatabaseOpenError(
        path,
        'cannot_open',
        `cannot open database file ${path}: ${(e as Error).message}`,
        e,
      );
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      // Reading the schema is the first access to the file: a non-database file fails here.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        throw new DatabaseOpenError(
          path,
          'newer_schema',
          `database file ${path} has schema version ${version}, newer than this server's ${MIGRATIONS.length}; upgrade kv-server`,
        );
      }
      if (!memory && (options.quickCheck ?? true)) quickCheck(db, path);
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
        migrate(db, version);
      } else if (version < MIGRATIONS.length) {
        throw new DatabaseOpenError(
          path,
          'newer_schema',
          `database file ${path} has schema version ${version}; open it read-write once to migrate it to ${MIGRATIONS.length}`,
        );
      }
      db.pragma('foreign_keys = OFF');
      const storage = new SqliteStorage(db, path, options.changeLogLimit ?? 10_000, options.onCorruption);
      const interval = options.checkpointIntervalMs === undefined ? 50 : options.checkpointIntervalMs;
      if (!readonly && !memory && interval !== null)
        storage.startCheckpointer(interval, options.busyTimeoutMs ?? 5000);
      return storage;
    } catch (e) {
      db.close();
      if (e instanceof DatabaseOpenError) throw e;
      throw classifyOpenError(path, e);
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
    return this.#write(() => {
      try {
        const row = this.stmts.insertStore.get(
          name,
          config.history,
          config.defaultTtlMs,
          config.maxValueBytes,
          nowMs,
          nowMs,
          signingSecret,
        ) as StoreRow;
        return toStore(row);
      } catch (e) {
        if (isSqliteError(e) && e.code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new KeyExistsError(`store "${name}" already exists`, {
            code: 'store_exists',
            details: { store: name },
          });
        }
        throw e;
      }
    });
  }

  /** @inheritDoc */
  async getStore(name: string): Promise<StoreRecord | undefined> {
    return this.#read(() => {
      const row = this.stmts.getStore.get(name) as StoreRow | undefined;
      return row && toStore(row);
    });
  }

  /** @inheritDoc */
  async listStores(): Promise<StoreRecord[]> {
    return this.#read(() => (this.stmts.listStores.all() as StoreRow[]).map(toStore));
  }

  /** @inheritDoc */
  async updateStore(name: string, patch: Partial<StoreConfig>, nowMs: number): Promise<StoreRecord> {
    return this.#write(() =>
      this.#immediate(() => {
        const row = this.requireStore(name);
        const history = patch.history ?? row.history;
        const defaultTtlMs = patch.defaultTtlMs === undefined ? row.default_ttl_ms : patch.defaultTtlMs;
        const maxValueBytes = patch.maxValueBytes ?? row.max_value_bytes;
        const updated = this.stmts.updateStore.get(
          history,
          defaultTtlMs,
          maxValueBytes,
          nowMs,
          row.id,
        ) as StoreRow;
        if (history < row.history) this.stmts.trimStoreHistory.run(row.id, history);
        return toStore(updated);
      }),
    );
  }

  /** @inheritDoc */
  async rotateSigningSecret(name: string, secret: string, nowMs: number): Promise<StoreRecord> {
    return this.#write(() => {
      const row = this.stmts.rotateSecret.get(secret, nowMs, name) as StoreRow | undefined;
      if (!row) throw storeNotFound(name);
      return toStore(row);
    });
  }

  /** @inheritDoc */
  async deleteStore(name: string): Promise<boolean> {
    return this.#write(() =>
      this.#immediate(() => {
        const row = this.stmts.getStore.get(name) as StoreRow | undefined;
        if (!row) return false;
        for (const stmt of this.stmts.deleteStoreData) stmt.run(row.id);
        return true;
      }),
    );
  }

  // ---------------------------------------------------------------- reads

  /** @inheritDoc */
  async get(store: string, key: string, nowMs: number): Promise<StoredEntry | undefined> {
    return this.#read(() => {
      const row = this.stmts.getWithStore.get(key, store) as (EntryRow & { sid: number }) | undefined;
      if (!row) throw storeNotFound(store);
      if (row.key === null || !isLive(row, nowMs)) return undefined;
      return toEntry(row);
    });
  }

  /** @inheritDoc */
  async getById(store: string, id: string, nowMs: number): Promise<StoredEntry | undefined> {
    return this.#read(() => {
      const row = this.stmts.getById.get(this.requireStoreId(store), id) as EntryRow | undefined;
      return isLive(row, nowMs) ? toEntry(row) : undefined;
    });
  }

  /** @inheritDoc */
  async getMany(
    store: string,
    keys: string[],
    nowMs: number,
    values: boolean,
  ): Promise<Array<StoredEntry | undefined>> {
    const stmt = values ? this.stmts.getEntry : this.stmts.getEntryMeta;
    return this.#read(() => {
      const storeId = this.requireStoreId(store);
      return this.#snapshot(() =>
        keys.map((key) => {
          const row = stmt.get(storeId, key) as EntryRow | undefined;
          return isLive(row, nowMs) ? toEntry(row) : undefined;
        }),
      );
    });
  }

  /** @inheritDoc */
  async scan(store: string, query: ScanQuery): Promise<StoredEntry[]> {
    return this.#read(() => {
      const storeId = this.requireStoreId(store);
      const plan = scanBounds(query);
      if (!plan) return [];
      const stmt = this.scanStatement(query.scope !== undefined, plan.lowerOp, plan.upperOp, query);
      const params: Array<string | number> = [storeId];
      if (query.scope !== undefined) params.push(query.scope);
      if (plan.lowerOp) params.push(plan.lower!);
      if (plan.upperOp) params.push(plan.upper!);
      params.push(query.nowMs, Math.max(0, Math.floor(query.limit)));
      return (stmt.all(...params) as EntryRow[]).map(toEntry);
    });
  }

  /** @inheritDoc */
  async history(store: string, key: string): Promise<ChangeRecord[]> {
    return this.#readSnapshot(() => {
      const s = this.requireStore(store);
      const out: ChangeRecord[] = [];
      const live = this.stmts.getEntry.get(s.id, key) as EntryRow | undefined;
      if (live) out.push({ ...toEntry(live), operation: 'put' });
      const rows = this.stmts.historyOf.all(s.id, key, s.history - out.length) as ChangeRow[];
      for (const row of rows) out.push(toChange(row));
      return out;
    });
  }

  /** @inheritDoc */
  async listScopes(store: string, nowMs: number): Promise<string[]> {
    return this.#readSnapshot(() => {
      const storeId = this.requireStoreId(store);
      const out: string[] = [];
      // Skip scan: one index seek per distinct scope, then one probe for a live entry in it.
      let row = this.stmts.firstScope.get(storeId) as { scope: string } | undefined;
      while (row) {
        if (this.stmts.scopeHasLive.get(storeId, row.scope, nowMs)) out.push(row.scope);
        row = this.stmts.nextScope.get(storeId, row.scope) as { scope: string } | undefined;
      }
      return out;
    });
  }

  /** @inheritDoc */
  async changes(store: string, afterRevision: number, limit: number): Promise<ChangeRecord[]> {
    return this.#readSnapshot(() => {
      const s = this.requireStore(store);
      const after = Math.max(afterRevision, this.floorOf(s));
      return (this.stmts.changesAfter.all(s.id, after, Math.max(0, limit)) as ChangeRow[]).map(toChange);
    });
  }

  /**
   * Revision of the newest change dropped from the log, 0 when none was. The log keeps the newest
   * `changeLogLimit` revisions (rows are deleted in batches, older rows still on disk are hidden).
   */
  async changeLogFloor(store: string): Promise<number> {
    return this.#readSnapshot(() => this.floorOf(this.requireStore(store)));
  }

  /** @inheritDoc */
  async queueStats(store: string, nowMs: number): Promise<QueueCounts> {
    return this.#readSnapshot(() => {
      const storeId = this.requireStoreId(store);
      return toQueueCounts(this.stmts.queueCounts.get(nowMs, storeId) as QueueCountsRow | undefined);
    });
  }

  /** @inheritDoc */
  async expiredEntries(nowMs: number, limit: number): Promise<ExpiredEntry[]> {
    return this.#read(() => this.stmts.expiredEntries.all(nowMs, Math.max(0, limit)) as ExpiredEntry[]);
  }

  // ---------------------------------------------------------------- writes

  /**
   * See `Storage.transaction` (`@kv/engine`). `fn` runs in a savepoint of the next group commit
   * ({@link GroupCommit}: the transactions of one event-loop turn share one SQLite transaction, and every
   * promise settles once it is in the WAL). `fn` must finish synchronously: one that returns a promise is
   * rolled back and the call rejects with a `TypeError`.
   */
  async transaction<T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T> {
    return this.#write(() =>
      this.#enqueue(() => {
        const tx = new SqliteTx(this.stmts, this.requireStore(store), this.changeLogLimit);
        try {
          const result = fn(tx);
          if (isThenable(result)) {
            // Its later calls throw (the transaction is over); keep that rejection from going unhandled.
            result.then(undefined, () => {});
            throw new TypeError('SqliteStorage.transaction: fn must finish synchronously');
          }
          tx.finish();
          return result;
        } finally {
          tx.abandon();
        }
      }),
    );
  }

  /** @inheritDoc */
  async getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined> {
    // Tidying up is a write: never into a file found corrupt.
    return this.#read(() => readIdempotencyRow(this.stmts, scopeKey, nowMs, this.corruptError === undefined));
  }

  /** @inheritDoc */
  async putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void> {
    // Joins the group commit like a write: one transaction for many records instead of one each.
    await this.#write(() => this.#enqueue(() => putIdempotencyRow(this.stmts, scopeKey, record)));
  }

  /** @inheritDoc */
  async deleteExpiredIdempotency(nowMs: number, limit: number): Promise<number> {
    return this.#write(() => this.stmts.deleteExpiredIdempotency.run(nowMs, Math.max(0, limit)).changes);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Readiness: false once closed or found corrupt, or when reading the root page of the `stores` table
   * fails (one page, usually cached; a changed or damaged file is read again).
   */
  async ping(): Promise<boolean> {
    if (this.closed || this.corruptError !== undefined) return false;
    try {
      this.stmts.ping.get();
      return true;
    } catch (e) {
      this.mapError(e);
      return false;
    }
  }

  /**
   * The error every method throws since a statement found the file corrupt, or undefined while it has
   * not. Reads are still attempted (undamaged data stays readable); writes are refused.
   */
  get corruption(): DatabaseCorruptError | undefined {
    return this.corruptError;
  }

  /**
   * Maps an error of a statement on this connection: a corruption error (`SQLITE_CORRUPT*`,
   * `SQLITE_NOTADB`) marks the storage corrupt (calling `onCorruption` the first time) and becomes the
   * {@link DatabaseCorruptError}; anything else is returned unchanged.
   */
  mapError(error: unknown): unknown {
    if (error instanceof DatabaseCorruptError || !isCorruptionError(error)) return error;
    if (this.corruptError === undefined) {
      this.corruptError = new DatabaseCorruptError(this.path, error);
      this.onCorruption?.(this.corruptError);
    }
    return this.corruptError;
  }

  /** @throws DatabaseCorruptError once the file was found corrupt (no write may touch it) */
  assertWritable(): void {
    if (this.corruptError !== undefined) throw this.corruptError;
  }

  /** Closes the connection (runs `PRAGMA optimize`; the last connection checkpoints the WAL). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.#group.flush();
    this.closed = true;
    const worker = this.checkpointer;
    if (worker) {
      this.checkpointer = undefined;
      const exited = new Promise<void>((res) => worker.once('exit', () => res()));
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    }
    try {
      // Never write statistics into a damaged file.
      if (!this.db.readonly && this.corruptError === undefined) this.db.pragma('optimize');
    } catch {
      // best effort
    }
    this.db.close();
  }

  /** Per-store live key counts and value bytes, for `/metrics`. */
  storeStats(): Array<{ name: string; keyCount: number; totalBytes: number; revision: number }> {
    return (this.stmts.listStores.all() as StoreRow[]).map((r) => ({
      name: r.name,
      keyCount: r.key_count,
      totalBytes: r.total_bytes,
      revision: r.revision,
    }));
  }

  /**
   * The SQL of every statement this storage prepares, by name, including one per scan shape (the
   * `EXPLAIN QUERY PLAN` test checks that each is an index range scan).
   */
  statementSql(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.stmts)) {
      if (Array.isArray(value)) {
        for (const [i, stmt] of value.entries()) out[`${name}.${i}`] = stmt.source;
      } else out[name] = value.source;
    }
    for (const scoped of [false, true]) {
      for (const lowerOp of [undefined, '>', '>='] as const) {
        for (const upperOp of [undefined, '<'] as const) {
          for (const reverse of [false, true]) {
            for (const values of [false, true]) {
              out[
                `scan:${scoped ? 'scope' : 'key'}:${lowerOp ?? ''}:${upperOp ?? ''}:${reverse ? 'desc' : 'asc'}:${values ? 'values' : ''}`
              ] = scanSql(scoped, lowerOp, upperOp, reverse, values);
            }
          }
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- internals

  private startCheckpointer(intervalMs: number, busyTimeoutMs: number): void {
    const script = new URL('./checkpointer.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) return; // running on sources: keep automatic checkpoints
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    const worker = new Worker(script, { workerData: { path: this.path, intervalMs, busyTimeoutMs } });
    worker.unref();
    worker.on('error', () => {
      // The worker died: fall back to automatic checkpoints on this connection.
      if (!this.closed) this.db.pragma('wal_autocheckpoint = 1000');
    });
    this.checkpointer = worker;
  }

  /**
   * Runs a read: an error of its statements is mapped by {@link SqliteStorage.mapError} (a corruption
   * error marks the storage corrupt). Reads still run once the file was found corrupt.
   */
  async #read<T>(fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /** {@link SqliteStorage.#read} of `fn` in one read transaction (one snapshot across its statements). */
  #readSnapshot<T>(fn: () => T): Promise<T> {
    return this.#read(() => this.#snapshot(fn));
  }

  /**
   * Runs a write: refused with the {@link DatabaseCorruptError} once the file was found corrupt (nothing
   * touches it), and an error of its statements is mapped like a read's.
   */
  async #write<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.corruptError !== undefined) throw this.corruptError;
    try {
      return await fn();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /** Queues `apply` for the next group commit (refused once closed). */
  #enqueue<T>(apply: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('SqliteStorage is closed'));
    return this.#group.enqueue(apply);
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction (takes the write lock up front: no upgrade deadlock). */
  #immediate<T>(fn: () => T): T {
    return this.#runner.immediate(fn) as T;
  }

  /** Runs `fn` in a read transaction: one consistent snapshot across its statements. */
  #snapshot<T>(fn: () => T): T {
    return this.#runner.deferred(fn) as T;
  }

  private requireStore(name: string): StoreRow {
    const row = this.stmts.getStore.get(name) as StoreRow | undefined;
    if (!row) throw storeNotFound(name);
    return row;
  }

  private requireStoreId(name: string): number {
    const row = this.stmts.getStoreId.get(name) as { id: number } | undefined;
    if (!row) throw storeNotFound(name);
    return row.id;
  }

  private scanStatement(
    scoped: boolean,
    lowerOp: '>' | '>=' | undefined,
    upperOp: '<' | undefined,
    query: ScanQuery,
  ): Database.Statement {
    const reverse = query.reverse === true;
    const cacheKey = `${scoped ? 's' : 'k'}|${lowerOp ?? ''}|${upperOp ?? ''}|${reverse ? 'r' : 'f'}|${query.values ? 'v' : ''}`;
    let stmt = this.scanCache.get(cacheKey);
    if (!stmt) {
      stmt = this.db.prepare(scanSql(scoped, lowerOp, upperOp, reverse, query.values));
      this.scanCache.set(cacheKey, stmt);
    }
    return stmt;
  }

  private floorOf(s: StoreRow): number {
    const row = this.stmts.minChange.get(s.id) as { rev: number | null };
    // Every revision has exactly one change row, so the window is the newest `changeLogLimit` revisions;
    // `min - 1` covers rows dropped by a server that ran with a smaller limit.
    return Math.max(0, s.revision - this.changeLogLimit, row.rev === null ? 0 : row.rev - 1);
  }
}

function storeNotFound(name: string): StoreNotFoundError {
  return new StoreNotFoundError(`store "${name}" not found`, { details: { store: name } });
}
