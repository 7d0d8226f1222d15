/**
 * Files that hold secrets are created private: the database (and with it SQLite's `-wal`/`-shm` files,
 * whose mode SQLite's unix VFS copies from the database file), backups and exports carry every store's
 * signing secret, so they are created 0600 and the directories the server creates for them 0700,
 * whatever the umask. docs/security.md "Connections, files and aborts".
 *
 * @module
 */
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  mkdirSync,
  openSync,
  statSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Mode of the files the server creates: read and write for the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of the directories the server creates: the owner only. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates the directory `dir` and any missing parents with mode 0700 (set explicitly, so a umask
 * cannot widen or narrow it). Directories that already exist are left as they are: their owner chose
 * their mode.
 *
 * @param dir - the directory
 * @throws Error (`EACCES`, `ENOTDIR`...) when it cannot be created
 */
export function ensurePrivateDir(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  if (missing.length === 0) return;
  mkdirSync(resolve(dir), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (const m of missing) chmodSync(m, PRIVATE_DIR_MODE);
}

/**
 * Creates `file` empty with mode 0600 (and its directory as {@link ensurePrivateDir} does) when it does
 * not exist, so whatever later writes into it (SQLite, the backup API) keeps that mode. An existing file
 * is left as it is.
 *
 * @param file - the file
 * @returns whether the file was created
 * @throws Error when the file or its directory cannot be created
 */
export function createPrivateFile(file: string): boolean {
  ensurePrivateDir(dirname(resolve(file)));
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    // open(2) filters the mode through the umask: set it exactly.
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** What {@link prepareDataFile} found and did for one file. */
export interface FileModeChange {
  /** The file. */
  file: string;
  /** Its mode before, e.g. `0o644`. */
  fromMode: number;
  /** Its mode now: the owner's bits of `fromMode` only (`0o644` -> `0o600`, `0o444` -> `0o400`). */
  toMode: number;
  /** Whether the mode was changed (false: owned by another user, so left as it was). */
  tightened: boolean;
}

/**
 * Prepares the SQLite database file `dataFile` before it is opened: creates it empty with mode 0600
 * (its directory 0700) when missing, so SQLite's `-wal` and `-shm` files get 0600 too; otherwise takes
 * every group and other permission off the database, `-wal` and `-shm` files when the current user owns
 * them (keeping the owner's: a read-only file stays read-only and is refused as such). Never throws: opening the database reports a file it cannot use, naming it.
 *
 * @param dataFile - the database file
 * @returns the files whose mode was found too open (to be logged as warnings)
 */
export function prepareDataFile(dataFile: string): FileModeChange[] {
  try {
    if (createPrivateFile(dataFile)) return [];
  } catch {
    return [];
  }
  const changes: FileModeChange[] = [];
  for (const file of [dataFile, `${dataFile}-wal`, `${dataFile}-shm`]) {
    try {
      if (!existsSync(file)) continue;
      const st = statSync(file);
      if (!st.isFile() || (st.mode & 0o077) === 0) continue;
      const owned = typeof process.getuid !== 'function' || st.uid === process.getuid();
      const fromMode = st.mode & 0o777;
      const toMode = fromMode & 0o700;
      if (owned) chmodSync(file, toMode);
      changes.push({ file, fromMode, toMode, tightened: owned });
    } catch {
      // unreadable: opening the database names the file
    }
  }
  return changes;
}
