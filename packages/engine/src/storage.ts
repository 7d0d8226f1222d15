/**
 * The `Storage` interface: what the engine needs from a database, and nothing of the commit rules. Reads
 * are point lookups or ordered range scans by key bytes; every write of entries happens inside
 * {@link Storage.transaction}, whose {@link StorageTx} is plain data access (read the key's head, put or
 * remove its entry, append history and change log records, take the next revision, adjust the stats).
 * The rules of a commit (atomic and each modes, preconditions, expire-before-write, revision numbering,
 * tombstones, ids, stats) are the engine's, written once in `commit.ts` (`applyCommit`); the expiry
 * sweep is the engine's too (`sweepExpired` there), over {@link Storage.expiredEntries}.
 *
 * This file is the one statement of the contract; implementations link here instead of restating it:
 * `MemoryStorage` (this package), `SqliteStorage` (apps/server), PostgreSQL (planned). All of them pass
 * the shared storage suite (`@kv/engine/testing`).
 *
 * Times are epoch milliseconds. Keys compare by UTF-8 bytes (SQLite `BLOB`/`memcmp`, PostgreSQL
 * `COLLATE "C"` on `bytea`/text); `compareKeys` in `@kv/core` is the reference order.
 *
 * Data model the methods below read and write, per store:
 *
 * - the **store row**: settings, the revision sequence (the revision of the store's latest write) and
 *   the stats (`keyCount`, `totalBytes`: live entries plus expired ones not swept yet);
 * - per key, its **entry** (the current `put`, live or expired-but-unswept; at most one) and its
 *   **history** (its records newest first, the entry included as the newest while it exists, at most the
 *   store's `history` depth, tombstones included);
 * - the **change log**: every write's record in revision order, bounded (older records dropped, the
 *   floor rises);
 * - **idempotency records**, by scope key (not per store);
 * - the **queue**: durable messages ({@link QueueMessage}), each with the time it may next be delivered
 *   and its current lease. The delivery rules (leases, acknowledgements, backoff, dead letters to
 *   `keysIfUndelivered`) are the engine's (`queue.ts`); the storage keeps the rows.
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
/**
 * A numeric mutation (Deno KV `sum`, `min`, `max`, on integers): the key's value must be the JSON text
 * of a safe integer with content type `application/json` (or the key missing), and becomes the JSON text of `current + operand`,
 * `min(current, operand)` or `max(current, operand)` (`operand` itself when the key is missing), with
 * content type `application/json`. A stored value that is not a safe integer, or a sum outside the safe
 * range, fails the whole commit with a `ValidationError` (nothing written). Every application writes a
 * new revision (a `put`), also when the value does not change.
 */
export interface NumericOp {
  type: 'sum' | 'min' | 'max';
  key: string;
  /** The operand, a safe integer. */
  operand: number;
  /**
   * `sum` only: a safe integer the current value is first raised to, a missing key counting as it
   * (`increment`'s `floor`: `max(value, floor) + operand`).
   */
  floor?: number;
  /** The expiry to set, epoch ms or `null` (never); undefined keeps the live entry's (`defaultExpiresAt` on a new key). */
  expiresAt?: number | null;
  /** The expiry of a new key when `expiresAt` is undefined (the store's default TTL, or `null`). */
  defaultExpiresAt: number | null;
  /** Metadata to set; undefined keeps the live entry's (`null` on a new key). */
  metadata?: JsonObject | null;
  /** Scopes to set; undefined keeps the live entry's (none on a new key). */
  scopes?: string[];
  /** Id to use if the key has no live entry. */
  newId: string;
  /** Condition for this op. */
  precondition?: Precondition;
}
/** A mutation inside a commit. */
export type Mutation = PutOp | DeleteOp | PurgeOp | SetExpiryOp | NumericOp;

