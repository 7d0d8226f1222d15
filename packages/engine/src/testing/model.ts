/**
 * `StorageModel`: a deliberately naive, synchronous reference of the {@link Storage} data rules, used by
 * the shared suite's property test to check a real storage after every random step. It keeps, per
 * store, one `Map` from key to its records (newest first) and the full change log, and derives every
 * read by filtering and sorting them, so each rule is written once and plainly:
 *
 * - a key is live when its newest record is a `put` whose `expiresAt` is null or > now;
 * - "current" entries (newest record a `put`, expired or not) make the stats until swept;
 * - atomic commits check every precondition against the state before the commit, each-mode commits
 *   check each op's precondition just before it;
 * - an applied commit first expires (as the sweeper would) each expired-but-unswept key a mutation
 *   names, just before that mutation (each mode: before its precondition too);
 * - tombstones keep the ended entry's fields with an empty value, `size` 0, `expiresAt: null`;
 * - sweeps take the oldest expiry first, ties by store name then key bytes.
 *
 * It is not a storage: no validation, no copies beyond what the comparisons need, O(n) everything.
 *
 * @module
 */
import type { StoreConfig } from '@kv/core';
import type {
  ChangeRecord,
  CommitRequest,
  CommitResult,
  Mutation,
  MutationResult,
  Precondition,
  ScanQuery,
  StoredEntry,
} from '../storage.js';

const encoder = new TextEncoder();

/**
 * Compares two strings by their UTF-8 bytes, by encoding them: the obviously-correct (and slow)
 * reference for key order (docs/protocol.md "Conventions": keys are ordered by their UTF-8 bytes).
 */
export function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

interface ModelStore {
  config: StoreConfig;
  revision: number;
  keys: Map<string, ChangeRecord[]>;
  log: ChangeRecord[];
}

/** Store stats as the model computes them (compare with `StoreRecord`'s fields). */
export interface ModelStats {
  /** Revision of the latest write. */
  revision: number;
  /** Current entries: newest record is a `put` (expired-but-unswept included). */
  keyCount: number;
  /** Sum of the current entries' sizes, in bytes. */
  totalBytes: number;
}

function stripOperation(record: ChangeRecord, values: boolean): StoredEntry {
  const { operation: _operation, ...entry } = record;
  return { ...entry, value: values ? entry.value : new Uint8Array(0) };
}

/** The naive reference model of a {@link Storage}'s data (see the module documentation). */
export class StorageModel {
  readonly #stores = new Map<string, ModelStore>();
  readonly #changeLogLimit: number;

  /** @param changeLogLimit - changes the modelled storage keeps per store (its `changeLogLimit`). */
  constructor(changeLogLimit = 10_000) {
    this.#changeLogLimit = changeLogLimit;
  }

