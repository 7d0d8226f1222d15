/**
 * `SqliteStorage`: the engine's `Storage` on an embedded SQLite database (`better-sqlite3`), the
 * server's default (docs/architecture.md: embedded SQLite by default, WAL).
 *
 * Layout (see `schema.ts`): `stores` holds settings, the revision sequence and the stats counters;
 * `entries` the current row of each key; `history` its past revisions (superseded puts and tombstones,
 * trimmed to the store's depth); `changes` a bounded per-store change log for watch; `entry_scopes` one
 * row per (entry, scope); `idempotency` the stored first responses; `blobs` the values longer than
 * `INLINE_VALUE_MAX_BYTES`, out of the clustered trees (the row of each revision points at its blob,
 * triggers delete a blob with its last row). Every `commit` is one
 * `BEGIN IMMEDIATE` transaction; revisions come from the store row, so they are gapless per store.
 * Every list/scope/id/expiry/history/change query is an index range scan (checked by a test with
 * `EXPLAIN QUERY PLAN`).
 *
 * better-sqlite3 is synchronous: each method runs to completion before the returned promise settles, so
 * no read ever observes half a commit even without the transaction.
 *
 * @module
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  compareKeys,
  type JsonObject,
  KeyExistsError,
  KvError,
  type Operation,
  type StoreConfig,
  StoreNotFoundError,
  storedExpiresAtMs,
} from '@kv/core/protocol';
import type {
  ChangeRecord,
  CommitRequest,
  CommitResult,
  IdempotencyRecord,
  Mutation,
  MutationResult,
  Precondition,
  PutOp,
  ScanQuery,
  Storage,
  StoredEntry,
  StoreRecord,
} from '@kv/engine';
import Database from 'better-sqlite3';
import { prefixSuccessor } from './keys.js';
import { INLINE_VALUE_MAX_BYTES, MIGRATIONS } from './schema.js';

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
   * missing (tests running on sources) automatic checkpoints are used.
   * @default 1000
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

/** Why {@link SqliteStorage.open} failed. */
export type DatabaseOpenFailure = 'read_only' | 'corrupt' | 'cannot_open' | 'newer_schema';

/**
 * Thrown by {@link SqliteStorage.open} when the database file cannot be used: read-only, not a SQLite
 * database or corrupt, not openable, or written by a newer server. The message names the file.
 */
export class DatabaseOpenError extends Error {
  /** Absolute path of the database file. */
  readonly path: string;
  /** The kind of failure. */
  readonly reason: DatabaseOpenFailure;

  /**
   * @param path - the database file
   * @param reason - the kind of failure
   * @param message - what went wrong and how to fix it
   * @param cause - the underlying SQLite or file system error
   */
  constructor(path: string, reason: DatabaseOpenFailure, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseOpenError';
    this.path = path;
    this.reason = reason;
  }
}

/**
 * What every `SqliteStorage` method throws once a statement has found the database file corrupt
 * (`SQLITE_CORRUPT*`, `SQLITE_NOTADB`): a 500 `internal` error whose message says the database is damaged
 * and writes are refused (details `{ reason: 'database_corrupt' }`). The message never holds the path
 * (it reaches clients); {@link DatabaseCorruptError.path} does, for logs.
 */
export class DatabaseCorruptError extends KvError {
  /** Absolute path of the database file (for logs; not in the message). */
  readonly path: string;

  /**
   * @param path - the database file
   * @param cause - the SQLite error that found the damage
   */
  constructor(path: string, cause: unknown) {
    super(
      'The server database is damaged (SQLite: database disk image is malformed); the server refuses writes until an operator restores it from a backup',
      { code: 'internal', status: 500, cause, details: { reason: 'database_corrupt' } },
    );
    this.path = path;
  }
}

/** Whether `e` is SQLite saying the file is damaged or not a database. */
export function isCorruptionError(e: unknown): boolean {
  if (!isSqliteError(e)) return false;
  return e.code === 'SQLITE_NOTADB' || e.code.startsWith('SQLITE_CORRUPT');
}

interface StoreRow {
  id: number;
  name: string;
  history: number;
  default_ttl_ms: number | null;
  max_value_bytes: number;
  revision: number;
  key_count: number;
  total_bytes: number;
  created_at: number;
  updated_at: number;
  signing_secret: string;
}

interface EntryRow {
  key: string;
  id: string;
  revision: number;
  content_type: string;
  metadata: string | null;
  scopes: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  resume: number;
  size: number;
  value?: Uint8Array;
}

interface ChangeRow extends EntryRow {
  operation: Operation;
}

/** Per-commit state of the store being written. */
interface StoreTx {
  id: number;
  /** Revision before this transaction. */
  startRevision: number;
  depth: number;
  revision: number;
  keyDelta: number;
  bytesDelta: number;
}

