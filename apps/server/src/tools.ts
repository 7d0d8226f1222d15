/**
 * Maintenance commands of `kv-server`: online backup and restore of the SQLite file (SQLite's online
 * backup API, through better-sqlite3), and export/import of one store as JSON Lines in the same format
 * as the `kv` command line of `@kv/node` (`{"key","value","encoding","contentType","metadata","scopes",
 * "expiresAt","resume"}`; the line codec is `@kv/core`'s `jsonl.ts`, shared with the CLI).
 *
 * @module
 */
import { once } from 'node:events';
import { chmodSync, createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import {
  bytesToBase64,
  formatJsonLine,
  parseJsonLine,
  routes,
  type WireBulkSetBody,
  type WireWrite,
} from '@kv/core/protocol';
import { createEngine, type Storage } from '@kv/engine';
import Database from 'better-sqlite3';
import { createPrivateFile, PRIVATE_FILE_MODE } from './private-files.js';
import { MIGRATIONS } from './schema.js';
import { DatabaseOpenError, SqliteStorage } from './sqlite-storage.js';

/** Result of {@link backupDatabase} and {@link restoreDatabase}. */
export interface CopyResult {
  /** Absolute path written. */
  file: string;
  /** Database pages copied. */
  pages: number;
}

function openSource(path: string): Database.Database {
  if (!existsSync(path))
    throw new DatabaseOpenError(path, 'cannot_open', `database file ${path} does not exist`);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 1 || version > MIGRATIONS.length) {
      db.close();
      throw new DatabaseOpenError(
        path,
        'newer_schema',
        `${path} is not a kv database this server can read (schema version ${version}, expected 1-${MIGRATIONS.length})`,
      );
    }
  } catch (e) {
    if (e instanceof DatabaseOpenError) throw e;
    throw new DatabaseOpenError(
      path,
      'corrupt',
      `cannot read database file ${path}: ${(e as Error).message}`,
      e,
    );
  }
  return db;
}

/** Copies `source` into `target` with the online backup API, in one step (a consistent snapshot). */
async function copyDatabase(source: Database.Database, target: string): Promise<number> {
  // Step 2 copies every page at once, so a busy writer in another process cannot keep restarting it.
  const result = await source.backup(target, { progress: () => 0x7fffffff });
  return result.totalPages;
}

/**
 * Online backup: copies the database at `dataFile` to `target` (written to a temporary file, then
 * renamed). Safe while a server is serving the same file from another process: SQLite's backup API
 * copies a consistent snapshot and WAL readers never block the writer.
 *
 * @throws DatabaseOpenError when `dataFile` is missing or not a kv database
 */
export async function backupDatabase(dataFile: string, target: string): Promise<CopyResult> {
  const source = openSource(resolve(dataFile));
  const file = resolve(target);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    // It holds every store's signing secret: created 0600 (its directory 0700) before SQLite writes it.
    rmSync(tmp, { force: true });
    createPrivateFile(tmp);
    const pages = await copyDatabase(source, tmp);
    renameSync(tmp, file);
    return { file, pages };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    source.close();
  }
}

/**
 * Restore: checks that `backupFile` is an intact kv database (`PRAGMA quick_check`, schema version),
 * then replaces the database at `dataFile` with it through the backup API (all or nothing; a server
 * holding the file open sees the restored data on its next statement). Stop the server first if
 * watchers must not see revisions go back.
 *
 * @throws DatabaseOpenError when the backup is missing, corrupt or from a newer server
 */
export async function restoreDatabase(backupFile: string, dataFile: string): Promise<CopyResult> {
  const path = resolve(backupFile);
  const source = openSource(path);
  try {
    const check = source.pragma('quick_check', { simple: true });
    if (check !== 'ok')
      throw new DatabaseOpenError(path, 'corrupt', `backup ${path} fails quick_check: ${String(check)}`);
    const file = resolve(dataFile);
    createPrivateFile(file);
    const pages = await copyDatabase(source, file);
    return { file, pages };
  } finally {
    source.close();
  }
}

/**
 * Writes every live entry of `store` as JSON Lines, in key order, to `out`: one consistent snapshot (a
 * single read transaction over the whole export on the tool's own connection, so writes committed by a
 * server meanwhile are either wholly in it or wholly out of it; WAL readers never block that writer).
 *
 * @returns how many entries were written
 * @throws StoreNotFoundError when the store does not exist
 * @throws DatabaseOpenError naming the file when it is missing or fails `PRAGMA quick_check`
 */
