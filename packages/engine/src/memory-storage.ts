/**
 * `MemoryStorage`: the complete in-memory {@link Storage}. It backs the mock (`@kv/mock`), the engine's
 * own tests and single-process demos, and it is the reference the shared storage suite
 * (`@kv/engine/testing`) was written against; `SqliteStorage` and the PostgreSQL storage pass the same
 * suite.
 *
 * Semantics (every rule is exercised by the suite):
 *
 * - Keys are ordered by their UTF-8 bytes (docs/protocol.md "Conventions", `compareKeys` from `@kv/core`), kept in a
 *   sorted list of chunks (`SortedKeys`), so a scan costs O(log n + k) plus the expired entries it skips
 *   and a write moves at most one chunk.
 * - Each store has one revision sequence; every applied mutation takes the next value (consecutive
 *   inside a commit). `noop` and `failed` mutations take none (docs/architecture.md "Revisions").
 * - Atomic commits evaluate every precondition (the `checks` and each op's own) against the state
 *   BEFORE the commit, then either apply every op in order or nothing (`{ ok: false, failedKeys }`).
 *   Each-mode commits evaluate an op's precondition just before that op, against the state as mutated
 *   by the ops before it; `checks` are only read in atomic mode.
 * - An entry whose `expiresAt <= nowMs` is invisible to every read and counts as absent for
 *   preconditions before the sweeper runs. Until it is swept it still counts in the store's
 *   `keyCount`/`totalBytes` ("not expired-and-swept") and stays in history as the `put` it was.
 * - A commit that is applied and has a mutation on an expired-but-unswept key first records that key's
 *   `expire` write, exactly as the sweeper would (its own revision, tombstone in history, change log),
 *   then runs the mutation against the new state: a put starts a new life (new id, `created: true`),
 *   delete and setExpiry are no-ops, a purge removes the key with its `expire` tombstone. Atomic commits
 *   do this only once every check has passed (a failed commit writes nothing); each-mode commits do it
 *   for every op, before that op's precondition is evaluated, so an op whose precondition fails still
 *   records the expire. Keys named only in `checks` are not expired.
 * - History (Ironflow/NATS): a key's revisions, newest first, at most the store's `history` depth,
 *   tombstones included. A tombstone (`delete`, `expire`) keeps the id, content type, metadata,
 *   scopes, `createdAt` and `resume` of the entry it ends, with an empty value, `size` 0,
 *   `expiresAt: null` and `updatedAt` = the time of the tombstone. A purge removes the key and its whole
 *   history and leaves only a `purge` record (same shape) in the change log.
 * - The change log keeps the newest `changeLogLimit` changes per store; a purge does not rewrite it.
 *
 * Values, metadata and scopes are copied on the way in and out: a caller cannot change stored bytes.
 * Every method is `async` but runs synchronously, so a commit is atomic with respect to other calls.
 *
 * @module
 */

