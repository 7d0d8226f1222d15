/**
 * Access control on the server (docs/security.md): `SqliteTokenStore`, the engine's
 * `TokenStore` in the server's SQLite database (table `tokens`, schema migrations 2 and 4), and the admin-token
 * bootstrap that runs before the server listens.
 *
 * @module
 */

import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createToken, ensureToken, hashToken, type TokenRecord, type TokenStore } from '@kv/engine';
import type Database from 'better-sqlite3';
import { TOKEN_COLUMNS, TokenCache, type TokenRow, tokenFromRow, tokenRowValues } from './token-rows.js';

export { hashesEqual } from './token-rows.js';

/**
 * The engine's {@link TokenStore} in the server's SQLite database (the `tokens` table of schema migrations
 * 2 and 4): one row per token with the SHA-256 of its secret (never the secret), its capabilities as a
 * JSON array, description, creation, expiry and revocation times (epoch ms) and its rate limit. Revoked
 * and expired rows are kept for audit and returned by {@link SqliteTokenStore.findByHash}; the engine refuses them.
 *
 * A lookup is one index probe on the unique `hash` column (or the cache below); the record it finds is
 * then accepted only if its stored hash equals the presented one under `crypto.timingSafeEqual` (on the
 * hex digits' bytes), so the final comparison takes the same time whichever byte differs. The index probe
 * itself compares like any B-tree search; that leaks nothing usable, since the compared values are
 * SHA-256 digests of 256-bit random secrets (learning a digest's prefix gives no secret).
 *
 * Found tokens are cached in memory by hash (at most {@link SqliteTokenStore.CACHE_LIMIT} records; unknown
 * hashes are never cached), so a request costs no token query. The cache never serves a stale record:
 * it is dropped whenever this store inserts or revokes a token, and whenever SQLite's `PRAGMA
 * data_version` shows that another connection (another process on the same file, e.g. a `kv-server`
 * maintenance command) committed a change. Expiry needs no invalidation: the engine compares
 * `expiresAt` with the clock on every request.
 *
 * Statements run synchronously on the given connection (better-sqlite3), each in its own implicit
 * transaction, so they never interleave with `SqliteStorage`'s group commits.
 *
 * It has no `countRequest`: one server process serves a SQLite file, so the engine counts the requests
 * of rate-limited tokens in its memory (docs/security.md "Rate limits").
 *
 * @example
 * const storage = SqliteStorage.open({ path: './data/kv.sqlite' });
 * const engine = createEngine({ storage, auth: { tokens: new SqliteTokenStore(storage.db) } });
 */
export class SqliteTokenStore implements TokenStore {
  /** Most token records kept in memory; the cache is emptied when it would grow past this. */
  static readonly CACHE_LIMIT = 4096;

  readonly #guard: TokenStoreGuard | undefined;
  readonly #insert: Database.Statement<ReturnType<typeof tokenRowValues>>;
  readonly #byHash: Database.Statement<[string], TokenRow>;
  readonly #list: Database.Statement<[], TokenRow>;
  readonly #revoke: Database.Statement<[number, string]>;
  readonly #dataVersion: Database.Statement<[], number>;
  /** Found records by hash, valid while {@link SqliteTokenStore.#cachedVersion} is the data version. */
  readonly #cache = new TokenCache(SqliteTokenStore.CACHE_LIMIT);
  #cachedVersion = -1;

  /**
   * @param db - an open connection to a database migrated to schema version 5 or later (the connection
   *   of `SqliteStorage.open`, `storage.db`)
   * @param guard - what refuses writes and maps errors of the shared connection (the `SqliteStorage` of
   *   `db`, so a corrupt file is reported and never written to); none: errors pass unchanged
   * @throws Error (SQLite) when the `tokens` table is missing
   */
  constructor(db: Database.Database, guard?: TokenStoreGuard) {
    this.#guard = guard;
    this.#insert = db.prepare(`INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#byHash = db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE hash = ?');
    this.#list = db.prepare<[], TokenRow>('SELECT * FROM tokens ORDER BY created_at, id');
    this.#revoke = db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** The cache, emptied first when another connection committed since it was filled. */
  #validCache(): TokenCache {
    const version = this.#dataVersion.get() as number;
    if (version !== this.#cachedVersion) {
      this.#cache.clear();
      this.#cachedVersion = version;
    }
    return this.#cache;
  }