const EMPTY = new Uint8Array(0);
/** Change rows are physically deleted once per this many revisions. */
const TRIM_BATCH = 64;
const META_COLS =
  'key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size';
const RECORD_COLS = `store_id, key, revision, operation, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value`;
/**
 * The value of a row of `entries`, `history` or `changes` aliased `t`: inline, or from `blobs` when it
 * is longer than {@link INLINE_VALUE_MAX_BYTES}.
 */
const valueColumn = (t: string): string =>
  `CASE WHEN ${t}.blob_id IS NULL THEN ${t}.value ELSE (SELECT b.value FROM blobs b WHERE b.id = ${t}.blob_id) END AS value`;

function isSqliteError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

function toBytes(buf: Uint8Array | undefined): Uint8Array {
  if (!buf || buf.byteLength === 0) return new Uint8Array(0);
  // better-sqlite3 returns Buffers; hand out plain Uint8Array views (same memory, no copy).
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function toEntry(row: EntryRow): StoredEntry {
  return {
    key: row.key,
    id: row.id,
    value: toBytes(row.value),
    contentType: row.content_type,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as JsonObject),
    scopes: JSON.parse(row.scopes) as string[],
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    // A value no reader can format (over the limits, or not a number) is clamped or read as none.
    expiresAt: storedExpiresAtMs(row.expires_at),
    resume: row.resume === 1,
    size: row.size,
  };
}

function toChange(row: ChangeRow): ChangeRecord {
  return { ...toEntry(row), operation: row.operation };
}

function toStore(row: StoreRow): StoreRecord {
  return {
    name: row.name,
    history: row.history,
    defaultTtlMs: row.default_ttl_ms,
    maxValueBytes: row.max_value_bytes,
    revision: row.revision,
    keyCount: row.key_count,
    totalBytes: row.total_bytes,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    signingSecret: row.signing_secret,
  };
}

function isLive(row: EntryRow | undefined, nowMs: number): row is EntryRow {
  return row !== undefined && (row.expires_at === null || row.expires_at > nowMs);
}

/** Which precondition breaks for the current live entry (or none). */
function failureOf(
  live: EntryRow | undefined,
  precondition: Precondition | undefined,
): MutationResult['failure'] | undefined {
  if (!precondition) return undefined;
  switch (precondition.kind) {
    case 'revision':
      return live?.revision === precondition.revision ? undefined : 'revision_mismatch';
    case 'absent':
      return live ? 'key_exists' : undefined;
    case 'exists':
      return live ? undefined : 'key_not_found';
  }
}

