import { describe, expect, it } from 'vitest';
import { applyCommit, commit, IdempotencyRecordFound, runSteps, type Steps } from './commit.js';
import { MemoryStorage } from './memory-storage.js';
import type {
  ChangeRecord,
  CommitRequest,
  IdempotencyRecord,
  MaybePromise,
  StorageTx,
  StoredEntry,
  StoreRecord,
} from './storage.js';
import { putOp, storeConfig, T0 } from './testing/helpers.js';

/**
 * A StorageTx over plain maps that logs every call, answering synchronously or with promises: the
 * commit rules must give the same calls and result either way (SQLite and memory answer synchronously,
 * PostgreSQL with promises).
 */
class FakeTx implements StorageTx {
  readonly store: StoreRecord = {
    name: 's',
    history: 2,
    defaultTtlMs: null,
    maxValueBytes: 1024,
    revision: 10,
    keyCount: 0,
    totalBytes: 0,
    createdAt: T0,
    updatedAt: T0,
    signingSecret: 'x',
  };
  readonly calls: string[] = [];
  readonly entries = new Map<string, StoredEntry>();
  readonly last = new Map<string, ChangeRecord>();
  readonly idempotency = new Map<string, IdempotencyRecord>();
  #revision = 10;

  constructor(readonly async: boolean) {}

  #answer<T>(call: string, value: T): MaybePromise<T> {
    this.calls.push(call);
    return this.async ? Promise.resolve(value) : value;
  }

  head(key: string): MaybePromise<StoredEntry | undefined> {
    return this.#answer(`head ${key}`, this.entries.get(key));
  }
  value(key: string): MaybePromise<Uint8Array | undefined> {
    return this.#answer(`value ${key}`, this.entries.get(key)?.value);
  }
  lastRecord(key: string): MaybePromise<ChangeRecord | undefined> {
    return this.#answer(`lastRecord ${key}`, this.last.get(key));
  }
  putEntry(entry: StoredEntry, previous: StoredEntry | undefined): MaybePromise<void> {
    this.entries.set(entry.key, entry);
    this.last.set(entry.key, { ...entry, operation: 'put' });
    return this.#answer(
      `putEntry ${entry.key}@${entry.revision} over ${previous?.revision ?? '-'}`,
      undefined,
    );
  }
  updateEntry(
    previous: StoredEntry,
    change: { revision: number; expiresAt: number | null },
  ): MaybePromise<void> {
    this.entries.set(previous.key, { ...previous, ...change });
    return this.#answer(`updateEntry ${previous.key}@${change.revision}`, undefined);
  }
  removeEntry(previous: StoredEntry): MaybePromise<void> {
    this.entries.delete(previous.key);
    return this.#answer(`removeEntry ${previous.key}`, undefined);
  }
  appendHistory(tombstone: ChangeRecord): MaybePromise<void> {
    this.last.set(tombstone.key, tombstone);
    return this.#answer(
      `appendHistory ${tombstone.operation} ${tombstone.key}@${tombstone.revision}`,
      undefined,
    );
  }
  purgeHistory(key: string): MaybePromise<void> {
    this.last.delete(key);
    return this.#answer(`purgeHistory ${key}`, undefined);
  }
  appendChange(record: ChangeRecord): MaybePromise<void> {
    return this.#answer(`appendChange ${record.operation} ${record.key}@${record.revision}`, undefined);
  }
  nextRevision(): number {
    return ++this.#revision;
  }
  adjustStats(deltaKeys: number, deltaBytes: number): MaybePromise<void> {
    return this.#answer(`adjustStats ${deltaKeys} ${deltaBytes}`, undefined);
  }
  getIdempotency(scopeKey: string, _nowMs: number): MaybePromise<IdempotencyRecord | undefined> {
    return this.#answer(`getIdempotency ${scopeKey}`, this.idempotency.get(scopeKey));
  }
  putIdempotency(scopeKey: string, record: IdempotencyRecord): MaybePromise<void> {
    return this.#answer(`putIdempotency ${scopeKey} ${record.fingerprint}`, undefined);
  }
  // The commit never touches the queue.
  getMessage(): never {
    throw new Error('commit read the queue');
  }
  dueMessages(): never {
    throw new Error('commit read the queue');
  }
  putMessage(): never {
    throw new Error('commit wrote the queue');
  }
  deleteMessage(): never {
    throw new Error('commit wrote the queue');
  }
}

function expiredEntry(key: string): StoredEntry {
  return {
    key,
    id: `old-${key}`,
    value: new Uint8Array(0),
    contentType: 'text/plain',
    metadata: null,
    scopes: [],
    revision: 3,
    createdAt: T0 - 10,
    updatedAt: T0 - 10,
    expiresAt: T0 - 1,
    resume: false,
    size: 4,
  };
}

const request: CommitRequest = {
  mode: 'each',
  nowMs: T0,
  mutations: [
    putOp('a', 'one', { newId: 'id-a' }),
    putOp('a', 'two', { precondition: { kind: 'absent' } }),
    { type: 'setExpiry', key: 'a', expiresAt: T0 + 50 },
    putOp('gone', 'new', { newId: 'id-gone' }),
    { type: 'delete', key: 'missing' },
    { type: 'purge', key: 'a' },
  ],
  idempotency: {
    scopeKey: 'scope',
    record: (result) => ({
      fingerprint: `ok=${result.ok}`,
      status: 200,
      headers: {},
      body: new Uint8Array(0),
      expiresAt: T0 + 1,
    }),
  },
};