/**
 * A commit: mutations applied in one transaction, by the engine's `applyCommit` (`commit.ts`, where the
 * rules are written: atomic and each modes, expire-before-write, revisions, tombstones).
 */
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
   * `applyCommit` in `commit.ts`).
   */
  mutations: Mutation[];
  /** "Now", epoch ms: for expiry checks (an expired entry counts as absent) and timestamps. */
  nowMs: number;
  /**
   * The idempotency record answering this commit, written in the same transaction as the commit's writes
   * (so a crash cannot keep one without the other). `record` gets the commit's result and answers the
   * record to save under `scopeKey`, or undefined to save none. Before any write, the transaction reads
   * the record under `scopeKey` ({@link StorageTx.getIdempotency}): when one exists (the request was
   * answered already, e.g. by another server on the same database), the commit applies nothing and
   * rejects with `IdempotencyRecordFound` (`commit.ts`) carrying that record.
   */
  idempotency?: CommitIdempotency;
}

/** The idempotency hook of a {@link CommitRequest}. */
export interface CommitIdempotency {
  /** Token + store + key scope of the record (as {@link Storage.putIdempotency}). */
  scopeKey: string;
  /** The record to save for `result` (inside the commit's transaction), or undefined for none. */
  record(result: CommitResult): IdempotencyRecord | undefined;
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
  /** Put, sum/min/max: whether the key had no live entry before. Delete/purge: whether a live entry existed. */
  created?: boolean;
  /** Sum/min/max: the integer the key holds after the op. */
  number?: number;
}

/** Result of a commit (`applyCommit` in `commit.ts`). */
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
 * A durable queue message (docs/protocol.md "Queues"; Deno KV's `enqueue`/`listenQueue`, over the
 * network). Kept per store, by `id`; the storage stores and answers the fields as given and applies no
 * rule of its own.
 */
export interface QueueMessage {
  /** Unique within the store (the engine's generated id). */
  id: string;
  /** The value bytes, as enqueued. */
  value: Uint8Array;
  /** MIME type of `value` (the same value encoding as entries). */
  contentType: string;
  /** When it was enqueued, epoch ms. */
  enqueuedAt: number;
  /**
   * When it may next be delivered, epoch ms: the enqueue time plus its delay; while leased, the end of
   * the lease plus the next backoff step (so a listener that dies gets it redelivered then); after a
   * failed delivery, the time of the failure plus the backoff step.
   */
  visibleAt: number;
  /** Deliveries so far (0 before the first). */
  attempts: number;
  /** Id of its latest lease (the delivery a listener must acknowledge), or null before the first. */
  leaseId: string | null;
  /** When its latest lease ends, epoch ms, or null when it is not leased (never, or given back). */
  leaseExpiresAt: number | null;
  /** Keys written with `value` when delivery is given up (Deno KV `keysIfUndelivered`); may be empty. */
  keysIfUndelivered: string[];
  /** Delays before each redelivery, in ms (Deno KV `backoffSchedule`); may be empty. */
  backoffScheduleMs: number[];
}

/** Counts of a store's queue at one time (`Storage.queueStats`). */
export interface QueueCounts {
  /** Messages with `visibleAt <= nowMs` that are not leased (`leaseExpiresAt` null or `<= nowMs`). */
  ready: number;
  /** Messages with `visibleAt > nowMs` that are not leased. */
  delayed: number;
  /** Messages whose lease has not ended (`leaseExpiresAt > nowMs`). */
  inFlight: number;
  /** The smallest `visibleAt` of any message, epoch ms, or null when the queue is empty. */
  nextVisibleAt: number | null;
}

/** A value or a promise of it: {@link StorageTx} methods of a synchronous storage answer directly. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Data access inside one {@link Storage.transaction} on one store. Every method reads or writes rows and
 * nothing else: the commit rules are the caller's (`applyCommit` in `commit.ts`). Reads see the writes
 * made earlier in the same transaction. Methods may answer synchronously (MemoryStorage, SqliteStorage)
 * or with a promise (PostgreSQL on `pg`); the caller awaits every answer that is a promise before the next
 * call, so a storage never sees two calls of one transaction at once. A method called after its
 * transaction ended throws.
 */