  /** {@inheritDoc @kv/engine#TokenStore.insert} @throws Error (SQLite constraint) on a duplicate id or hash */
  async insert(record: TokenRecord): Promise<void> {
    this.#guard?.assertWritable();
    this.#cache.clear();
    this.#run(() => this.#insert.run(...tokenRowValues(record)));
  }

  /**
   * {@inheritDoc @kv/engine#TokenStore.findByHash}
   *
   * The found record (from the index or the cache) is returned only if its hash equals `hash` under
   * `crypto.timingSafeEqual`.
   */
  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    const cache = this.#run(() => this.#validCache());
    return cache.find(hash, (h) => this.#run(() => this.#byHash.get(h)));
  }

  /** {@inheritDoc @kv/engine#TokenStore.list} */
  async list(): Promise<TokenRecord[]> {
    return this.#run(() => this.#list.all()).map(tokenFromRow);
  }

  /** {@inheritDoc @kv/engine#TokenStore.revoke} */
  async revoke(id: string, nowMs: number): Promise<boolean> {
    this.#guard?.assertWritable();
    this.#cache.clear();
    return this.#run(() => this.#revoke.run(nowMs, id)).changes > 0;
  }

  /** Runs a statement, mapping its error through the guard. */
  #run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.#guard === undefined ? e : this.#guard.mapError(e);
    }
  }
}

/**
 * What {@link SqliteTokenStore} asks before writing and when a statement fails: `SqliteStorage`
 * implements it (a corrupt database file refuses writes and is reported as `DatabaseCorruptError`).
 */
export interface TokenStoreGuard {
  /** @throws an error when nothing may be written to the database */
  assertWritable(): void;
  /** The error to throw for `error`, thrown by a statement on the shared connection. */
  mapError(error: unknown): unknown;
}

/** Description of the token registered from `KV_ADMIN_TOKEN`. */
export const ENV_ADMIN_DESCRIPTION = 'admin (KV_ADMIN_TOKEN)';
/** Description of the generated admin token written to the admin token file. */
export const FILE_ADMIN_DESCRIPTION = 'admin (token file)';

/** Options of {@link bootstrapAdminToken}. */
export interface AdminTokenOptions {
  /** Where tokens live. */
  tokens: TokenStore;
  /** `KV_ADMIN_TOKEN`: a secret to register (16-512 visible ASCII characters); wins over `file`. */
  secret: string | undefined;
  /** The admin token file (`<data file>.admin-token` by default with SQLite), or none. */
  file: string | undefined;
  /**
   * Reuse the token in `file` when it is still live (durable token stores). False for memory storage,
   * whose tokens die with the process: a new token is written at every start.
   */
  reuse: boolean;
  /** "Now", epoch ms. */
  nowMs: number;
}

/** What {@link bootstrapAdminToken} did. Never holds the secret. */
export interface AdminTokenResult {
  /** `env`: `KV_ADMIN_TOKEN` registered; `file`: the token file holds the admin token; `none`: no admin token. */
  source: 'env' | 'file' | 'none';
  /** Absolute path of the token file (source `file`). */
  file?: string;
  /** The admin token's id (`tok_...`), unless source is `none`. */
  tokenId?: string;
  /** True when a token was inserted now (false: an existing live token was reused). */
  created: boolean;
  /** Ids of earlier bootstrap admin tokens revoked now because a new one replaced them. */
  revoked: string[];
  /** True when the `KV_ADMIN_TOKEN` token exists but was revoked or expired through the API. */
  unusable?: boolean;
}