export async function exportStore(dataFile: string, store: string, out: Writable): Promise<number> {
  let storage: SqliteStorage;
  try {
    storage = SqliteStorage.open({ path: dataFile, readonly: true });
  } catch {
    storage = SqliteStorage.open({ path: dataFile });
  }
  // BEGIN is deferred: the snapshot is taken by the first read (the store lookup) and kept to COMMIT.
  storage.db.exec('BEGIN');
  try {
    const nowMs = Date.now();
    let after: string | undefined;
    let count = 0;
    for (;;) {
      const page = await storage.scan(store, {
        limit: 1000,
        values: true,
        nowMs,
        ...(after === undefined ? {} : { after }),
      });
      for (const entry of page) {
        if (!out.write(formatJsonLine(entry))) await once(out, 'drain');
      }
      count += page.length;
      if (page.length < 1000) break;
      after = page[page.length - 1]!.key;
    }
    return count;
  } finally {
    if (storage.db.inTransaction) storage.db.exec('COMMIT');
    await storage.close();
  }
}

/** Result of {@link importStore}. */
export interface ImportResult {
  /** Lines written. */
  written: number;
  /** Lines refused, with the key and the reason. */
  failed: Array<{ line: number; key?: string; error: string }>;
}

/**
 * Reads JSON Lines from `file` into `store` (created with default settings if missing), through the
 * engine in-process so every line is validated like a `POST .../bulk/set` (key rules, limits, TTLs).
 * Safe while a server serves the same file (SQLite serialises the writers).
 *
 * @param batchSize - lines per bulk write, 1-10,000 @default 1000
 * @param open - opens the storage to write to @default the SQLite file `dataFile`
 */
export async function importStore(
  dataFile: string,
  store: string,
  file: string,
  batchSize = 1000,
  open: () => Promise<Storage> | Storage = () => SqliteStorage.open({ path: dataFile }),
): Promise<ImportResult> {
  const storage = await open();
  const engine = createEngine({ storage });
  const base = 'http://kv-server.local';
  const result: ImportResult = { written: 0, failed: [] };
  try {
    const head = await engine.fetch(new Request(base + routes.store(store)));
    if (head.status === 404) {
      const created = await engine.fetch(
        new Request(base + routes.stores(), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: store }),
        }),
      );
      if (!created.ok) throw new Error(`cannot create store "${store}": ${await created.text()}`);
    } else if (!head.ok) {
      throw new Error(`cannot read store "${store}": ${await head.text()}`);
    }
    let batch: Array<{ line: number; item: WireWrite }> = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const body: WireBulkSetBody = { items: batch.map((b) => b.item) };
      const res = await engine.fetch(
        new Request(base + routes.bulkSet(store), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
      const json = (await res.json()) as {
        results?: Array<{ ok: boolean; error?: string; message?: string }>;
        error?: { code: string; message: string };
      };
      if (!res.ok || !json.results) {
        for (const b of batch) {
          result.failed.push({
            line: b.line,
            key: b.item.key,
            error: json.error?.message ?? `HTTP ${res.status}`,
          });
        }
      } else {
        json.results.forEach((r, i) => {
          const b = batch[i]!;
          if (r.ok) result.written++;
          else result.failed.push({ line: b.line, key: b.item.key, error: r.message ?? r.error ?? 'failed' });
        });
      }
      batch = [];
    };
    const lines = createInterface({
      input: createReadStream(resolve(file)),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let n = 0;
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      try {
        const write = parseJsonLine(text, n);
        batch.push({ line: n, item: { ...write, value: bytesToBase64(write.value) } });
      } catch (e) {
        // parseJsonLine's message starts with "line <n>: "; the line number is reported beside it.
        result.failed.push({ line: n, error: (e as Error).message.replace(/^line \d+: /, '') });
      }
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    return result;
  } finally {
    await engine.close();
  }
}

/** Opens `file` for writing (or returns stdout for `-`/undefined) and a function that closes it. */
export function outputStream(file: string | undefined): { out: Writable; done: () => Promise<void> } {
  if (file === undefined || file === '-') return { out: process.stdout, done: async () => {} };
  // An export holds values and may hold secrets: 0600, as the database it comes from.
  const path = resolve(file);
  if (!createPrivateFile(path)) chmodSync(path, PRIVATE_FILE_MODE);
  const out = createWriteStream(path);
  return {
    out,
    done: () =>
      new Promise<void>((res, rej) => {
        out.end((err?: Error | null) => (err ? rej(err) : res()));
      }),
  };
}
