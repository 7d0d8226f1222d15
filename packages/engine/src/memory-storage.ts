/**
 * `MemoryStorage`: the in-memory {@link Storage}. It backs the mock (`@kv/mock`), the engine's own tests
 * and single-process demos. It is data access only, like every storage: the contract it implements is
 * written in `storage.ts`, the commit rules it is driven by in `commit.ts`, and the shared storage suite
 * (`@kv/engine/testing`) checks both.
 *
 * Layout: per store, the entry of each key (`entries`), the history of each key (`histories`, newest
 * first, immutable arrays replaced on write), the change log (an array with a moving start), and indexes
 * derived from the entries: keys in UTF-8 byte order (`SortedKeys`, so a scan costs O(log n + k) plus
 * the expired entries it skips), ids, scope counts and expiry times.
 *
 * A transaction runs `fn` synchronously and writes in place, remembering each key's entry and history
 * before its first write (and buffering the revision, stats, change log and idempotency records): a
 * `fn` that throws is undone from that, and nothing else can run in between. Values, metadata and
 * scopes are copied on the way in and out: a caller cannot change stored bytes.
 *
 * @module
 */

import type { JsonObject, StoreConfig } from '@kv/core';
import { compareKeys, KeyExistsError, StoreNotFoundError } from '@kv/core';
import { comparePositions, SortedKeys } from './sorted-keys.js';
import type {
  ChangeRecord,
  ExpiredEntry,
  IdempotencyRecord,
  MaybePromise,
  QueueCounts,
  QueueMessage,
  ScanQuery,
  Storage,
  StorageTx,
  StoredEntry,
  StoreRecord,
} from './storage.js';

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Changes kept per store in the change log that feeds watch; older ones are dropped and
   * `changeLogFloor` rises. Must be at least 1.
   * @default 10000
   * @example new MemoryStorage({ changeLogLimit: 100 })
   */
  changeLogLimit?: number;
}

const EMPTY = new Uint8Array(0);

/** Mutable per-store state. Records and history arrays are never mutated once stored. */
interface StoreState {
  record: StoreRecord;
  /** key -> its entry (the current `put`, live or expired-but-unswept). */
  entries: Map<string, ChangeRecord>;
  /** key -> history, newest first (the entry included); present while the key has any record. */
  histories: Map<string, ChangeRecord[]>;
  /** Keys of `entries`, in key byte order. */
  sorted: SortedKeys;
  /** id -> key, for the entries. */
  ids: Map<string, string>;
  /** scope -> number of entries carrying it. */
  scopeCounts: Map<string, number>;
  /** key -> expiresAt, for entries that expire. */
  expiring: Map<string, number>;
  /** The change log, ascending; entries before `logStart` are dropped. */
  log: ChangeRecord[];
  logStart: number;
  /** Revision of the newest dropped change, 0 when none was dropped. */
  floor: number;
  /** id -> queue message (stored copies, replaced on write, never mutated). */
  messages: Map<string, QueueMessage>;
}