function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort(compareKeys);
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
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly scanCache = new Map<string, Database.Statement>();
  private closed = false;
  private corruptError: DatabaseCorruptError | undefined;
  private readonly onCorruption: ((error: DatabaseCorruptError) => void) | undefined;
  private checkpointer: Worker | undefined;
  /**
   * Writes waiting for the next group commit (see {@link SqliteStorage.commit}): commits and
   * idempotency records, each applied in its own savepoint.
   */
  private pending: Array<{
    apply: () => unknown;
    resolve: (result: never) => void;
    reject: (error: unknown) => void;
  }> = [];
  /** One transaction wrapper, made once (better-sqlite3 builds a new function per `db.transaction`). */
  private readonly txRunner: Database.Transaction<(fn: () => unknown) => unknown>;

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
    this.txRunner = db.transaction((fn: () => unknown) => fn());
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
      const interval = options.checkpointIntervalMs === undefined ? 1000 : options.checkpointIntervalMs;
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
  }

  /** @inheritDoc */
  async getStore(name: string): Promise<StoreRecord | undefined> {
    const row = this.stmts.getStore.get(name) as StoreRow | undefined;
    return row && toStore(row);
  }

  /** @inheritDoc */
  async listStores(): Promise<StoreRecord[]> {
    return (this.stmts.listStores.all() as StoreRow[]).map(toStore);
  }

  /** @inheritDoc */
  async updateStore(name: string, patch: Partial<StoreConfig>, nowMs: number): Promise<StoreRecord> {
    return this.write(() => {
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
    });
  }

  /** @inheritDoc */
  async rotateSigningSecret(name: string, secret: string, nowMs: number): Promise<StoreRecord> {
    const row = this.stmts.rotateSecret.get(secret, nowMs, name) as StoreRow | undefined;
    if (!row) throw storeNotFound(name);
    return toStore(row);
  }

  /** @inheritDoc */
  async deleteStore(name: string): Promise<boolean> {
    return this.write(() => {
      const row = this.stmts.getStore.get(name) as StoreRow | undefined;
      if (!row) return false;
      for (const stmt of this.stmts.deleteStoreData) stmt.run(row.id);
      return true;
    });
  }

  // ---------------------------------------------------------------- reads

  /** @inheritDoc */
  async get(store: string, key: string, nowMs: number): Promise<StoredEntry | undefined> {
    const row = this.stmts.getWithStore.get(key, store) as (EntryRow & { sid: number }) | undefined;
    if (!row) throw storeNotFound(store);
    if (row.key === null || !isLive(row, nowMs)) return undefined;
    return toEntry(row);
  }

  /** @inheritDoc */
  async getById(store: string, id: string, nowMs: number): Promise<StoredEntry | undefined> {
    const storeId = this.requireStoreId(store);
    const row = this.stmts.getById.get(storeId, id) as EntryRow | undefined;
    return isLive(row, nowMs) ? toEntry(row) : undefined;
  }

  /** @inheritDoc */
  async getMany(
    store: string,
    keys: string[],
    nowMs: number,
    values: boolean,
  ): Promise<Array<StoredEntry | undefined>> {
    const storeId = this.requireStoreId(store);
    const stmt = values ? this.stmts.getEntry : this.stmts.getEntryMeta;
    return this.read(() =>
      keys.map((key) => {
        const row = stmt.get(storeId, key) as EntryRow | undefined;
        return isLive(row, nowMs) ? toEntry(row) : undefined;
      }),
    );
  }

  /** @inheritDoc */
  async scan(store: string, query: ScanQuery): Promise<StoredEntry[]> {
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
  }

  /** @inheritDoc */
  async history(store: string, key: string): Promise<ChangeRecord[]> {
    return this.read(() => {
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
    return this.read(() => {
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
    return this.read(() => {
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
    return this.read(() => this.floorOf(this.requireStore(store)));
  }

  // ---------------------------------------------------------------- writes

  /** @inheritDoc */
  /**
   * Applies a commit. Group commit: commits issued in the same event-loop turn (concurrent requests)
   * run, in arrival order, inside one SQLite transaction, each in its own savepoint (a commit that
   * throws is rolled back alone); every promise settles only after that transaction is durable in the
   * WAL. Revisions and results are exactly those of running the commits one by one.
   */
  async commit(store: string, request: CommitRequest): Promise<CommitResult> {
    return this.enqueueWrite(() => this.commitTx(store, request));
  }

  /** Queues `apply` for the next group commit; resolves with its result once that transaction is in the WAL. */
  private enqueueWrite<T>(apply: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('SqliteStorage is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ apply, resolve: resolve as (result: never) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flushCommits());
    });
  }

  private flushCommits(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (this.corruptError !== undefined) {
      // Found corrupt since these were queued: nothing more is written into the file.
      for (const item of batch) item.reject(this.corruptError);
      return;
    }
    const outcomes: Array<{ ok: true; result: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.write(() => {
        outcomes.length = 0;
        for (const item of batch) {
          try {
            // Nested transaction function = SAVEPOINT; it rolls back to it when the write throws.
            const result = this.txRunner(item.apply);
            outcomes.push({ ok: true, result });
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
      const reason = this.mapError(error);
      for (const item of batch) item.reject(reason);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.result as never);
      else item.reject(outcome.error);
    });
  }

  /** @inheritDoc */
  async sweepExpired(nowMs: number, limit: number): Promise<number> {
    return this.write(() => {
      const rows = this.stmts.expiredEntries.all(nowMs, Math.max(0, limit)) as Array<
        EntryRow & { store_id: number }
      >;
      const txs = new Map<number, StoreTx>();
      let expired = 0;
      for (const row of rows) {
        let tx = txs.get(row.store_id);
        if (!tx) {
          const s = this.stmts.getStoreById.get(row.store_id) as StoreRow | undefined;
          if (!s) {
            // Orphan row of a deleted store (cannot happen through this class): just drop it.
            this.stmts.deleteEntry.run(row.store_id, row.key);
            continue;
          }
          tx = {
            id: s.id,
            depth: s.history,
            startRevision: s.revision,
            revision: s.revision,
            keyDelta: 0,
            bytesDelta: 0,
          };
          txs.set(row.store_id, tx);
        }
        this.tombstone(tx, row, 'expire', nowMs);
        expired++;
      }
      for (const tx of txs.values()) this.finishStoreTx(tx);
      this.stmts.deleteExpiredIdempotency.run(nowMs, Math.max(1000, limit));
      return expired;
    });
  }

  /** @inheritDoc */
  async getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined> {
    const row = this.stmts.getIdempotency.get(scopeKey) as
      | { fingerprint: string; status: number; headers: string; body: Uint8Array; expires_at: number }
      | undefined;
    if (!row) return undefined;
    if (row.expires_at <= nowMs) {
      // Tidying up is a write: never into a file found corrupt.
      if (this.corruptError === undefined) this.stmts.deleteIdempotency.run(scopeKey, row.expires_at);
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

  /** @inheritDoc */
  async putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void> {
    // Joins the group commit like a write: one transaction for many records instead of one each.
    const headers = JSON.stringify(record.headers);
    await this.enqueueWrite(() => {
      this.stmts.putIdempotency.run(
        scopeKey,
        record.fingerprint,
        record.status,
        headers,
        record.body,
        record.expiresAt,
      );
    });
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
    this.flushCommits();
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

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction (takes the write lock up front: no upgrade deadlock). */
  private write<T>(fn: () => T): T {
    return this.txRunner.immediate(fn) as T;
  }

  /** Runs `fn` in a read transaction: one consistent snapshot across its statements. */
  private read<T>(fn: () => T): T {
    return this.txRunner.deferred(fn) as T;
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

  private commitTx(store: string, request: CommitRequest): CommitResult {
    const s = this.requireStore(store);
    const tx: StoreTx = {
      id: s.id,
      depth: s.history,
      startRevision: s.revision,
      revision: s.revision,
      keyDelta: 0,
      bytesDelta: 0,
    };
    const now = request.nowMs;
    const load = (key: string): EntryRow | undefined =>
      this.stmts.getEntryMeta.get(tx.id, key) as EntryRow | undefined;

    if (request.mode === 'atomic') {
      // Deno KV semantics: every check and precondition is evaluated against the state before the commit.
      const failed: string[] = [];
      for (const check of request.checks ?? []) {
        const row = load(check.key);
        if (failureOf(isLive(row, now) ? row : undefined, check.precondition)) failed.push(check.key);
      }
      for (const m of request.mutations) {
        if (!m.precondition) continue;
        const row = load(m.key);
        if (failureOf(isLive(row, now) ? row : undefined, m.precondition)) failed.push(m.key);
      }
      if (failed.length > 0) return { ok: false, failedKeys: [...new Set(failed)] };
    }

    const results: MutationResult[] = [];
    for (const m of request.mutations) {
      let live = load(m.key);
      if (live && live.expires_at !== null && live.expires_at <= now) {
        // Expired but not swept yet: record its `expire` write first, as the sweeper would (each mode:
        // before the op's precondition, so a failed op still records it), then run the op without it.
        this.tombstone(tx, live, 'expire', now);
        live = undefined;
      }
      if (request.mode === 'each') {
        const failure = failureOf(live, m.precondition);
        if (failure) {
          const r: MutationResult = { key: m.key, status: 'failed', failure };
          if (live) {
            r.revision = live.revision;
            r.id = live.id;
          }
          results.push(r);
          continue;
        }
      }
      results.push(this.apply(tx, m, live, now));
    }
    this.finishStoreTx(tx);
    return { ok: true, results, revision: tx.revision };
  }

  /** Applies one mutation; `live` is the key's entry row, never an expired one (`commitTx` expired it). */
  private apply(tx: StoreTx, m: Mutation, live: EntryRow | undefined, now: number): MutationResult {
    switch (m.type) {
      case 'put':
        return this.put(tx, m, live, now);
      case 'delete':
        if (!live) return { key: m.key, status: 'noop', created: false };
        this.tombstone(tx, live, 'delete', now);
        return { key: m.key, status: 'applied', revision: tx.revision, id: live.id, created: true };
      case 'purge': {
        // The purge record keeps the fields of the key's newest record (its put or its tombstone).
        const head = live ?? (this.stmts.lastHistory.get(tx.id, m.key) as EntryRow | undefined);
        if (!head) return { key: m.key, status: 'noop', created: false };
        tx.revision++;
        if (live) {
          this.stmts.deleteEntry.run(tx.id, m.key);
          this.removeScopes(tx.id, m.key, live.scopes);
          tx.keyDelta--;
          tx.bytesDelta -= live.size;
        }
        this.stmts.purgeHistory.run(tx.id, m.key);
        this.stmts.insertChange.run(
          tx.id,
          m.key,
          tx.revision,
          'purge',
          head.id,
          head.content_type,
          head.metadata,
          head.scopes,
          head.created_at,
          now,
          null,
          head.resume,
          0,
          EMPTY,
        );
        return { key: m.key, status: 'applied', revision: tx.revision, id: head.id, created: !!live };
      }
      case 'setExpiry': {
        if (!live) return { key: m.key, status: 'noop' };
        if (tx.depth > 1) this.stmts.historyFromEntry.run('put', tx.id, m.key);
        tx.revision++;
        this.stmts.updateExpiry.run(tx.revision, now, m.expiresAt, tx.id, m.key);
        this.stmts.trimHistory.run(tx.id, m.key, tx.id, m.key, tx.depth - 1);
        this.stmts.changeFromEntry.run('put', tx.id, m.key);
        return { key: m.key, status: 'applied', revision: tx.revision, id: live.id };
      }
    }
  }

  private put(tx: StoreTx, op: PutOp, live: EntryRow | undefined, now: number): MutationResult {
    const scopes = JSON.stringify(normalizeScopes(op.scopes));
    const metadata = op.metadata === null ? null : JSON.stringify(op.metadata);
    const size = op.value.byteLength;
    // A long value goes to `blobs`, shared by this revision's entries, history and changes rows.
    const blobId =
      size > INLINE_VALUE_MAX_BYTES ? Number(this.stmts.insertBlob.run(op.value).lastInsertRowid) : null;
    const inlineValue = blobId === null ? op.value : EMPTY;
    const id = live ? live.id : op.newId;
    const createdAt = live ? live.created_at : now;
    tx.revision++;
    if (live) {
      if (tx.depth > 1) this.stmts.historyFromEntry.run('put', tx.id, op.key);
      // Same life: id and createdAt unchanged, so the id index is not touched.
      this.stmts.overwriteEntry.run(
        tx.revision,
        op.contentType,
        metadata,
        scopes,
        now,
        op.expiresAt,
        op.resume ? 1 : 0,
        size,
        inlineValue,
        blobId,
        tx.id,
        op.key,
      );
      if (live.scopes !== scopes) {
        this.removeScopes(tx.id, op.key, live.scopes);
        this.addScopes(tx.id, op.key, scopes);
      }
      tx.bytesDelta += size - live.size;
    } else {
      this.stmts.insertEntry.run(
        tx.id,
        op.key,
        id,
        tx.revision,
        op.contentType,
        metadata,
        scopes,
        createdAt,
        now,
        op.expiresAt,
        op.resume ? 1 : 0,
        size,
        inlineValue,
        blobId,
      );
      this.addScopes(tx.id, op.key, scopes);
      tx.keyDelta++;
      tx.bytesDelta += size;
    }
    this.stmts.trimHistory.run(tx.id, op.key, tx.id, op.key, tx.depth - 1);
    this.stmts.changeFromEntry.run('put', tx.id, op.key);
    return { key: op.key, status: 'applied', revision: tx.revision, id, created: !live };
  }

  /** Removes the entry `row` as a `delete` or `expire` write: tombstone in history and change log. */
  private tombstone(tx: StoreTx, row: EntryRow, operation: 'delete' | 'expire', now: number): void {
    if (tx.depth > 1) this.stmts.historyFromEntry.run('put', tx.id, row.key);
    tx.revision++;
    const fields = [
      row.key,
      tx.revision,
      operation,
      row.id,
      row.content_type,
      row.metadata,
      row.scopes,
      row.created_at,
      now,
      null,
      row.resume,
      0,
      EMPTY,
    ] as const;
    this.stmts.insertHistory.run(tx.id, ...fields);
    this.stmts.insertChange.run(tx.id, ...fields);
    this.stmts.deleteEntry.run(tx.id, row.key);
    this.removeScopes(tx.id, row.key, row.scopes);
    this.stmts.trimHistory.run(tx.id, row.key, tx.id, row.key, tx.depth);
    tx.keyDelta--;
    tx.bytesDelta -= row.size;
  }

  private floorOf(s: StoreRow): number {
    const row = this.stmts.minChange.get(s.id) as { rev: number | null };
    // Every revision has exactly one change row, so the window is the newest `changeLogLimit` revisions;
    // `min - 1` covers rows dropped by a server that ran with a smaller limit.
    return Math.max(0, s.revision - this.changeLogLimit, row.rev === null ? 0 : row.rev - 1);
  }

  private finishStoreTx(tx: StoreTx): void {
    this.stmts.updateStoreCounters.run(tx.revision, tx.keyDelta, tx.bytesDelta, tx.id);
    // Physically drop old change rows once per TRIM_BATCH revisions: one page write per batch instead of
    // one per commit. Reads hide rows older than the window (floorOf).
    const cutoff = tx.revision - this.changeLogLimit;
    if (
      cutoff > 0 &&
      Math.floor(cutoff / TRIM_BATCH) > Math.floor((tx.startRevision - this.changeLogLimit) / TRIM_BATCH)
    ) {
      this.stmts.trimChanges.run(tx.id, cutoff);
    }
  }

  private addScopes(storeId: number, key: string, scopesJson: string): void {
    if (scopesJson === '[]') return;
    for (const scope of JSON.parse(scopesJson) as string[]) this.stmts.insertScope.run(storeId, scope, key);
  }

  private removeScopes(storeId: number, key: string, scopesJson: string): void {
    if (scopesJson === '[]') return;
    for (const scope of JSON.parse(scopesJson) as string[]) this.stmts.deleteScope.run(storeId, scope, key);
  }
}

/** Methods that only read (a corruption error they meet is mapped; they still run once corrupt). */
const GUARDED_READS = [
  'getStore',
  'listStores',
  'get',
  'getById',
  'getMany',
  'scan',
  'history',
  'listScopes',
  'changes',
  'changeLogFloor',
  'getIdempotency',
] as const;
/** Methods that write: refused with the {@link DatabaseCorruptError} once the file was found corrupt. */
const GUARDED_WRITES = [
  'createStore',
  'updateStore',
  'rotateSigningSecret',
  'deleteStore',
  'commit',
  'sweepExpired',
  'putIdempotency',
] as const;

// Wraps each Storage method once, at load: a corruption error becomes DatabaseCorruptError (marking the
// storage corrupt), and once corrupt, writes are refused before they touch the file.
for (const name of [...GUARDED_READS, ...GUARDED_WRITES]) {
  const write = (GUARDED_WRITES as readonly string[]).includes(name);
  const original = SqliteStorage.prototype[name] as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(SqliteStorage.prototype, name, {
    configurable: true,
    writable: true,
    value: function guarded(this: SqliteStorage, ...args: unknown[]): Promise<unknown> {
      if (write && this.corruption !== undefined) return Promise.reject(this.corruption);
      return original.apply(this, args).catch((e: unknown) => {
        throw this.mapError(e);
      });
    },
  });
}

function storeNotFound(name: string): StoreNotFoundError {
  return new StoreNotFoundError(`store "${name}" not found`, { details: { store: name } });
}

/** Range of a scan in SQL terms, or undefined when it is empty. */
interface ScanBounds {
  lowerOp?: '>' | '>=';
  lower?: string;
  upperOp?: '<';
  upper?: string;
}

function scanBounds(query: ScanQuery): ScanBounds | undefined {
  const prefix = query.prefix ?? '';
  // [prefix, successor) is "starts with prefix"; startAfter narrows it from one side (exclusive).
  let lower: { op: '>' | '>='; key: string } | undefined =
    prefix === '' ? undefined : { op: '>=', key: prefix };
  let upper: string | undefined = prefix === '' ? undefined : prefixSuccessor(prefix);
  const after = query.after;
  if (after !== undefined) {
    if (query.reverse) {
      if (upper === undefined || compareKeys(after, upper) < 0) upper = after;
    } else if (lower === undefined || compareKeys(after, lower.key) >= 0) {
      lower = { op: '>', key: after };
    }
  }
  if (lower !== undefined && upper !== undefined && compareKeys(lower.key, upper) >= 0) return undefined;
  const out: ScanBounds = {};
  if (lower !== undefined) {
    out.lowerOp = lower.op;
    out.lower = lower.key;
  }
  if (upper !== undefined) {
    out.upperOp = '<';
    out.upper = upper;
  }
  return out;
}

/** SQL of one scan shape (statements are cached per shape). */
export function scanSql(
  scoped: boolean,
  lowerOp: '>' | '>=' | undefined,
  upperOp: '<' | undefined,
  reverse: boolean,
  values: boolean,
): string {
  const t = scoped ? 'e.' : '';
  const k = scoped ? 's.key' : 'key';
  const cols = `${META_COLS.split(', ')
    .map((c) => t + c)
    .join(', ')}, ${values ? valueColumn(scoped ? 'e' : 'entries') : "X'' AS value"}`;
  const from = scoped
    ? 'entry_scopes s CROSS JOIN entries e ON e.store_id = s.store_id AND e.key = s.key'
    : 'entries';
  const where = [scoped ? 's.store_id = ? AND s.scope = ?' : 'store_id = ?'];
  if (lowerOp) where.push(`${k} ${lowerOp} ?`);
  if (upperOp) where.push(`${k} ${upperOp} ?`);
  where.push(`(${t}expires_at IS NULL OR ${t}expires_at > ?)`);
  return `SELECT ${cols} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${k} ${reverse ? 'DESC' : 'ASC'} LIMIT ?`;
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string): Database.Statement => db.prepare(sql);
  return {
    // Reads the stores table itself (not its covering name index; SELECT 1 would read nothing).
    ping: p('SELECT revision FROM stores LIMIT 1'),
    insertStore: p(
      `INSERT INTO stores (name, history, default_ttl_ms, max_value_bytes, created_at, updated_at, signing_secret)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ),
    getStore: p('SELECT * FROM stores WHERE name = ?'),
    getStoreId: p('SELECT id FROM stores WHERE name = ?'),
    getStoreById: p('SELECT * FROM stores WHERE id = ?'),
    listStores: p('SELECT * FROM stores ORDER BY name'),
    updateStore: p(
      `UPDATE stores SET history = ?, default_ttl_ms = ?, max_value_bytes = ?, updated_at = ? WHERE id = ? RETURNING *`,
    ),
    rotateSecret: p('UPDATE stores SET signing_secret = ?, updated_at = ? WHERE name = ? RETURNING *'),
    updateStoreCounters: p(
      'UPDATE stores SET revision = ?, key_count = key_count + ?, total_bytes = total_bytes + ? WHERE id = ?',
    ),
    deleteStoreData: [
      p('DELETE FROM entry_scopes WHERE store_id = ?'),
      p('DELETE FROM entries WHERE store_id = ?'),
      p('DELETE FROM history WHERE store_id = ?'),
      p('DELETE FROM changes WHERE store_id = ?'),
      p('DELETE FROM stores WHERE id = ?'),
    ],
    // Keeps, per key, the newest `depth` rows minus one when the key has a live entry (that is its newest revision).
    trimStoreHistory: p(
      `DELETE FROM history WHERE (store_id, key, revision) IN (
         SELECT ranked.store_id, ranked.key, ranked.revision FROM (
           SELECT store_id, key, revision,
                  row_number() OVER (PARTITION BY key ORDER BY revision DESC) AS rn
           FROM history WHERE store_id = ?
         ) ranked
         WHERE ranked.rn > ? - EXISTS (
           SELECT 1 FROM entries e WHERE e.store_id = ranked.store_id AND e.key = ranked.key))`,
    ),

    getWithStore: p(
      `SELECT s.id AS sid, ${META_COLS.split(', ')
        .map((c) => `e.${c}`)
        .join(', ')}, ${valueColumn('e')}
       FROM stores s LEFT JOIN entries e ON e.store_id = s.id AND e.key = ? WHERE s.name = ?`,
    ),
    getEntry: p(`SELECT ${META_COLS}, ${valueColumn('e')} FROM entries e WHERE store_id = ? AND key = ?`),
    getEntryMeta: p(`SELECT ${META_COLS} FROM entries WHERE store_id = ? AND key = ?`),
    getById: p(`SELECT ${META_COLS}, ${valueColumn('e')} FROM entries e WHERE store_id = ? AND id = ?`),
    insertEntry: p(
      `INSERT INTO entries (store_id, key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    overwriteEntry: p(
      `UPDATE entries SET revision = ?, content_type = ?, metadata = ?, scopes = ?,
       updated_at = ?, expires_at = ?, resume = ?, size = ?, value = ?, blob_id = ? WHERE store_id = ? AND key = ?`,
    ),
    updateExpiry: p(
      'UPDATE entries SET revision = ?, updated_at = ?, expires_at = ? WHERE store_id = ? AND key = ?',
    ),
    deleteEntry: p('DELETE FROM entries WHERE store_id = ? AND key = ?'),
    // Oldest expiry first, ties by store name then key bytes (the order MemoryStorage sweeps in).
    expiredEntries: p(
      `SELECT e.store_id, ${META_COLS.split(', ')
        .map((c) => `e.${c}`)
        .join(', ')}
       FROM entries e JOIN stores s ON s.id = e.store_id
       WHERE e.expires_at IS NOT NULL AND e.expires_at <= ? ORDER BY e.expires_at, s.name, e.key LIMIT ?`,
    ),

    insertScope: p('INSERT OR IGNORE INTO entry_scopes (store_id, scope, key) VALUES (?, ?, ?)'),
    deleteScope: p('DELETE FROM entry_scopes WHERE store_id = ? AND scope = ? AND key = ?'),
    firstScope: p('SELECT scope FROM entry_scopes WHERE store_id = ? ORDER BY scope LIMIT 1'),
    nextScope: p('SELECT scope FROM entry_scopes WHERE store_id = ? AND scope > ? ORDER BY scope LIMIT 1'),
    scopeHasLive: p(
      `SELECT 1 FROM entry_scopes s CROSS JOIN entries e ON e.store_id = s.store_id AND e.key = s.key
       WHERE s.store_id = ? AND s.scope = ? AND (e.expires_at IS NULL OR e.expires_at > ?) LIMIT 1`,
    ),

    historyOf: p(
      `SELECT ${META_COLS}, operation, ${valueColumn('h')} FROM history h WHERE store_id = ? AND key = ?
       ORDER BY revision DESC LIMIT ?`,
    ),
    lastHistory: p(
      `SELECT ${META_COLS} FROM history WHERE store_id = ? AND key = ? ORDER BY revision DESC LIMIT 1`,
    ),
    historyFromEntry: p(
      `INSERT INTO history (${RECORD_COLS}, blob_id)
       SELECT store_id, key, revision, ?, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id
       FROM entries WHERE store_id = ? AND key = ?`,
    ),
    insertHistory: p(
      `INSERT INTO history (${RECORD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Keeps the newest `?` rows of one key.
    trimHistory: p(
      `DELETE FROM history WHERE store_id = ? AND key = ? AND revision <= (
         SELECT revision FROM history WHERE store_id = ? AND key = ? ORDER BY revision DESC LIMIT 1 OFFSET ?)`,
    ),
    purgeHistory: p('DELETE FROM history WHERE store_id = ? AND key = ?'),

    changeFromEntry: p(
      `INSERT INTO changes (${RECORD_COLS}, blob_id)
       SELECT store_id, key, revision, ?, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id
       FROM entries WHERE store_id = ? AND key = ?`,
    ),
    insertChange: p(`INSERT INTO changes (${RECORD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    changesAfter: p(
      `SELECT ${META_COLS}, operation, ${valueColumn('c')} FROM changes c WHERE store_id = ? AND revision > ?
       ORDER BY revision LIMIT ?`,
    ),
    insertBlob: p('INSERT INTO blobs (value) VALUES (?)'),
    minChange: p('SELECT min(revision) AS rev FROM changes WHERE store_id = ?'),
    trimChanges: p('DELETE FROM changes WHERE store_id = ? AND revision <= ?'),

    getIdempotency: p('SELECT * FROM idempotency WHERE scope_key = ?'),
    putIdempotency: p(
      `INSERT INTO idempotency (scope_key, fingerprint, status, headers, body, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (scope_key) DO NOTHING`,
    ),
    deleteIdempotency: p('DELETE FROM idempotency WHERE scope_key = ? AND expires_at = ?'),
    deleteExpiredIdempotency: p(
      `DELETE FROM idempotency WHERE scope_key IN (
         SELECT scope_key FROM idempotency WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
  };
}

function migrate(db: Database.Database, from: number): void {
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

/** Fails early, naming the file, when an existing database file or its directory is not writable. */
function checkFile(path: string, readonly: boolean): void {
  const dir = dirname(path);
  if (!existsSync(path)) {
    if (readonly) throw new DatabaseOpenError(path, 'cannot_open', `database file ${path} does not exist`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new DatabaseOpenError(
        path,
        'cannot_open',
        `cannot create the directory of database file ${path}: ${(e as Error).message}`,
        e,
      );
    }
    return;
  }
  const st = statSync(path);
  if (!st.isFile()) throw new DatabaseOpenError(path, 'cannot_open', `database path ${path} is not a file`);
  if (readonly) return;
  // Honour the file's mode even when running as root (root ignores permission bits in access(2)).
  let writable = (st.mode & 0o222) !== 0;
  try {
    accessSync(path, constants.W_OK);
  } catch {
    writable = false;
  }
  if (!writable) {
    throw new DatabaseOpenError(
      path,
      'read_only',
      `database file ${path} is read-only; make it writable (chmod u+w) or point --data at another file`,
    );
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new DatabaseOpenError(
      path,
      'read_only',
      `the directory of database file ${path} is not writable (SQLite needs it for the WAL)`,
      e,
    );
  }
}

/**
 * Refuses a file whose `PRAGMA quick_check` is not `ok`, quoting its first findings.
 *
 * @throws DatabaseOpenError (`corrupt`) naming the file
 */
function quickCheck(db: Database.Database, path: string): void {
  const rows = db.pragma('quick_check(5)', { simple: false }) as Array<{ quick_check: string }>;
  const findings = rows.map((r) => r.quick_check);
  if (findings.length === 1 && findings[0] === 'ok') return;
  throw new DatabaseOpenError(
    path,
    'corrupt',
    `database file ${path} is corrupt (PRAGMA quick_check: ${findings.slice(0, 3).join('; ')}); restore it from a backup (kv-server restore <backup>)`,
  );
}

/**
 * The {@link DatabaseOpenError} for an error met while opening or first using the database file at
 * `path` (so the message names the file): `corrupt` for `SQLITE_CORRUPT*`/`SQLITE_NOTADB`, `read_only`
 * for `SQLITE_READONLY*`, else `cannot_open`. A `DatabaseOpenError` is returned as is.
 *
 * @param path - absolute path of the database file
 * @param e - what was thrown (a better-sqlite3 `SqliteError` has a `code`)
 */
export function classifyOpenError(path: string, e: unknown): DatabaseOpenError {
  if (e instanceof DatabaseOpenError) return e;
  const code = isSqliteError(e) ? e.code : '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseOpenError(
      path,
      'corrupt',
      `database file ${path} is not a SQLite database or is corrupt (${msg}); restore it from a backup (kv-server restore <backup>)`,
      e,
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new DatabaseOpenError(path, 'read_only', `database file ${path} is read-only (${msg})`, e);
  }
  return new DatabaseOpenError(path, 'cannot_open', `cannot open database file ${path}: ${msg}`, e);
}
