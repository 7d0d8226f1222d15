/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp directory, `postgres` started on a unix
 * socket in that directory (`listen_addresses = ''`, so nothing listens on TCP), `fsync=off` for speed,
 * stopped by its PID. When the test process runs as root the cluster runs as the `postgres` OS user
 * (PostgreSQL refuses to run as root), with the temp directory handed to that user.
 *
 * The binaries are found with `pg_config --bindir`, else the newest `/usr/lib/postgresql/<n>/bin`
 * (Debian's layout); `PG_BIN` overrides both. When none has `initdb` and `postgres`, {@link startCluster}
 * throws an error that says how to install them: the PostgreSQL tests fail, never skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A running throwaway cluster. */
export interface PgCluster {
  /** Directory of the unix socket (`.s.PGSQL.5432`). */
  socketDir: string;
  /** PID of the postmaster. */
  pid: number;
  /** A libpq connection URL for `database` on this cluster, as superuser `postgres`. */
  url(database: string): string;
  /** Stops the postmaster (SIGINT: fast shutdown, then SIGKILL after 10 s) and removes its directory. */
  stop(): Promise<void>;
}

/** The PostgreSQL superuser the cluster is created with. */
const SUPERUSER = 'postgres';

/**
 * The directory holding `initdb` and `postgres`.
 *
 * @throws Error naming what to install when no PostgreSQL server binaries are found
 */
export function findPostgresBin(): string {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // no Debian layout
  }
  for (const dir of candidates) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres) not found (looked in: ${candidates.join(', ') || 'nothing'}). ` +
      'Install them (Debian: apt-get install postgresql; .ci/run does it) or set PG_BIN to their directory.',
  );
}

/** uid/gid to run the cluster as: the `postgres` OS user when we are root, else ourselves. */
function clusterUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch (e) {
    throw new Error(
      'running as root, and there is no "postgres" OS user to run the test cluster as (PostgreSQL refuses root); ' +
        "install Debian's postgresql package, which creates it, or run the tests as another user",
      { cause: e },
    );
  }
}

/** Waits until `postgres` accepts connections on the socket, or fails with its log. */
async function waitReady(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`postgres exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${log()}`);
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) throw new Error(`postgres not ready after 30 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Creates and starts a cluster in a new temp directory.
 *
 * @throws Error when the binaries are missing ({@link findPostgresBin}), `initdb` fails or the server
 *   does not come up within 30 s (the message quotes its output)
 */
export async function startCluster(): Promise<PgCluster> {
  const bin = findPostgresBin();
  const user = clusterUser();
  const dir = mkdtempSync(join(tmpdir(), 'kv-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  try {
    execFileSync(
      join(bin, 'initdb'),
      ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...ids, cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() ?? err.message}`, { cause: e });
  }
  let output = '';
  const proc = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-k',
      dir,
      '-c',
      'listen_addresses=',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=32MB',
    ],
    { ...ids, cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = (database: string): string =>
    `postgresql://${SUPERUSER}@/${encodeURIComponent(database)}?host=${encodeURIComponent(dir)}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url('postgres'), proc, () => output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { socketDir: dir, pid: proc.pid!, url, stop };
}

/**
 * Creates a new empty database named `name` on `cluster` and returns its URL.
 *
 * @param cluster - where (its `postgres` database is used to create it)
 * @param name - database name (lower-case letters, digits and `_`)
 */
export async function createDatabase(cluster: Pick<PgCluster, 'url'>, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: cluster.url('postgres') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return cluster.url(name);
}

/**
 * Drops database `name` (closing its connections first).
 *
 * @param cluster - where
 * @param name - database name
 */
export async function dropDatabase(cluster: Pick<PgCluster, 'url'>, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url('postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