export interface StorageTx {
  /** The store row as the transaction began (the `revision` before it; stats before it). */
  readonly store: StoreRecord;
  /**
   * The key's entry: its current `put`, live or expired (the caller decides), or undefined. `value` may
   * be empty (storages need not load it); `size` is exact. The object is read-only.
   */
  head(key: string): MaybePromise<StoredEntry | undefined>;
  /**
   * The value of the key's entry (live or expired; the bytes {@link StorageTx.head} may leave out), or
   * undefined when the key has no entry. Sees the writes made earlier in the transaction. The commit
   * reads it only for the numeric mutations (`sum`, `min`, `max`) of a small entry.
   */
  value(key: string): MaybePromise<Uint8Array | undefined>;
  /** The newest record of the key's history (its entry or a tombstone), without its value, or undefined. */
  lastRecord(key: string): MaybePromise<ChangeRecord | undefined>;
  /**
   * Makes `entry` the key's entry and the newest record of its history (trimmed to the store's depth).
   * `previous` is what {@link StorageTx.head} answered (the entry it replaces, which stays in history as
   * a past revision), or undefined when the key had no entry; with a `previous`, `entry` has its `id`
   * and `createdAt` (the same life of the key). `entry.size` is `entry.value`'s length. The storage
   * copies what it keeps.
   */
  putEntry(entry: StoredEntry, previous: StoredEntry | undefined): MaybePromise<void>;
  /**
   * Writes a new revision of the key's entry `previous` that changes only `revision`, `updatedAt` and
   * `expiresAt` (value, content type, metadata, scopes, id, `createdAt` and `resume` kept): the newest
   * record of its history (trimmed to depth); `previous` stays in history as a past revision.
   */
  updateEntry(
    previous: StoredEntry,
    change: { revision: number; updatedAt: number; expiresAt: number | null },
  ): MaybePromise<void>;
  /** Removes the key's entry `previous`; its history is untouched (the entry stays there as a past revision). */
  removeEntry(previous: StoredEntry): MaybePromise<void>;
  /**
   * Adds a tombstone (`delete` or `expire`) as the newest record of its key's history, then trims that
   * history to the store's depth. Puts reach history through {@link StorageTx.putEntry} and
   * {@link StorageTx.updateEntry}, never here.
   */
  appendHistory(tombstone: ChangeRecord): MaybePromise<void>;
  /** Removes every record of the key's history (a purge). */
  purgeHistory(key: string): MaybePromise<void>;
  /**
   * Appends `record` to the change log (dropping the oldest beyond the storage's bound). A `put` record
   * is the key's entry as written by {@link StorageTx.putEntry} or {@link StorageTx.updateEntry} earlier
   * in this transaction: the storage takes it, value included, from there (`record.value` is not read).
   */
  appendChange(record: ChangeRecord): MaybePromise<void>;
  /** The store's next revision (the first call answers `store.revision + 1`); written with the transaction. */
  nextRevision(): number;
  /** Adds to the store's `keyCount` and `totalBytes` (negative to subtract); written with the transaction. */
  adjustStats(deltaKeys: number, deltaBytes: number): MaybePromise<void>;
  /**
   * The idempotency record for `scopeKey` if one is saved (committed, or put earlier in this transaction)
   * and not expired at `nowMs`, else undefined; an expired record is forgotten here, within this
   * transaction, so that a {@link StorageTx.putIdempotency} after it is stored. The commit reads it
   * before its writes, so a request answered already is never applied again (`CommitRequest.idempotency`).
   * The engine's scope keys name the transaction's store, and transactions on one store are
   * serializable, so of two commits for one scope key the second finds the first one's record.
   */
  getIdempotency(scopeKey: string, nowMs: number): MaybePromise<IdempotencyRecord | undefined>;
  /** Saves an idempotency record in this transaction (first writer wins, as {@link Storage.putIdempotency}). */
  putIdempotency(scopeKey: string, record: IdempotencyRecord): MaybePromise<void>;

  /** The store's queue message `id` (value included), or undefined. Sees this transaction's writes. */
  getMessage(id: string): MaybePromise<QueueMessage | undefined>;
  /**
   * Up to `limit` of the store's queue messages with `visibleAt <= nowMs` (value included), ordered by
   * `visibleAt`, then `id` (bytes). Sees this transaction's writes.
   */
  dueMessages(nowMs: number, limit: number): MaybePromise<QueueMessage[]>;
  /** Inserts `message` into the store's queue, or replaces the message with its id. The storage copies what it keeps. */
  putMessage(message: QueueMessage): MaybePromise<void>;
  /** Removes the store's queue message `id`; nothing when there is none. */
  deleteMessage(id: string): MaybePromise<void>;
}

