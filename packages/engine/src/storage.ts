/**
 * The `Storage` interface: what the engine needs from a database. Designed for SQL: every write is one
 * transaction (`commit`), reads are point lookups or ordered range scans by key bytes, every write takes
 * the next value of a per-store revision sequence, and a bounded change log feeds watch.
 *
 * Implementations: `MemoryStorage` (this package), `SqliteStorage` (apps/server), PostgreSQL (later).
 * All of them pass the shared storage suite (`@kv/engine/testing`).
 *
 * Times are epoch milliseconds. Keys compare by UTF-8 bytes (SQLite `BLOB`/`memcmp`, PostgreSQL
 * `COLLATE "C"` on `bytea`/text); `compareKeys` in `@kv/core` is the reference order.
 *
 * @module
 */
import type { JsonObject, Operation, StoreConfig } from '@kv/core';

/** A store row. */
export interface StoreRecord extends StoreConfig {
  /** Store name. */
  name: string;
  /** Revision of the store's latest write; 0 when never written. */
  revision: number;
  /** Live keys (not deleted, not expired-and-swept). */
  keyCount: number;
  /** Sum of live value sizes, in bytes. */
  totalBytes: number;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** Last settings change, epoch ms. */
  updatedAt: number;
  /** Secret for signed URLs (base64url, 32 random bytes); rotated by `rotateSigningSecret`. */
  signingSecret: string;
}

/** The current state of a live key. */
export interface StoredEntry {
  /** The key. */
  key: string;
  /** Stable id for this life of the key. */
  id: string;
  /** The value bytes (empty array when the read asked for no values). */
  value: Uint8Array;
  /** MIME type. */
  contentType: string;
  /** Metadata object or null. */
  metadata: JsonObject | null;
  /** Scopes, sorted, de-duplicated. */
  scopes: string[];
  /** Revision of the last write. */
  revision: number;
  /** Epoch ms of this id's first write. */
  createdAt: number;
  /** Epoch ms of the last write. */
  updatedAt: number;
  /** Epoch ms expiry, or null. */
  expiresAt: number | null;
  /** AntiRaid resume flag. */
  resume: boolean;
  /** Value size in bytes (kept even when `value` was not loaded). */
  size: number;
}

/** One revision in a key's history, or one change in the change log. */
export interface ChangeRecord extends StoredEntry {
  /**
   * What the write did. Tombstones (`delete`, `purge`, `expire`) keep the id, content type, metadata,
   * scopes, `createdAt` and `resume` of the entry they end, with an empty `value`, `size` 0,
   * `expiresAt: null` and `updatedAt` = the time of the tombstone.
   */
  operation: Operation;
}

/** A condition on one key, evaluated inside the commit's transaction. */
export type Precondition =
  /** The key must have a live entry at exactly this revision. */
  | { kind: 'revision'; revision: number }
  /** The key must have no live entry. */
  | { kind: 'absent' }
  /** The key must have a live entry (any revision). */
  | { kind: 'exists' };

/** A put: writes a new revision of `key`. */
export interface PutOp {
  type: 'put';
  key: string;
  value: Uint8Array;
  contentType: string;
  metadata: JsonObject | null;
  scopes: string[];
  expiresAt: number | null;
  resume: boolean;
  /** Id to use if the key has no live entry; ignored otherwise (the live id is kept). */
  newId: string;
  /** Condition for this op (bulk: per item; atomic: all must hold). */
  precondition?: Precondition;
}
/** A soft delete: tombstone in history. A missing key is a no-op (`applied: false`, no revision used). */
export interface DeleteOp {
  type: 'delete';
  key: string;
  precondition?: Precondition;
}
/** Removes the key and its whole history; uses a revision (recorded in the change log) if anything existed. */
export interface PurgeOp {
  type: 'purge';
  key: string;
  precondition?: Precondition;
}
/** Changes only the expiry of a live key (a `put` revision with the same value). Missing key: no-op. */
export interface SetExpiryOp {
  type: 'setExpiry';
  key: string;
  expiresAt: number | null;
  precondition?: Precondition;
}
/** A mutation inside a commit. */
export type Mutation = PutOp | DeleteOp | PurgeOp | SetExpiryOp;

/** A commit: mutations applied in one transaction. */
export interface CommitRequest {
  /**
   * `atomic`: every precondition (on `checks` and on each op) must hold, evaluated against the state
   * before the commit, else nothing is written and the result is `{ ok: false }`. `each`: ops are
   * independent (bulk calls): each op's precondition is evaluated just before it, against the state as
   * mutated by the ops before it; an op whose precondition fails is skipped and reported, the others are
   * applied; the result is always `ok: true`.
   */
  mode: 'atomic' | 'each';
  /** Extra conditions on keys not (necessarily) mutated (Deno KV `check`). Atomic mode only. */
  checks?: Array<{ key: string; precondition: Precondition }>;
  /**
   * The mutations, applied in order; each applied mutation takes the next store revision (after the
   * revision of the `expire` write a mutation on an expired-but-unswept key records first; see
   * {@link Storage.commit}).
   */
  mutations: Mutation[];
  /** "Now", epoch ms: for expiry checks (an expired entry counts as absent) and timestamps. */
  nowMs: number;
}

/** Outcome of one mutation. */
export interface MutationResult {
  /** The key. */
  key: string;
  /**
   * `applied`: written, revision used. `noop`: nothing to do (delete/setExpiry of a missing key).
   * `failed`: its precondition did not hold (each mode), nothing written.
   */
  status: 'applied' | 'noop' | 'failed';
  /** For `failed`: which precondition broke. */
  failure?: 'revision_mismatch' | 'key_exists' | 'key_not_found';
  /** Revision of the write when applied; the live entry's revision when failed (if any). */
  revision?: number;
  /** Id of the entry after the op (put) or of the entry that was there (delete/purge), if any. */
  id?: string;
  /** Put: whether the key had no live entry before. Delete/purge: whether a live entry existed. */
  created?: boolean;
}