/** Reads a token file: its trimmed content, or undefined when missing or empty. @throws Error when unreadable */
function readTokenFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the admin token file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const token = text.trim();
  return token === '' ? undefined : token;
}

/** Writes `token` to `file` with mode 0600, through a temporary file renamed into place. */
function writeTokenFile(file: string, token: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
    // The mode of writeFileSync is filtered by the umask and ignored for an existing file: set it.
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write the admin token file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function isLive(r: TokenRecord, nowMs: number): boolean {
  return r.revokedAt === null && (r.expiresAt === null || r.expiresAt > nowMs);
}

/** Revokes the live tokens with `description` other than `keepId` (a replaced bootstrap admin token). */
async function revokeOthers(
  tokens: TokenStore,
  description: string,
  keepId: string,
  nowMs: number,
): Promise<string[]> {
  const revoked: string[] = [];
  for (const r of await tokens.list()) {
    if (r.id !== keepId && r.description === description && r.revokedAt === null) {
      if (await tokens.revoke(r.id, nowMs)) revoked.push(r.id);
    }
  }
  return revoked;
}

/**
 * Makes sure the server has an admin token (capability `*`) before it listens (docs/security.md
 * "Tokens"):
 *
 * - `secret` (`KV_ADMIN_TOKEN`) set: registered by hash with `ensureToken` (idempotent across restarts),
 *   description {@link ENV_ADMIN_DESCRIPTION}; an earlier `KV_ADMIN_TOKEN` token with another secret is
 *   revoked, so changing the variable rotates the admin token. No file is written.
 * - otherwise, with a `file`: when `reuse` is set and the file holds a live token of `tokens`, it is kept;
 *   else a new token is created (`createToken`, description {@link FILE_ADMIN_DESCRIPTION}), written to
 *   the file as `token + '\n'` with mode 0600, and earlier file admin tokens are revoked (deleting the
 *   file and restarting rotates the admin token).
 * - neither: nothing (source `none`); only tokens that already exist can authenticate.
 *
 * The result never carries the secret, so it can be logged.
 *
 * @throws ValidationError (`@kv/core`) when `secret` is not 16-512 visible ASCII characters
 * @throws Error naming the file when the token file cannot be read or written
 */
export async function bootstrapAdminToken(options: AdminTokenOptions): Promise<AdminTokenResult> {
  const { tokens, secret, nowMs } = options;
  if (secret !== undefined) {
    const { token, created } = await ensureToken(
      tokens,
      { secret, capabilities: ['*'], description: ENV_ADMIN_DESCRIPTION },
      nowMs,
    );
    const record = await tokens.findByHash(await hashToken(secret));
    const revoked = await revokeOthers(tokens, ENV_ADMIN_DESCRIPTION, token.id, nowMs);
    return {
      source: 'env',
      tokenId: token.id,
      created,
      revoked,
      ...(record !== undefined && !isLive(record, nowMs) ? { unusable: true } : {}),
    };
  }
  if (options.file === undefined) return { source: 'none', created: false, revoked: [] };
  const file = resolve(options.file);
  if (options.reuse) {
    const existing = readTokenFile(file);
    if (existing !== undefined) {
      const record = await tokens.findByHash(await hashToken(existing));
      if (record !== undefined && isLive(record, nowMs)) {
        // Keep the file private even if its mode was loosened since.
        if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
        return { source: 'file', file, tokenId: record.id, created: false, revoked: [] };
      }
    }
  }
  const created = await createToken(
    tokens,
    { capabilities: ['*'], description: FILE_ADMIN_DESCRIPTION },
    nowMs,
  );
  writeTokenFile(file, created.token);
  const revoked = await revokeOthers(tokens, FILE_ADMIN_DESCRIPTION, created.id, nowMs);
  return { source: 'file', file, tokenId: created.id, created: true, revoked };
}