/** One entry found by {@link Storage.expiredEntries}. */
export interface ExpiredEntry {
  /** Store name. */
  store: string;
  /** The key. */
  key: string;
  /** Its `expiresAt`, epoch ms. */
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
   * Up to `limit` entries (across stores) whose `expiresAt <= nowMs`, oldest `expiresAt` first (ties:
   * store name, then key bytes): what the engine's sweep expires next.
   */
  expiredEntries(nowMs: number, limit: number): Promise<ExpiredEntry[]>;

  /**
   * Runs `fn` in one transaction on `store` and answers what `fn` answered: either every write `fn` made
   * through its {@link StorageTx} (entries, history, change log, revision, stats, idempotency records)
   * is committed, durably, before the promise resolves, or none is (when `fn` throws or rejects, the
   * promise rejects with that error). Transactions on one store are serializable: no other write to the
   * store happens between `fn`'s reads and its writes, and no reader sees a write before its commit.
   *
   * `fn` may be async (a storage with asynchronous I/O awaits it inside `BEGIN ... COMMIT`, taking the
   * store row `FOR UPDATE`). A storage whose `StorageTx` answers synchronously may require `fn` to finish
   * synchronously (MemoryStorage and SqliteStorage do: a `fn` that returns a promise is rolled back and
   * the call rejects with a `TypeError`); the engine's `applyCommit` finishes synchronously whenever
   * every `StorageTx` answer was synchronous.
   *
   * @throws StoreNotFoundError when the store does not exist (before `fn` runs)
   */
  transaction<T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T>;

  /** Changes with revision > `afterRevision`, ascending, at most `limit` (watch). */
  changes(store: string, afterRevision: number, limit: number): Promise<ChangeRecord[]>;
  /** Lowest revision still in the change log minus one: resuming from below it cannot be exact. */
  changeLogFloor(store: string): Promise<number>;

  /**
   * The counts of the store's queue at `nowMs` ({@link QueueCounts}). Messages are kept with the store
   * (written in {@link Storage.transaction}, durable as entries) and removed by `deleteStore`.
   *
   * @throws StoreNotFoundError when the store does not exist
   */
  queueStats(store: string, nowMs: number): Promise<QueueCounts>;

  /**
   * The idempotency record for `scopeKey` (token + store + key), if not expired at `nowMs`. An expired
   * record is forgotten here, so that the next `putIdempotency` for the key is stored.
   */
  getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined>;
  /** Saves an idempotency record (first writer wins), in a transaction of its own. */
  putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void>;
  /** Forgets up to `limit` idempotency records expired at `nowMs` (the sweep); answers how many. */
  deleteExpiredIdempotency(nowMs: number, limit: number): Promise<number>;

  /**
   * Optional change hints, for a storage that several server instances share: calls `listener` with a
   * store's name soon after a transaction on that store committed, through any instance (PostgreSQL:
   * `LISTEN/NOTIFY`). The engine's watch hub subscribes while any store is watched and wakes that store's
   * watchers at once. A hint only: it may come late, twice or never (the hub still polls), and it carries
   * no data (watchers read the change log). Transactions that only wrote queue messages send the hint
   * too (it wakes the queue's waiting listeners on every instance).
   *
   * @returns a function that ends the subscription
   */
  onChange?(listener: (store: string) => void): () => void;

  /** Whether the database answers (for `/readyz`). */
  ping(): Promise<boolean>;
  /** Releases resources. */
  close(): Promise<void>;
}

/**
 * A {@link Storage} without {@link Storage.transaction}: what the engine's handlers, listings, watch
 * streams and access checks get, so that every write of entries goes through the engine's commit
 * (`EngineContext.commit`), which applies the commit rules and wakes the watchers (docs/architecture.md
 * "Decisions").
 */
export type StorageReads = Omit<Storage, 'transaction'>;