function isExpired(record: ChangeRecord, nowMs: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= nowMs;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

function copyMetadata(metadata: JsonObject | null): JsonObject | null {
  return metadata === null ? null : (structuredClone(metadata) as JsonObject);
}

/** A caller's copy of a stored record without its `operation`. */
function toEntry(record: ChangeRecord, values: boolean): StoredEntry {
  return {
    key: record.key,
    id: record.id,
    value: values ? record.value.slice() : new Uint8Array(0),
    contentType: record.contentType,
    metadata: copyMetadata(record.metadata),
    scopes: [...record.scopes],
    revision: record.revision,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    expiresAt: record.expiresAt,
    resume: record.resume,
    size: record.size,
  };
}

/** A caller's copy of a stored record. */
function toChange(record: ChangeRecord): ChangeRecord {
  return { ...toEntry(record, true), operation: record.operation };
}

function copyStore(record: StoreRecord): StoreRecord {
  return { ...record };
}

function copyMessage(message: QueueMessage): QueueMessage {
  return {
    ...message,
    value: message.value.slice(),
    keysIfUndelivered: [...message.keysIfUndelivered],
    backoffScheduleMs: [...message.backoffScheduleMs],
  };
}

/** Queue order: `visibleAt`, then `id` (UTF-8 bytes, as keys). */
function compareMessages(a: QueueMessage, b: QueueMessage): number {
  return a.visibleAt - b.visibleAt || compareKeys(a.id, b.id);
}

function copyIdempotency(record: IdempotencyRecord): IdempotencyRecord {
  return { ...record, headers: { ...record.headers }, body: record.body.slice() };
}

/**
 * The in-memory {@link Storage}: complete (history, ids, expiry, scopes, change log, idempotency) and
 * exact (stats, revisions), with the semantics described in this module's documentation. Data lives
 * as long as the instance; `close()` drops it.
 *
 * @example
 * const storage = new MemoryStorage({ changeLogLimit: 1000 });
 * await storage.createStore('orders', { history: 5, defaultTtlMs: null, maxValueBytes: 1024 }, Date.now(), secret);
 */
export class MemoryStorage implements Storage {
  readonly #changeLogLimit: number;
  #stores = new Map<string, StoreState>();
  #idempotency = new Map<string, IdempotencyRecord>();
  #closed = false;

  /**
   * @param options - `changeLogLimit` (changes kept per store, default 10,000)
   * @throws RangeError when `changeLogLimit` is not an integer >= 1
   */
  constructor(options: MemoryStorageOptions = {}) {
    const limit = options.changeLogLimit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`changeLogLimit must be an integer >= 1, got ${limit}`);
    }
    this.#changeLogLimit = limit;
  }

  #state(name: string): StoreState {
    const state = this.#stores.get(name);
    if (state === undefined)
      throw new StoreNotFoundError(`Store "${name}" not found`, { details: { store: name } });
    return state;
  }

  /** The key's live entry: its entry if not expired at `nowMs`. */
  #live(state: StoreState, key: string, nowMs: number): ChangeRecord | undefined {
    const entry = state.entries.get(key);
    return entry !== undefined && !isExpired(entry, nowMs) ? entry : undefined;
  }

  // ---- stores ------------------------------------------------------------------------------------------

  /** @inheritDoc */
  async createStore(
    name: string,
    config: StoreConfig,
    nowMs: number,
    signingSecret: string,
  ): Promise<StoreRecord> {
    if (this.#stores.has(name)) {
      throw new KeyExistsError(`Store "${name}" already exists`, {
        code: 'store_exists',
        details: { store: name },
      });
    }
    const record: StoreRecord = {
      name,
      history: config.history,
      defaultTtlMs: config.defaultTtlMs,
      maxValueBytes: config.maxValueBytes,
      revision: 0,
      keyCount: 0,
      totalBytes: 0,
      createdAt: nowMs,
      updatedAt: nowMs,
      signingSecret,
    };
    this.#stores.set(name, {
      record,
      entries: new Map(),
      histories: new Map(),
      sorted: new SortedKeys(compareKeys),
      ids: new Map(),
      scopeCounts: new Map(),
      expiring: new Map(),
      log: [],
      logStart: 0,
      floor: 0,
      messages: new Map(),
    });
    return copyStore(record);
  }

  /** @inheritDoc */
  async getStore(name: string): Promise<StoreRecord | undefined> {
    const state = this.#stores.get(name);
    return state === undefined ? undefined : copyStore(state.record);
  }

  /** @inheritDoc */
  async listStores(): Promise<StoreRecord[]> {
    return [...this.#stores.keys()].sort(compareKeys).map((name) => copyStore(this.#state(name).record));
  }

  /** @inheritDoc */
  async updateStore(name: string, patch: Partial<StoreConfig>, nowMs: number): Promise<StoreRecord> {
    const state = this.#state(name);
    const record = state.record;
    if (patch.history !== undefined) {
      if (patch.history < record.history) {
        for (const [key, history] of state.histories) {
          if (history.length > patch.history) state.histories.set(key, history.slice(0, patch.history));
        }
      }
      record.history = patch.history;
    }
    if (patch.defaultTtlMs !== undefined) record.defaultTtlMs = patch.defaultTtlMs;
    if (patch.maxValueBytes !== undefined) record.maxValueBytes = patch.maxValueBytes;
    record.updatedAt = nowMs;
    return copyStore(record);
  }

  /** @inheritDoc */
  async rotateSigningSecret(name: string, secret: string, nowMs: number): Promise<StoreRecord> {
    const record = this.#state(name).record;
    record.signingSecret = secret;
    record.updatedAt = nowMs;
    return copyStore(record);
  }

  /** @inheritDoc */
  async deleteStore(name: string): Promise<boolean> {
    return this.#stores.delete(name);
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** @inheritDoc */
  async get(store: string, key: string, nowMs: number): Promise<StoredEntry | undefined> {
    const live = this.#live(this.#state(store), key, nowMs);
    return live === undefined ? undefined : toEntry(live, true);
  }

  /** @inheritDoc */
  async getById(store: string, id: string, nowMs: number): Promise<StoredEntry | undefined> {
    const state = this.#state(store);
    const key = state.ids.get(id);
    if (key === undefined) return undefined;
    const live = this.#live(state, key, nowMs);
    return live !== undefined && live.id === id ? toEntry(live, true) : undefined;
  }

  /** @inheritDoc */
  async getMany(
    store: string,
    keys: string[],
    nowMs: number,
    values: boolean,
  ): Promise<Array<StoredEntry | undefined>> {
    const state = this.#state(store);
    return keys.map((key) => {
      const live = this.#live(state, key, nowMs);
      return live === undefined ? undefined : toEntry(live, values);
    });
  }

  /** @inheritDoc */
  async scan(store: string, query: ScanQuery): Promise<StoredEntry[]> {
    const state = this.#state(store);
    const keys = state.sorted;
    const out: StoredEntry[] = [];
    if (query.limit <= 0) return out;
    const prefix = query.prefix ?? '';
    let lo = prefix === '' ? keys.start() : keys.lowerBound(prefix);
    let hi = prefix === '' ? keys.end() : keys.prefixEnd(prefix);
    if (query.after !== undefined) {
      if (query.reverse === true) {
        const bound = keys.lowerBound(query.after);
        if (comparePositions(bound, hi) < 0) hi = bound;
      } else {
        const bound = keys.upperBound(query.after);
        if (comparePositions(bound, lo) > 0) lo = bound;
      }
    }
    for (const key of keys.range(lo, hi, query.reverse === true)) {
      const live = this.#live(state, key, query.nowMs);
      if (live === undefined) continue;
      if (query.scope !== undefined && !live.scopes.includes(query.scope)) continue;
      out.push(toEntry(live, query.values));
      if (out.length >= query.limit) break;
    }
    return out;
  }

  /** @inheritDoc */
  async history(store: string, key: string): Promise<ChangeRecord[]> {
    return (this.#state(store).histories.get(key) ?? []).map(toChange);
  }

  /** @inheritDoc */
  async listScopes(store: string, nowMs: number): Promise<string[]> {
    const state = this.#state(store);
    const counts = new Map(state.scopeCounts);
    for (const [key, expiresAt] of state.expiring) {
      if (expiresAt > nowMs) continue;
      for (const scope of state.entries.get(key)!.scopes) counts.set(scope, counts.get(scope)! - 1);
    }
    return [...counts]
      .filter(([, count]) => count > 0)
      .map(([scope]) => scope)
      .sort(compareKeys);
  }

  /** @inheritDoc */
  async expiredEntries(nowMs: number, limit: number): Promise<ExpiredEntry[]> {
    if (limit <= 0) return [];
    const due: ExpiredEntry[] = [];
    for (const [store, state] of this.#stores) {
      for (const [key, expiresAt] of state.expiring) {
        if (expiresAt <= nowMs) due.push({ store, key, expiresAt });
      }
    }
    due.sort(
      (a, b) => a.expiresAt - b.expiresAt || compareKeys(a.store, b.store) || compareKeys(a.key, b.key),
    );
    return due.slice(0, limit);
  }

  // ---- writes ------------------------------------------------------------------------------------------

  /**
   * See {@link Storage.transaction}. `fn` must finish synchronously (every answer of this storage's
   * {@link StorageTx} is synchronous): a `fn` that returns a promise is undone and the call rejects with a
   * `TypeError`.
   */
  async transaction<T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T> {
    const tx = new MemoryTx(this.#state(store), this.#idempotency);
    let result: MaybePromise<T>;
    try {
      result = fn(tx);
      if (isThenable(result)) {
        // Its later calls throw (the transaction is over); keep that rejection from going unhandled.
        result.then(undefined, () => {});
        throw new TypeError('MemoryStorage.transaction: fn must finish synchronously');
      }
    } catch (error) {
      tx.rollback();
      throw error;
    }
    tx.finish(this.#changeLogLimit, this.#idempotency);
    return result;
  }

  // ---- change log --------------------------------------------------------------------------------------

  /** @inheritDoc */
  async changes(store: string, afterRevision: number, limit: number): Promise<ChangeRecord[]> {
    const state = this.#state(store);
    if (limit <= 0) return [];
    const log = state.log;
    let lo = state.logStart;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log[mid]!.revision <= afterRevision) lo = mid + 1;
      else hi = mid;
    }
    return log.slice(lo, lo + limit).map(toChange);
  }

  /** @inheritDoc */
  async changeLogFloor(store: string): Promise<number> {
    return this.#state(store).floor;
  }

  /** @inheritDoc */
  async queueStats(store: string, nowMs: number): Promise<QueueCounts> {
    const counts: QueueCounts = { ready: 0, delayed: 0, inFlight: 0, nextVisibleAt: null };
    for (const message of this.#state(store).messages.values()) {
      if (message.leaseExpiresAt !== null && message.leaseExpiresAt > nowMs) counts.inFlight += 1;
      else if (message.visibleAt <= nowMs) counts.ready += 1;
      else counts.delayed += 1;
      if (counts.nextVisibleAt === null || message.visibleAt < counts.nextVisibleAt) {
        counts.nextVisibleAt = message.visibleAt;
      }
    }
    return counts;
  }

  // ---- idempotency -------------------------------------------------------------------------------------

  /** @inheritDoc */
  async getIdempotency(scopeKey: string, nowMs: number): Promise<IdempotencyRecord | undefined> {
    const record = this.#idempotency.get(scopeKey);
    if (record === undefined) return undefined;
    if (record.expiresAt <= nowMs) {
      this.#idempotency.delete(scopeKey);
      return undefined;
    }
    return copyIdempotency(record);
  }

  /** @inheritDoc */
  async putIdempotency(scopeKey: string, record: IdempotencyRecord): Promise<void> {
    if (!this.#idempotency.has(scopeKey)) this.#idempotency.set(scopeKey, copyIdempotency(record));
  }

  /** @inheritDoc */
  async deleteExpiredIdempotency(nowMs: number, limit: number): Promise<number> {
    let deleted = 0;
    for (const [scopeKey, record] of this.#idempotency) {
      if (deleted >= limit) break;
      if (record.expiresAt <= nowMs) {
        this.#idempotency.delete(scopeKey);
        deleted++;
      }
    }
    return deleted;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  /** @inheritDoc */
  async ping(): Promise<boolean> {
    return !this.#closed;
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stores = new Map();
    this.#idempotency = new Map();
  }
}

/** Adds an entry to the indexes (ids, scope counts, expiry times). */
function index(state: StoreState, record: ChangeRecord): void {
  state.ids.set(record.id, record.key);
  for (const scope of record.scopes) state.scopeCounts.set(scope, (state.scopeCounts.get(scope) ?? 0) + 1);
  if (record.expiresAt !== null) state.expiring.set(record.key, record.expiresAt);
}

/** Removes an entry from the indexes. */
function unindex(state: StoreState, record: ChangeRecord): void {
  state.ids.delete(record.id);
  for (const scope of record.scopes) {
    const count = state.scopeCounts.get(scope)! - 1;
    if (count === 0) state.scopeCounts.delete(scope);
    else state.scopeCounts.set(scope, count);
  }
  state.expiring.delete(record.key);
}

/** Sets (or, with undefined, removes) the entry of `key`, keeping the indexes in step. */
function setEntry(state: StoreState, key: string, record: ChangeRecord | undefined): void {
  const old = state.entries.get(key);
  if (old !== undefined) unindex(state, old);
  if (record === undefined) {
    if (old !== undefined) {
      state.entries.delete(key);
      state.sorted.delete(key);
    }
    return;
  }
  if (old === undefined) state.sorted.add(key);
  state.entries.set(key, record);
  index(state, record);
}

/** Puts `record` at the head of its key's history, trimmed to the store's depth. */
function pushHistory(state: StoreState, record: ChangeRecord): void {
  const history = [record, ...(state.histories.get(record.key) ?? [])];
  if (history.length > state.record.history) history.length = state.record.history;
  state.histories.set(record.key, history);
}

/** Appends to the change log, dropping the oldest beyond `limit` (the floor rises). */
function appendLog(state: StoreState, record: ChangeRecord, limit: number): void {
  state.log.push(record);
  while (state.log.length - state.logStart > limit) {
    state.floor = state.log[state.logStart]!.revision;
    state.logStart += 1;
  }
  if (state.logStart >= 1024 && state.logStart * 2 >= state.log.length) {
    state.log = state.log.slice(state.logStart);
    state.logStart = 0;
  }
}

/** A stored copy of a record (value, metadata and scopes copied). */
function storedCopy(record: StoredEntry, operation: ChangeRecord['operation']): ChangeRecord {
  return {
    operation,
    key: record.key,
    id: record.id,
    value: operation === 'put' ? record.value.slice() : EMPTY,
    contentType: record.contentType,
    metadata: copyMetadata(record.metadata),
    scopes: [...record.scopes],
    revision: record.revision,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    expiresAt: record.expiresAt,
    resume: record.resume,
    size: record.size,
  };
}

/**
 * The {@link StorageTx} of {@link MemoryStorage.transaction}: writes entries and histories in place (each
 * key's state before its first write is kept for {@link MemoryTx.rollback}) and buffers the revision,
 * stats, change log and idempotency records until {@link MemoryTx.finish}.
 */
class MemoryTx implements StorageTx {
  readonly store: StoreRecord;
  readonly #state: StoreState;
  #open = true;
  #revision: number;
  #deltaKeys = 0;
  #deltaBytes = 0;
  readonly #saved = new Map<
    string,
    { entry: ChangeRecord | undefined; history: ChangeRecord[] | undefined }
  >();
  readonly #log: ChangeRecord[] = [];
  /** Each written message's state before this transaction's first write to it. */
  readonly #savedMessages = new Map<string, QueueMessage | undefined>();
  readonly #idempotency: Array<[string, IdempotencyRecord]> = [];
  /** The storage's saved idempotency records (read by {@link MemoryTx.getIdempotency}). */
  readonly #savedIdempotency: Map<string, IdempotencyRecord>;

  constructor(state: StoreState, savedIdempotency: Map<string, IdempotencyRecord>) {
    this.#state = state;
    this.#savedIdempotency = savedIdempotency;
    this.store = copyStore(state.record);
    this.#revision = state.record.revision;
  }

  #check(): void {
    if (!this.#open) throw new Error('MemoryStorage: this transaction is over');
  }

  /** Checks the transaction is open and keeps the key's state before its first write. */
  #touch(key: string): void {
    this.#check();
    if (!this.#saved.has(key)) {
      this.#saved.set(key, { entry: this.#state.entries.get(key), history: this.#state.histories.get(key) });
    }
  }

  head(key: string): StoredEntry | undefined {
    this.#check();
    return this.#state.entries.get(key);
  }

  value(key: string): Uint8Array | undefined {
    this.#check();
    return this.#state.entries.get(key)?.value;
  }

  lastRecord(key: string): ChangeRecord | undefined {
    this.#check();
    return this.#state.histories.get(key)?.[0];
  }

  putEntry(entry: StoredEntry, _previous: StoredEntry | undefined): void {
    this.#touch(entry.key);
    const record = storedCopy(entry, 'put');
    setEntry(this.#state, entry.key, record);
    pushHistory(this.#state, record);
  }

  updateEntry(
    previous: StoredEntry,
    change: { revision: number; updatedAt: number; expiresAt: number | null },
  ): void {
    this.#touch(previous.key);
    const current = this.#state.entries.get(previous.key);
    if (current === undefined) throw new Error(`MemoryStorage: no entry to update for key "${previous.key}"`);
    const record: ChangeRecord = {
      ...current,
      revision: change.revision,
      updatedAt: change.updatedAt,
      expiresAt: change.expiresAt,
    };
    setEntry(this.#state, previous.key, record);
    pushHistory(this.#state, record);
  }

  removeEntry(previous: StoredEntry): void {
    this.#touch(previous.key);
    setEntry(this.#state, previous.key, undefined);
  }

  appendHistory(tombstone: ChangeRecord): void {
    this.#touch(tombstone.key);
    pushHistory(this.#state, storedCopy(tombstone, tombstone.operation));
  }

  purgeHistory(key: string): void {
    this.#touch(key);
    this.#state.histories.delete(key);
  }

  appendChange(record: ChangeRecord): void {
    this.#check();
    // The same record as the key's entry or newest history record when it is one of them (no copy).
    const stored =
      record.operation === 'put'
        ? this.#state.entries.get(record.key)
        : this.#state.histories.get(record.key)?.[0];
    this.#log.push(
      stored !== undefined && stored.revision === record.revision
        ? stored
        : storedCopy(record, record.operation),
    );
  }

  nextRevision(): number {
    this.#check();
    return ++this.#revision;
  }

  adjustStats(deltaKeys: number, deltaBytes: number): void {
    this.#check();
    this.#deltaKeys += deltaKeys;
    this.#deltaBytes += deltaBytes;
  }

  getIdempotency(scopeKey: string, nowMs: number): IdempotencyRecord | undefined {
    this.#check();
    const record =
      this.#savedIdempotency.get(scopeKey) ?? this.#idempotency.find(([key]) => key === scopeKey)?.[1];
    if (record === undefined) return undefined;
    if (record.expiresAt <= nowMs) {
      // Forgetting an expired record needs no undo: it is expired whether this transaction commits or not.
      this.#savedIdempotency.delete(scopeKey);
      const at = this.#idempotency.findIndex(([key]) => key === scopeKey);
      if (at >= 0) this.#idempotency.splice(at, 1);
      return undefined;
    }
    return copyIdempotency(record);
  }

  putIdempotency(scopeKey: string, record: IdempotencyRecord): void {
    this.#check();
    this.#idempotency.push([scopeKey, copyIdempotency(record)]);
  }

  getMessage(id: string): QueueMessage | undefined {
    this.#check();
    const message = this.#state.messages.get(id);
    return message === undefined ? undefined : copyMessage(message);
  }

  dueMessages(nowMs: number, limit: number): QueueMessage[] {
    this.#check();
    if (limit <= 0) return [];
    const due: QueueMessage[] = [];
    for (const message of this.#state.messages.values()) {
      if (message.visibleAt <= nowMs) due.push(message);
    }
    due.sort(compareMessages);
    return due.slice(0, limit).map(copyMessage);
  }

  #touchMessage(id: string): void {
    this.#check();
    if (!this.#savedMessages.has(id)) this.#savedMessages.set(id, this.#state.messages.get(id));
  }

  putMessage(message: QueueMessage): void {
    this.#touchMessage(message.id);
    this.#state.messages.set(message.id, copyMessage(message));
  }

  deleteMessage(id: string): void {
    this.#touchMessage(id);
    this.#state.messages.delete(id);
  }

  /** Commits: the revision, stats, change log and idempotency records. */
  finish(changeLogLimit: number, idempotency: Map<string, IdempotencyRecord>): void {
    this.#open = false;
    const record = this.#state.record;
    record.revision = this.#revision;
    record.keyCount += this.#deltaKeys;
    record.totalBytes += this.#deltaBytes;
    for (const change of this.#log) appendLog(this.#state, change, changeLogLimit);
    for (const [scopeKey, saved] of this.#idempotency) {
      if (!idempotency.has(scopeKey)) idempotency.set(scopeKey, saved);
    }
  }

  /** Undoes the writes: every touched key gets back its entry and history, every touched message its state. */
  rollback(): void {
    this.#open = false;
    for (const [key, { entry, history }] of this.#saved) {
      setEntry(this.#state, key, entry);
      if (history === undefined) this.#state.histories.delete(key);
      else this.#state.histories.set(key, history);
    }
    for (const [id, message] of this.#savedMessages) {
      if (message === undefined) this.#state.messages.delete(id);
      else this.#state.messages.set(id, message);
    }
  }
}