/** Result of {@link Storage.commit}. */
export type CommitResult =
  | { ok: true; results: MutationResult[]; revision: number }
  | { ok: false; failedKeys: string[] };

/** A range scan request. Results are ordered by key bytes (descending with `reverse`). */
export interface ScanQuery {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Exclusive lower bound in scan direction: forward = keys > after; reverse = keys < after. */
  after?: string;
  /** Only entries in this scope. */
  scope?: string;
  /** Descending order. */
  reverse?: boolean;
  /** Most rows to return. */
  limit: number;
  /** Load value bytes (else `value` is empty). */
  values: boolean;
  /** Entries with `expiresAt <= nowMs` are skipped. */
  nowMs: number;
}

/** An idempotency record: the first response to a request with a given `Idempotency-Key`. */
export interface IdempotencyRecord {
  /** Hash of the request (method, path, relevant headers, body) to detect a reused key with another body. */
  fingerprint: string;
  /** Response status. */
  status: number;
  /** Response headers to replay. */
  headers: Record<string, string>;
  /** Response body bytes. */
  body: Uint8Array;
  /** When the record may be forgotten, epoch ms. */
  expiresAt: number;
}

/**
 * The storage the engine runs on. Every method may throw; errors that are `KvError`s pass through to the
 * client, others become 500s. Methods on a store that does not exist throw `StoreNotFoundError`.
 */
export interface Storage {
  /** Creates a store. Throws `KeyExistsError` with code `store_exists` when the name is taken. */
  createStore(name: string, config: StoreConfig, nowMs: number, signingSecret: string): Promise<StoreRecord>;
  /** A store, or undefined. */
  getStore(name: string): Promise<StoreRecord | undefined>;
  /** All stores, ordered by name. */
  listStores(): Promise<StoreRecord[]>;
  /** Changes settings; trims history to a smaller depth. Throws `StoreNotFoundError`. */
  updateStore(name: string, patch: Partial<StoreConfig>, nowMs: number): Promise<StoreRecord>;
  /** Replaces the store's signing secret. Throws `StoreNotFoundError`. */
  rotateSigningSecret(name: string, secret: string, nowMs: number): Promise<StoreRecord>;
  /** Deletes a store and all its data. Returns whether it existed. */
  deleteStore(name: string): Promise<boolean>;

  /** The live entry for `key` (not expired at `nowMs`), or undefined. */
  get(store: string, key: string, nowMs: number): Promise<StoredEntry | undefined>;
  /** The live entry with this id, or undefined. */
  getById(store: string, id: string, nowMs: number): Promise<StoredEntry | undefined>;
  /** Live entries for many keys, in the order asked (undefined where missing). */
  getMany(
    store: string,
    keys: string[],
    nowMs: number,
    values: boolean,
  ): Promise<Array<StoredEntry | undefined>>;
  /** Ordered range scan of live entries. */
  scan(store: string, query: ScanQuery): Promise<StoredEntry[]>;
  /** History of `key`, newest first, tombstones included; at most the store's `history` depth. */
  history(store: string, key: string): Promise<ChangeRecord[]>;
  /** Distinct scopes of live entries, sorted. */
  listScopes(store: string, nowMs: number): Promise<string[]>;

  /**
   * Applies a commit in one transaction (see {@link CommitRequest}). When an applied commit has a
   * mutation on a key whose current record is a `put` expired at `nowMs` but not swept yet, that key's
   * `expire` write is recorded first, exactly as {@link Storage.sweepExpired} would (its own next
   * revision, tombstone in history, change log row, stats), and the mutation then runs against that
   * state: a put starts a new life (new id, `created: true`), delete and setExpiry are no-ops, a purge
   * removes the key with its tombstone. Atomic mode does this only once every precondition has held (a
   * failed commit writes nothing); each mode does it for every op just before evaluating that op's
   * precondition (an op whose precondition then fails still leaves the expire). Keys only in `checks`
   * are never expired by a commit.
   */
  commit(store: string, request: CommitRequest): Promise<CommitResult>;
  /**
   * Removes up to `limit` entries (across stores) whose `expiresAt <= nowMs`, each as an `expire` write
   * (revision bump, tombstone in history, change log row), oldest `expiresAt` first (ties: store name,
   * then key). Returns how many were expired.
   */
  sweepExpired(nowMs: number, limit: number): Promise<number>;

  /** Changes with revision > `afterRevision`, ascending, at most `limit` (watch). */
  changes(store: string, afterRevision: number, limit: number): Promise<ChangeRecord[]>;
  /** Lowest revision still in the change log minus one: resuming from below it cannot be exact. */
  changeLogFloor(store: string): Promise<number>;

  /**
   * The idempotency record for `scopeKey` (token + store + key), if not expired at `nowMs`. An expired
   * record is forgotten here, so that the next `putIdempotency` for the key is stored.
   */
  getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined>;
  /** Saves an idempotency record (first writer wins). */
  putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void>;

  /** Whether the database answers (for `/readyz`). */
  ping(): Promise<boolean>;
  /** Releases resources. */
  close(): Promise<void>;
}

/**
 * A {@link Storage} without its two writes of entries (`commit`, `sweepExpired`): what the engine's
 * handlers, listings, watch streams and access checks get, so that every write goes through the engine's
 * commit, which wakes the watchers (docs/architecture.md "Decisions").
 */
export type StorageReads = Omit<Storage, 'commit' | 'sweepExpired'>;