  #store(name: string): ModelStore {
    const store = this.#stores.get(name);
    if (store === undefined) throw new Error(`model: no store ${name}`);
    return store;
  }

  /** Creates an empty store with these settings. */
  createStore(name: string, config: StoreConfig): void {
    this.#stores.set(name, { config: { ...config }, revision: 0, keys: new Map(), log: [] });
  }

  /** Changes the history depth, trimming every key's records. */
  setHistoryDepth(name: string, depth: number): void {
    const store = this.#store(name);
    store.config.history = depth;
    for (const [key, records] of store.keys) store.keys.set(key, records.slice(0, depth));
  }

  #live(store: ModelStore, key: string, nowMs: number): ChangeRecord | undefined {
    const head = store.keys.get(key)?.[0];
    if (head === undefined || head.operation !== 'put') return undefined;
    if (head.expiresAt !== null && head.expiresAt <= nowMs) return undefined;
    return head;
  }

  #holds(store: ModelStore, key: string, precondition: Precondition, nowMs: number): boolean {
    const live = this.#live(store, key, nowMs);
    if (precondition.kind === 'absent') return live === undefined;
    if (precondition.kind === 'exists') return live !== undefined;
    return live?.revision === precondition.revision;
  }

  #write(store: ModelStore, record: ChangeRecord): void {
    store.log.push(record);
    if (record.operation === 'purge') {
      store.keys.delete(record.key);
    } else {
      const records = [record, ...(store.keys.get(record.key) ?? [])];
      store.keys.set(record.key, records.slice(0, store.config.history));
    }
  }

  #tombstone(
    store: ModelStore,
    last: ChangeRecord,
    operation: 'delete' | 'purge' | 'expire',
    nowMs: number,
  ): ChangeRecord {
    store.revision += 1;
    return {
      ...last,
      operation,
      value: new Uint8Array(0),
      size: 0,
      expiresAt: null,
      revision: store.revision,
      updatedAt: nowMs,
    };
  }

  /** Writes the `expire` of `key` when its newest record is an expired `put`. */
  #expireDue(store: ModelStore, key: string, nowMs: number): void {
    const head = store.keys.get(key)?.[0];
    if (head?.operation === 'put' && head.expiresAt !== null && head.expiresAt <= nowMs) {
      this.#write(store, this.#tombstone(store, head, 'expire', nowMs));
    }
  }

  #apply(store: ModelStore, m: Mutation, nowMs: number): MutationResult {
    const head = store.keys.get(m.key)?.[0];
    const live = this.#live(store, m.key, nowMs);
    if (m.type === 'put') {
      store.revision += 1;
      const record: ChangeRecord = {
        operation: 'put',
        key: m.key,
        id: live ? live.id : m.newId,
        value: m.value.slice(),
        contentType: m.contentType,
        metadata: m.metadata === null ? null : structuredClone(m.metadata),
        scopes: [...m.scopes],
        revision: store.revision,
        createdAt: live ? live.createdAt : nowMs,
        updatedAt: nowMs,
        expiresAt: m.expiresAt,
        resume: m.resume,
        size: m.value.length,
      };
      this.#write(store, record);
      return { key: m.key, status: 'applied', revision: record.revision, id: record.id, created: !live };
    }
    if (m.type === 'setExpiry') {
      if (!live) return { key: m.key, status: 'noop' };
      store.revision += 1;
      const record: ChangeRecord = {
        ...live,
        revision: store.revision,
        updatedAt: nowMs,
        expiresAt: m.expiresAt,
      };
      this.#write(store, record);
      return { key: m.key, status: 'applied', revision: record.revision, id: record.id };
    }
    if (m.type === 'delete') {
      if (!live) return { key: m.key, status: 'noop', created: false };
      const record = this.#tombstone(store, live, 'delete', nowMs);
      this.#write(store, record);
      return { key: m.key, status: 'applied', revision: record.revision, id: record.id, created: true };
    }
    if (!head) return { key: m.key, status: 'noop', created: false };
    const record = this.#tombstone(store, head, 'purge', nowMs);
    this.#write(store, record);
    return { key: m.key, status: 'applied', revision: record.revision, id: record.id, created: !!live };
  }

  /** Applies a commit (see `CommitRequest`). */
  commit(name: string, request: CommitRequest): CommitResult {
    const store = this.#store(name);
    const now = request.nowMs;
    if (request.mode === 'atomic') {
      const conditions = [
        ...(request.checks ?? []),
        ...request.mutations.flatMap((m) =>
          m.precondition ? [{ key: m.key, precondition: m.precondition }] : [],
        ),
      ];
      const failedKeys = conditions
        .filter((c) => !this.#holds(store, c.key, c.precondition, now))
        .map((c) => c.key);
      if (failedKeys.length > 0) return { ok: false, failedKeys: [...new Set(failedKeys)] };
      const results = request.mutations.map((m) => {
        this.#expireDue(store, m.key, now);
        return this.#apply(store, m, now);
      });
      return { ok: true, results, revision: store.revision };
    }
    const results = request.mutations.map((m): MutationResult => {
      this.#expireDue(store, m.key, now);
      if (m.precondition && !this.#holds(store, m.key, m.precondition, now)) {
        const live = this.#live(store, m.key, now);
        const failure =
          m.precondition.kind === 'absent'
            ? 'key_exists'
            : m.precondition.kind === 'exists'
              ? 'key_not_found'
              : 'revision_mismatch';
        return {
          key: m.key,
          status: 'failed',
          failure,
          ...(live ? { revision: live.revision, id: live.id } : {}),
        };
      }
      return this.#apply(store, m, now);
    });
    return { ok: true, results, revision: store.revision };
  }

  /** Expires up to `limit` due entries across stores, oldest expiry first; returns how many. */
  sweepExpired(nowMs: number, limit: number): number {
    const due: Array<{ store: string; head: ChangeRecord }> = [];
    for (const [name, store] of this.#stores) {
      for (const records of store.keys.values()) {
        const head = records[0]!;
        if (head.operation === 'put' && head.expiresAt !== null && head.expiresAt <= nowMs) {
          due.push({ store: name, head });
        }
      }
    }
    due.sort(
      (a, b) =>
        a.head.expiresAt! - b.head.expiresAt! ||
        compareUtf8(a.store, b.store) ||
        compareUtf8(a.head.key, b.head.key),
    );
    const batch = due.slice(0, Math.max(0, limit));
    for (const { store: name, head } of batch) {
      const store = this.#store(name);
      this.#write(store, this.#tombstone(store, head, 'expire', nowMs));
    }
    return batch.length;
  }

  /** The live entry of `key`, or undefined. */
  get(name: string, key: string, nowMs: number, values = true): StoredEntry | undefined {
    const live = this.#live(this.#store(name), key, nowMs);
    return live ? stripOperation(live, values) : undefined;
  }

  /** The live entry with this id, or undefined. */
  getById(name: string, id: string, nowMs: number): StoredEntry | undefined {
    const store = this.#store(name);
    for (const key of store.keys.keys()) {
      const live = this.#live(store, key, nowMs);
      if (live?.id === id) return stripOperation(live, true);
    }
    return undefined;
  }

  /** Range scan by filtering every live entry and sorting by UTF-8 bytes. */
  scan(name: string, query: ScanQuery): StoredEntry[] {
    const store = this.#store(name);
    const { prefix = '', after, scope, reverse = false } = query;
    const rows = [...store.keys.keys()]
      .map((key) => this.#live(store, key, query.nowMs))
      .filter((live): live is ChangeRecord => live !== undefined)
      .filter((live) => live.key.startsWith(prefix))
      .filter((live) => scope === undefined || live.scopes.includes(scope))
      .filter(
        (live) =>
          after === undefined ||
          (reverse ? compareUtf8(live.key, after) < 0 : compareUtf8(live.key, after) > 0),
      )
      .sort((a, b) => (reverse ? compareUtf8(b.key, a.key) : compareUtf8(a.key, b.key)));
    return rows.slice(0, Math.max(0, query.limit)).map((live) => stripOperation(live, query.values));
  }

  /** The key's records, newest first. */
  history(name: string, key: string): ChangeRecord[] {
    return [...(this.#store(name).keys.get(key) ?? [])];
  }

  /** Every key that has any record (live or tombstone), sorted by bytes. */
  knownKeys(name: string): string[] {
    return [...this.#store(name).keys.keys()].sort(compareUtf8);
  }

  /** Distinct scopes of live entries, sorted by bytes. */
  listScopes(name: string, nowMs: number): string[] {
    const store = this.#store(name);
    const scopes = new Set<string>();
    for (const key of store.keys.keys()) {
      for (const scope of this.#live(store, key, nowMs)?.scopes ?? []) scopes.add(scope);
    }
    return [...scopes].sort(compareUtf8);
  }

  /** Revision, key count and total bytes. */
  stats(name: string): ModelStats {
    const store = this.#store(name);
    const current = [...store.keys.values()].map((r) => r[0]!).filter((head) => head.operation === 'put');
    return {
      revision: store.revision,
      keyCount: current.length,
      totalBytes: current.reduce((sum, head) => sum + head.size, 0),
    };
  }

  /** Kept changes with revision > `afterRevision`, ascending, at most `limit`. */
  changes(name: string, afterRevision: number, limit: number): ChangeRecord[] {
    const kept = this.#store(name).log.slice(-this.#changeLogLimit);
    return kept.filter((c) => c.revision > afterRevision).slice(0, Math.max(0, limit));
  }

  /** Revision of the newest dropped change, 0 when none was dropped. */
  changeLogFloor(name: string): number {
    const log = this.#store(name).log;
    return log.length > this.#changeLogLimit ? log[log.length - this.#changeLogLimit - 1]!.revision : 0;
  }
}
