/**
 * Opening a SQLite database file for `SqliteStorage` and the errors of a damaged one: file checks
 * before opening, `PRAGMA quick_check`, migrations, and the classification of SQLite errors
 * ({@link DatabaseOpenError} when opening, {@link DatabaseCorruptError} while serving).
 *
 * @module
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { KvError } from '@kv/core/protocol';
import type Database from 'better-sqlite3';
import { MIGRATIONS } from './schema.js';

/** Whether `e` is an error of better-sqlite3 (it has a SQLite `code`). */
export function isSqliteError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** Why `SqliteStorage.open` failed. */
export type DatabaseOpenFailure = 'read_only' | 'corrupt' | 'cannot_open' | 'newer_schema';

/**
 * Thrown by `SqliteStorage.open` when the database file cannot be used: read-only, not a SQLite
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

/** Applies the migrations after version `from`, each in its own transaction (schema.ts). */
export function migrate(db: Database.Database, from: number): void {
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

/** Fails early, naming the file, when an existing database file or its directory is not writable. */
export function checkFile(path: string, readonly: boolean): void {
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
export function quickCheck(db: Database.Database, path: string): void {
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