describe('applyCommit', () => {
  it('makes the same calls and result over a synchronous and an asynchronous StorageTx', async () => {
    const sync = new FakeTx(false);
    const async = new FakeTx(true);
    for (const tx of [sync, async]) tx.entries.set('gone', expiredEntry('gone'));
    const syncResult = applyCommit(sync, request);
    expect(syncResult).not.toBeInstanceOf(Promise);
    const asyncResult = applyCommit(async, request);
    expect(asyncResult).toBeInstanceOf(Promise);
    expect(await asyncResult).toEqual(syncResult);
    expect(async.calls).toEqual(sync.calls);
    expect(sync.calls).toEqual([
      // a record answering the request already would stop the commit before any write
      'getIdempotency scope',
      'head a',
      'putEntry a@11 over -',
      'appendChange put a@11',
      'adjustStats 1 3',
      'updateEntry a@12',
      'appendChange put a@12',
      'head gone',
      // expire-before-write: the expired entry's own revision first, then the put of a new life
      'removeEntry gone',
      'appendHistory expire gone@13',
      'appendChange expire gone@13',
      'adjustStats -1 -4',
      'putEntry gone@14 over -',
      'appendChange put gone@14',
      'adjustStats 1 3',
      'head missing',
      'removeEntry a',
      'adjustStats -1 -3',
      'purgeHistory a',
      'appendChange purge a@15',
      'putIdempotency scope ok=true',
    ]);
    expect(syncResult).toEqual({
      ok: true,
      revision: 15,
      results: [
        { key: 'a', status: 'applied', revision: 11, id: 'id-a', created: true },
        { key: 'a', status: 'failed', failure: 'key_exists', revision: 11, id: 'id-a' },
        { key: 'a', status: 'applied', revision: 12, id: 'id-a' },
        { key: 'gone', status: 'applied', revision: 14, id: 'id-gone', created: true },
        { key: 'missing', status: 'noop', created: false },
        { key: 'a', status: 'applied', revision: 15, id: 'id-a', created: true },
      ],
    });
  });

  it('an atomic commit whose check fails makes no write call', () => {
    const tx = new FakeTx(false);
    tx.entries.set('gone', expiredEntry('gone'));
    const result = applyCommit(tx, {
      mode: 'atomic',
      nowMs: T0,
      checks: [{ key: 'gone', precondition: { kind: 'exists' } }],
      mutations: [putOp('gone', 'x'), putOp('b', 'y', { precondition: { kind: 'absent' } })],
    });
    expect(result).toEqual({ ok: false, failedKeys: ['gone'] });
    expect(tx.calls).toEqual(['head gone', 'head b']);
  });

  it('a commit whose idempotency record exists already applies nothing and throws IdempotencyRecordFound', async () => {
    const found: IdempotencyRecord = {
      fingerprint: 'first',
      status: 201,
      headers: {},
      body: new Uint8Array(0),
      expiresAt: T0 + 1,
    };
    for (const tx of [new FakeTx(false), new FakeTx(true)]) {
      tx.idempotency.set('scope', found);
      let thrown: unknown;
      try {
        await applyCommit(tx, request);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(IdempotencyRecordFound);
      expect(thrown).toMatchObject({ scopeKey: 'scope', record: found });
      expect(tx.calls).toEqual(['getIdempotency scope']);
    }
  });

  it('a rejected answer of an asynchronous StorageTx rejects the commit at that step', async () => {
    const tx = new FakeTx(true);
    const boom = new Error('connection lost');
    tx.head = () => Promise.reject(boom);
    await expect(applyCommit(tx, { mode: 'each', nowMs: T0, mutations: [putOp('k', 'v')] })).rejects.toBe(
      boom,
    );
  });
});

describe('runSteps', () => {
  function* steps(values: Array<MaybePromise<number>>): Steps<number> {
    let sum = 0;
    for (const value of values) sum += (yield value) as number;
    return sum;
  }

  it('stays synchronous while every step is, and continues asynchronously from the first promise', async () => {
    expect(runSteps(steps([1, 2, 3]))).toBe(6);
    const mixed = runSteps(steps([1, Promise.resolve(2), 3, Promise.resolve(4)]));
    expect(mixed).toBeInstanceOf(Promise);
    expect(await mixed).toBe(10);
  });

  it('throws a rejection into the generator, where it can be caught', async () => {
    function* recovering(): Steps<string> {
      try {
        yield Promise.reject(new Error('first'));
        return 'not reached';
      } catch (error) {
        const after = (yield Promise.resolve('recovered')) as string;
        return `${(error as Error).message} ${after}`;
      }
    }
    expect(await runSteps(recovering())).toBe('first recovered');
  });
});

describe('MemoryStorage.transaction', () => {
  it('refuses a fn that returns a promise and writes nothing of it', async () => {
    const storage = new MemoryStorage();
    await storage.createStore('s', storeConfig(), T0, 'x');
    await expect(
      storage.transaction('s', async (tx) => {
        applyCommit(tx, { mode: 'each', nowMs: T0, mutations: [putOp('k', 'v')] });
      }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(await storage.get('s', 'k', T0)).toBeUndefined();
    expect((await storage.getStore('s'))?.revision).toBe(0);
    expect(
      await commit(storage, 's', { mode: 'each', nowMs: T0, mutations: [putOp('k', 'v')] }),
    ).toMatchObject({
      ok: true,
      revision: 1,
    });
  });
});
