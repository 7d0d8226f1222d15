/**
 * A worker thread that checkpoints a WAL-mode SQLite database on its own connection, so the `fsync`s
 * of checkpointing never run on the event loop that serves requests. `SqliteStorage` starts it with
 * `checkpointIntervalMs` and raises the main connection's `wal_autocheckpoint` to a backstop value.
 *
 * `PASSIVE` checkpoints never block the writer or readers: they copy what they can and the WAL is
 * reused from its start once a checkpoint completes with no reader on an older snapshot.
 *
 * Worker data: `{ path: string; intervalMs: number; busyTimeoutMs: number }`. Messages: `'stop'`
 * closes the connection and ends the thread.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** What the worker is started with. */
export interface CheckpointerData {
  /** The database file. */
  path: string;
  /** Period between checkpoints, in ms. */
  intervalMs: number;
  /** busy_timeout of the worker's connection, in ms. */
  busyTimeoutMs: number;
}

if (parentPort !== null) {
  const data = workerData as CheckpointerData;
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or closing: the next tick retries; the main connection's backstop still bounds the WAL.
    }
  }, data.intervalMs);
  parentPort.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort?.close();
  });
}