import type { JsonObject, StoreConfig } from '@kv/core';
import { compareKeys, KeyExistsError, StoreNotFoundError } from '@kv/core';
import { comparePositions, SortedKeys } from './sorted-keys.js';
import type {
  ChangeRecord,
  CommitRequest,
  CommitResult,
  IdempotencyRecord,
  Mutation,
  MutationResult,
  Precondition,
  ScanQuery,
  Storage,
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

/** Mutable per-store state. Records in `keys` and `log` are never mutated once written. */
interface StoreState {
  record: StoreRecord;
  /** key -> history, newest first; present while the key has any record (live or tombstone). */
  keys: Map<string, ChangeRecord[]>;
  /** Keys whose newest record is a `put` (live or expired-but-unswept), in key byte order. */
  sorted: SortedKeys;
  /** id -> key, for the current `put` of each key in `sorted`. */
  ids: Map<string, string>;
  /** scope -> number of current `put`s carrying it. */
  scopeCounts: Map<string, number>;
  /** key -> expiresAt, for current `put`s that expire. */
  expiring: Map<string, number>;
  /** The change log, ascending; entries before `logStart` are dropped. */
  log: ChangeRecord[];
  logStart: number;
  /** Revision of the newest dropped change, 0 when none was dropped. */
  floor: number;
}

function isExpired(record: ChangeRecord, nowMs: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= nowMs;
}

function copyMetadata(metadata: JsonObject | null): JsonObject | null {
  return metadata === null ? null : (structuredClone(metadata) as JsonObject);
}

function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort(compareKeys);
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

  /** The key's live record: its newest record if that is a `put` not expired at `nowMs`. */
  #live(state: StoreState, key: string, nowMs: number): ChangeRecord | undefined {
    const head = state.keys.get(key)?.[0];
    return head !== undefined && head.operation === 'put' && !isExpired(head, nowMs) ? head : undefined;
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
      keys: new Map(),
      sorted: new SortedKeys(compareKeys),
      ids: new Map(),
      scopeCounts: new Map(),
      expiring: new Map(),
      log: [],
      logStart: 0,
      floor: 0,
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
        for (const history of state.keys.values()) {
          if (history.length > patch.history) history.length = patch.history;
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
    return (this.#state(store).keys.get(key) ?? []).map(toChange);
  }

  /** @inheritDoc */
  async listScopes(store: string, nowMs: number): Promise<string[]> {
    const state = this.#state(store);
    const counts = new Map(state.scopeCounts);
    for (const [key, expiresAt] of state.expiring) {
      if (expiresAt > nowMs) continue;
      for (const scope of state.keys.get(key)![0]!.scopes) counts.set(scope, counts.get(scope)! - 1);
    }
    return [...counts]
      .filter(([, count]) => count > 0)
      .map(([scope]) => scope)
      .sort(compareKeys);
  }

  // ---- writes ------------------------------------------------------------------------------------------

  /** @inheritDoc */
  async commit(store: string, request: CommitRequest): Promise<CommitResult> {
    const state = this.#state(store);
    const nowMs = request.nowMs;
    const atomic = request.mode === 'atomic';
    if (atomic) {
      const failed = new Set<string>();
      for (const check of request.checks ?? []) {
        if (this.#failure(state, check.key, check.precondition, nowMs) !== undefined) failed.add(check.key);
      }
      for (const mutation of request.mutations) {
        if (
          mutation.precondition !== undefined &&
          this.#failure(state, mutation.key, mutation.precondition, nowMs) !== undefined
        ) {
          failed.add(mutation.key);
        }
      }
      if (failed.size > 0) return { ok: false, failedKeys: [...failed] };
    }
    const results: MutationResult[] = [];
    for (const mutation of request.mutations) {
      this.#expireDue(state, mutation.key, nowMs);
      if (!atomic && mutation.precondition !== undefined) {
        const failure = this.#failure(state, mutation.key, mutation.precondition, nowMs);
        if (failure !== undefined) {
          const live = this.#live(state, mutation.key, nowMs);
          results.push({
            key: mutation.key,
            status: 'failed',
            failure,
            ...(live === undefined ? {} : { revision: live.revision, id: live.id }),
          });
          continue;
        }
      }
      results.push(this.#apply(state, mutation, nowMs));
    }
    return { ok: true, results, revision: state.record.revision };
  }

  /**
   * Records the `expire` write of `key` when its newest record is a `put` expired at `nowMs` (what the
   * sweeper would write), so a commit on an expired-but-unswept key never skips its expiry.
   */
  #expireDue(state: StoreState, key: string, nowMs: number): void {
    const head = state.keys.get(key)?.[0];
    if (head !== undefined && head.operation === 'put' && isExpired(head, nowMs)) {
      this.#end(state, head, 'expire', nowMs);
    }
  }

  /** Which precondition failure `precondition` has on `key` now, or undefined when it holds. */
  #failure(
    state: StoreState,
    key: string,
    precondition: Precondition,
    nowMs: number,
  ): MutationResult['failure'] | undefined {
    const live = this.#live(state, key, nowMs);
    switch (precondition.kind) {
      case 'revision':
        return live !== undefined && live.revision === precondition.revision
          ? undefined
          : 'revision_mismatch';
      case 'absent':
        return live === undefined ? undefined : 'key_exists';
      case 'exists':
        return live === undefined ? 'key_not_found' : undefined;
    }
  }

  #apply(state: StoreState, mutation: Mutation, nowMs: number): MutationResult {
    const key = mutation.key;
    const history = state.keys.get(key);
    const head = history?.[0];
    /** The current `put`; `commit` has expired a due one already, so it is live here. */
    const current = head?.operation === 'put' ? head : undefined;
    const live = current !== undefined && !isExpired(current, nowMs) ? current : undefined;
    switch (mutation.type) {
      case 'put': {
        const value = mutation.value.slice();
        const record: ChangeRecord = {
          operation: 'put',
          key,
          id: live?.id ?? mutation.newId,
          value,
          contentType: mutation.contentType,
          metadata: copyMetadata(mutation.metadata),
          scopes: normalizeScopes(mutation.scopes),
          revision: ++state.record.revision,
          createdAt: live?.createdAt ?? nowMs,
          updatedAt: nowMs,
          expiresAt: mutation.expiresAt,
          resume: mutation.resume,
          size: value.byteLength,
        };
        if (current === undefined) state.sorted.add(key);
        else this.#unindex(state, current);
        this.#index(state, record);
        this.#write(state, record);
        return {
          key,
          status: 'applied',
          revision: record.revision,
          id: record.id,
          created: live === undefined,
        };
      }
      case 'setExpiry': {
        if (live === undefined) return { key, status: 'noop' };
        const record: ChangeRecord = {
          ...live,
          revision: ++state.record.revision,
          updatedAt: nowMs,
          expiresAt: mutation.expiresAt,
        };
        this.#unindex(state, live);
        this.#index(state, record);
        this.#write(state, record);
        return { key, status: 'applied', revision: record.revision, id: record.id };
      }
      case 'delete': {
        if (live === undefined) return { key, status: 'noop', created: false };
        const record = this.#end(state, live, 'delete', nowMs);
        return { key, status: 'applied', revision: record.revision, id: record.id, created: true };
      }
      case 'purge': {
        if (head === undefined) return { key, status: 'noop', created: false };
        const record = this.#end(state, head, 'purge', nowMs);
        return {
          key,
          status: 'applied',
          revision: record.revision,
          id: record.id,
          created: live !== undefined,
        };
      }
    }
  }

  /** Ends a key's life with a tombstone (`delete`, `expire`) or removes it (`purge`). */
  #end(
    state: StoreState,
    last: ChangeRecord,
    operation: 'delete' | 'expire' | 'purge',
    nowMs: number,
  ): ChangeRecord {
    const record: ChangeRecord = {
      ...last,
      operation,
      value: EMPTY,
      size: 0,
      expiresAt: null,
      revision: ++state.record.revision,
      updatedAt: nowMs,
    };
    if (last.operation === 'put') {
      this.#unindex(state, last);
      state.sorted.delete(last.key);
    }
    if (operation === 'purge') {
      state.keys.delete(last.key);
      this.#appendChange(state, record);
    } else {
      this.#write(state, record);
    }
    return record;
  }

  /** Adds a current `put` to the stats and indexes (not to `sorted`). */
  #index(state: StoreState, record: ChangeRecord): void {
    state.record.keyCount += 1;
    state.record.totalBytes += record.size;
    state.ids.set(record.id, record.key);
    for (const scope of record.scopes) state.scopeCounts.set(scope, (state.scopeCounts.get(scope) ?? 0) + 1);
    if (record.expiresAt !== null) state.expiring.set(record.key, record.expiresAt);
  }

  /** Removes a current `put` from the stats and indexes (not from `sorted`). */
  #unindex(state: StoreState, record: ChangeRecord): void {
    state.record.keyCount -= 1;
    state.record.totalBytes -= record.size;
    state.ids.delete(record.id);
    for (const scope of record.scopes) {
      const count = state.scopeCounts.get(scope)! - 1;
      if (count === 0) state.scopeCounts.delete(scope);
      else state.scopeCounts.set(scope, count);
    }
    state.expiring.delete(record.key);
  }

  /** Puts a record at the head of its key's history (trimmed to depth) and in the change log. */
  #write(state: StoreState, record: ChangeRecord): void {
    let history = state.keys.get(record.key);
    if (history === undefined) {
      history = [];
      state.keys.set(record.key, history);
    }
    history.unshift(record);
    if (history.length > state.record.history) history.length = state.record.history;
    this.#appendChange(state, record);
  }

  #appendChange(state: StoreState, record: ChangeRecord): void {
    state.log.push(record);
    while (state.log.length - state.logStart > this.#changeLogLimit) {
      state.floor = state.log[state.logStart]!.revision;
      state.logStart += 1;
    }
    if (state.logStart >= 1024 && state.logStart * 2 >= state.log.length) {
      state.log = state.log.slice(state.logStart);
      state.logStart = 0;
    }
  }

  /** @inheritDoc */
  async sweepExpired(nowMs: number, limit: number): Promise<number> {
    for (const [scopeKey, record] of this.#idempotency) {
      if (record.expiresAt <= nowMs) this.#idempotency.delete(scopeKey);
    }
    if (limit <= 0) return 0;
    const due: Array<{ state: StoreState; key: string; expiresAt: number }> = [];
    for (const state of this.#stores.values()) {
      for (const [key, expiresAt] of state.expiring) {
        if (expiresAt <= nowMs) due.push({ state, key, expiresAt });
      }
    }
    due.sort(
      (a, b) =>
        a.expiresAt - b.expiresAt ||
        compareKeys(a.state.record.name, b.state.record.name) ||
        compareKeys(a.key, b.key),
    );
    const batch = due.slice(0, limit);
    for (const { state, key } of batch) this.#end(state, state.keys.get(key)![0]!, 'expire', nowMs);
    return batch.length;
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
