/**
 * The queue rows of a SQL storage, checked against the contract in `@kv/engine`'s `storage.ts`
 * (`QueueMessage`, `QueueCounts`, `StorageTx.getMessage/dueMessages/putMessage/deleteMessage`,
 * `Storage.queueStats`, `deleteStore`): {@link describeQueueRows} runs the same cases on `SqliteStorage`
 * (`src/sqlite-queue.test.ts`) and `PostgresStorage` (`test/postgres/queue.test.ts`).
 */
import type { MaybePromise, QueueMessage, Storage, StorageTx } from '@kv/engine';
import { describe, expect, it } from 'vitest';

/** "Now" of the cases, epoch ms. */
export const T0 = 1_700_000_000_000;
const STORE = 'q';
const config = { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 };

/** Opens a fresh, empty storage (closed by the caller's hooks). */
export type OpenStorage = () => Promise<Storage>;

/** A message with defaults for the fields a case does not set. */
export function message(id: string, fields: Partial<QueueMessage> = {}): QueueMessage {
  return {
    id,
    value: new TextEncoder().encode(`value of ${id}`),
    contentType: 'text/plain',
    enqueuedAt: T0,
    visibleAt: T0,
    attempts: 0,
    leaseId: null,
    leaseExpiresAt: null,
    keysIfUndelivered: [],
    backoffScheduleMs: [1000, 5000, 10000],
    ...fields,
  };
}

/**
 * Runs the steps of `steps` (each yields a `StorageTx` answer and gets it back resolved): synchronously
 * while the answers are values (SQLite's transaction must finish synchronously), awaiting each once one
 * is a promise (PostgreSQL).
 */
export function drive<T>(steps: Generator<unknown, T, unknown>): MaybePromise<T> {
  let step = steps.next();
  while (!step.done) {
    const answer = step.value;
    if (answer instanceof Promise) {
      return (async () => {
        let resolved = await answer;
        for (;;) {
          const next = steps.next(resolved);
          if (next.done) return next.value;
          resolved = await next.value;
        }
      })();
    }
    step = steps.next(answer);
  }
  return step.value;
}

/** Runs `steps` in one transaction on the cases' store. */
export function inTx<T>(
  storage: Storage,
  steps: (tx: StorageTx) => Generator<unknown, T, unknown>,
  store: string = STORE,
): Promise<T> {
  return storage.transaction(store, (tx) => drive(steps(tx)));
}

/** The store's message `id` as committed (read in a transaction of its own). */
export function committed(storage: Storage, id: string): Promise<QueueMessage | undefined> {
  return inTx(storage, function* (tx) {
    return (yield tx.getMessage(id)) as QueueMessage | undefined;
  });
}

/** The ids `dueMessages(nowMs, limit)` answers, in its order, as committed. */
export function dueIds(storage: Storage, nowMs: number, limit: number): Promise<string[]> {
  return inTx(storage, function* (tx) {
    const due = (yield tx.dueMessages(nowMs, limit)) as QueueMessage[];
    return due.map((m) => m.id);
  });
}

/** Puts `messages` in one transaction. */
export function putAll(storage: Storage, messages: QueueMessage[], store: string = STORE): Promise<void> {
  return inTx(
    storage,
    function* (tx) {
      for (const m of messages) yield tx.putMessage(m);
    },
    store,
  );
}

/** A storage from `open` with the cases' store created. */
export async function withStore(open: OpenStorage): Promise<Storage> {
  const storage = await open();
  await storage.createStore(STORE, config, T0, 'secret');
  return storage;
}

/** Every byte value once, then again in reverse. */
export function allBytes(): Uint8Array {
  const bytes = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    bytes[i] = i;
    bytes[511 - i] = i;
  }
  return bytes;
}

/**
 * The contract cases of the queue rows, on storages from `open` (each case opens its own; the caller
 * closes them).
 */
export function describeQueueRows(name: string, open: OpenStorage): void {
  describe(`${name}: queue rows (the QueueMessage contract)`, () => {
    it('put, get, replace and delete a message, in a transaction and after its commit', async () => {
      const storage = await withStore(open);
      const first = message('m1', {
        keysIfUndelivered: ['dead/one', 'dead/\u00e9'],
        backoffScheduleMs: [0, 3_600_000],
        contentType: 'application/json',
        value: new TextEncoder().encode('{"job":1}'),
        enqueuedAt: T0 - 5,
        visibleAt: T0 + 30_000,
      });
      await putAll(storage, [first]);
      expect(await committed(storage, 'm1')).toEqual(first);
      expect(await committed(storage, 'other')).toBeUndefined();

      // A lease: the same id with every changeable field changed.
      const leased = {
        ...first,
        attempts: 1,
        leaseId: 'lease-1',
        leaseExpiresAt: T0 + 60_000,
        visibleAt: T0 + 61_000,
      };
      await putAll(storage, [leased]);
      expect(await committed(storage, 'm1')).toEqual(leased);
      // And back to "not leased" (a nack keeps the lease id, drops the lease end).
      const given = { ...leased, leaseExpiresAt: null, visibleAt: T0 + 70_000 };
      await putAll(storage, [given]);
      expect(await committed(storage, 'm1')).toEqual(given);

      await inTx(storage, function* (tx) {
        yield tx.deleteMessage('m1');
        yield tx.deleteMessage('never-there');
      });
      expect(await committed(storage, 'm1')).toBeUndefined();
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 0,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: null,
      });
    });

    it('the storage copies what it keeps: changing the object after putMessage changes nothing stored', async () => {
      const storage = await withStore(open);
      const m = message('m1', { keysIfUndelivered: ['k'], backoffScheduleMs: [5] });
      const expected = structuredClone(m);
      await inTx(storage, function* (tx) {
        yield tx.putMessage(m);
        m.value[0] = 0;
        m.keysIfUndelivered.push('x');
        m.backoffScheduleMs.push(7);
        m.attempts = 9;
        return yield tx.getMessage('m1');
      }).then((seen) => expect(seen).toEqual(expected));
      expect(await committed(storage, 'm1')).toEqual(expected);
    });

    it('keeps a value of all 256 byte values and an empty value exactly', async () => {
      const storage = await withStore(open);
      const bytes = allBytes();
      await putAll(storage, [
        message('bytes', { value: bytes, contentType: 'application/octet-stream' }),
        message('empty', { value: new Uint8Array(0) }),
        message('large', { value: new Uint8Array(64 * 1024).fill(0xab) }),
      ]);
      const got = await committed(storage, 'bytes');
      expect(got?.value).toBeInstanceOf(Uint8Array);
      expect(Array.from(got!.value)).toEqual(Array.from(bytes));
      const empty = await committed(storage, 'empty');
      expect(empty?.value).toBeInstanceOf(Uint8Array);
      expect(empty?.value.byteLength).toBe(0);
      const large = await committed(storage, 'large');
      expect(large?.value.byteLength).toBe(64 * 1024);
      expect(large?.value.every((b) => b === 0xab)).toBe(true);
      const due = await inTx(storage, function* (tx) {
        return (yield tx.dueMessages(T0, 10)) as QueueMessage[];
      });
      expect(due.find((m) => m.id === 'bytes')?.value).toEqual(bytes);
      expect(due.find((m) => m.id === 'empty')?.value.byteLength).toBe(0);
    });

    it('dueMessages: visibleAt <= nowMs only, ordered by visibleAt then id bytes, at most limit, values included', async () => {
      const storage = await withStore(open);
      // Ids that UTF-16 code units order differently from UTF-8 bytes (U+FFFF < U+10000 only in bytes),
      // plus upper case before lower case and a prefix before its extensions.
      const tie = T0 + 10;
      await putAll(storage, [
        message('late', { visibleAt: T0 + 1000 }),
        message('\u{10000}', { visibleAt: tie }),
        message('\uffff', { visibleAt: tie }),
        message('b', { visibleAt: tie }),
        message('B', { visibleAt: tie }),
        message('ba', { visibleAt: tie }),
        message('early', { visibleAt: T0 - 1 }),
        message('at-now', { visibleAt: T0 + 20 }),
        message('leased-long-ago', {
          visibleAt: T0 - 100,
          attempts: 1,
          leaseId: 'l',
          leaseExpiresAt: T0 - 200,
        }),
      ]);
      expect(await dueIds(storage, T0 + 20, 100)).toEqual([
        'leased-long-ago',
        'early',
        'B',
        'b',
        'ba',
        '\uffff',
        '\u{10000}',
        'at-now',
      ]);
      // The filter is inclusive: a message is due at exactly its visibleAt, not a millisecond before.
      expect(await dueIds(storage, T0 + 19, 100)).not.toContain('at-now');
      expect(await dueIds(storage, T0 + 9, 100)).toEqual(['leased-long-ago', 'early']);
      expect(await dueIds(storage, T0 - 101, 100)).toEqual([]);
      // The limit takes the first ones in that order.
      expect(await dueIds(storage, T0 + 20, 3)).toEqual(['leased-long-ago', 'early', 'B']);
      expect(await dueIds(storage, T0 + 20, 0)).toEqual([]);
      expect(await dueIds(storage, T0 + 1000, 100)).toHaveLength(9);
      const due = await inTx(storage, function* (tx) {
        return (yield tx.dueMessages(T0 + 20, 1)) as QueueMessage[];
      });
      expect(due).toEqual([
        message('leased-long-ago', {
          visibleAt: T0 - 100,
          attempts: 1,
          leaseId: 'l',
          leaseExpiresAt: T0 - 200,
        }),
      ]);
    });

    it('reads in a transaction see its own writes: puts, replacements and deletes before the commit', async () => {
      const storage = await withStore(open);
      await putAll(storage, [message('a', { visibleAt: T0 }), message('b', { visibleAt: T0 + 1 })]);
      const seen = await inTx(storage, function* (tx) {
        yield tx.putMessage(message('c', { visibleAt: T0 - 5 }));
        const c = (yield tx.getMessage('c')) as QueueMessage | undefined;
        yield tx.deleteMessage('a');
        const a = yield tx.getMessage('a');
        // b leased: no longer due until its new visibleAt.
        yield tx.putMessage(
          message('b', { visibleAt: T0 + 500, attempts: 1, leaseId: 'l1', leaseExpiresAt: T0 + 400 }),
        );
        const due = ((yield tx.dueMessages(T0 + 10, 10)) as QueueMessage[]).map((m) => m.id);
        const b = (yield tx.getMessage('b')) as QueueMessage | undefined;
        // Put again after a delete: back.
        yield tx.putMessage(message('a', { visibleAt: T0 + 2 }));
        const dueAfter = ((yield tx.dueMessages(T0 + 10, 10)) as QueueMessage[]).map((m) => m.id);
        return { c: c?.id, a, due, b: b?.leaseId, dueAfter };
      });
      expect(seen).toEqual({ c: 'c', a: undefined, due: ['c'], b: 'l1', dueAfter: ['c', 'a'] });
      expect(await dueIds(storage, T0 + 10, 10)).toEqual(['c', 'a']);
      expect((await committed(storage, 'b'))?.leaseId).toBe('l1');
    });

    it('several writes of one id in a transaction, with no read between them: the last one is what commits', async () => {
      const storage = await withStore(open);
      await putAll(storage, [message('old', { visibleAt: T0 - 1 })]);
      await inTx(storage, function* (tx) {
        yield tx.putMessage(message('a'));
        yield tx.deleteMessage('a');
        yield tx.deleteMessage('old');
        yield tx.putMessage(message('old', { contentType: 'text/x-again' }));
        yield tx.putMessage(message('c', { attempts: 1 }));
        yield tx.putMessage(message('c', { attempts: 2, visibleAt: T0 + 5 }));
        yield tx.putMessage(message('d'));
        yield tx.deleteMessage('d');
      });
      expect(await committed(storage, 'a')).toBeUndefined();
      expect(await committed(storage, 'd')).toBeUndefined();
      expect(await committed(storage, 'old')).toEqual(message('old', { contentType: 'text/x-again' }));
      expect(await committed(storage, 'c')).toEqual(message('c', { attempts: 2, visibleAt: T0 + 5 }));
      expect(await dueIds(storage, T0 + 5, 10)).toEqual(['old', 'c']);
    });

    it('a transaction whose fn throws keeps none of its queue writes (puts, replacements, deletes)', async () => {
      const storage = await withStore(open);
      await putAll(storage, [message('keep', { visibleAt: T0 }), message('gone', { visibleAt: T0 })]);
      const before = await storage.queueStats(STORE, T0);
      const boom = new Error('fn failed after writing');
      await expect(
        inTx(storage, function* (tx) {
          yield tx.putMessage(message('new'));
          yield tx.putMessage(message('keep', { attempts: 1, leaseId: 'x', leaseExpiresAt: T0 + 10 }));
          yield tx.deleteMessage('gone');
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await committed(storage, 'new')).toBeUndefined();
      expect(await committed(storage, 'keep')).toEqual(message('keep'));
      expect(await committed(storage, 'gone')).toEqual(message('gone'));
      expect(await storage.queueStats(STORE, T0)).toEqual(before);
      // A queue-only transaction takes no revision and touches no entry stats.
      expect(await storage.getStore(STORE)).toMatchObject({ revision: 0, keyCount: 0, totalBytes: 0 });
    });

    it('queueStats counts ready, delayed and in-flight at the given now, with the smallest visibleAt', async () => {
      const storage = await withStore(open);
      await putAll(storage, [
        // Never leased: ready once visible.
        message('ready-1', { visibleAt: T0 - 10 }),
        message('ready-at-now', { visibleAt: T0 }),
        message('delayed-1', { visibleAt: T0 + 1 }),
        message('delayed-2', { visibleAt: T0 + 86_400_000 }),
        // Leased until T0 + 30 s, redelivered 1 s after: in flight now.
        message('leased', {
          attempts: 1,
          leaseId: 'l1',
          leaseExpiresAt: T0 + 30_000,
          visibleAt: T0 + 31_000,
        }),
        // Its lease ended exactly now: not in flight; waiting for its backoff step, so delayed.
        message('lease-ended-now', { attempts: 1, leaseId: 'l2', leaseExpiresAt: T0, visibleAt: T0 + 1000 }),
        // Given back by a nack (lease end null), visible in the past: ready again.
        message('nacked', { attempts: 2, leaseId: 'l3', leaseExpiresAt: null, visibleAt: T0 - 50 }),
        // Lease over and visible again (the listener died): ready.
        message('lease-over', { attempts: 1, leaseId: 'l4', leaseExpiresAt: T0 - 20, visibleAt: T0 - 19 }),
      ]);
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 4,
        delayed: 3,
        inFlight: 1,
        nextVisibleAt: T0 - 50,
      });
      // The lease of 'leased' ends: no longer in flight, delayed until its backoff step passes.
      expect(await storage.queueStats(STORE, T0 + 30_000)).toEqual({
        ready: 6,
        delayed: 2,
        inFlight: 0,
        nextVisibleAt: T0 - 50,
      });
      expect(await storage.queueStats(STORE, T0 + 31_000)).toEqual({
        ready: 7,
        delayed: 1,
        inFlight: 0,
        nextVisibleAt: T0 - 50,
      });
      // Earlier: every lease that ends after then counts as in flight.
      expect(await storage.queueStats(STORE, T0 - 1000)).toEqual({
        ready: 0,
        delayed: 5,
        inFlight: 3,
        nextVisibleAt: T0 - 50,
      });
      // Counts are per store.
      await storage.createStore('other', config, T0, 'secret');
      expect(await storage.queueStats('other', T0)).toEqual({
        ready: 0,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: null,
      });
      await expect(storage.queueStats('missing', T0)).rejects.toMatchObject({ code: 'store_not_found' });
    });

    it('messages are per store, and deleteStore removes them (a store made again under the name has none)', async () => {
      const storage = await withStore(open);
      await storage.createStore('other', config, T0, 'secret');
      await putAll(storage, [message('a'), message('b', { visibleAt: T0 + 5 })]);
      await putAll(storage, [message('a', { contentType: 'application/x-other' })], 'other');
      expect((await committed(storage, 'a'))?.contentType).toBe('text/plain');
      expect(await storage.deleteStore(STORE)).toBe(true);
      await expect(storage.queueStats(STORE, T0)).rejects.toMatchObject({ code: 'store_not_found' });
      await expect(committed(storage, 'a')).rejects.toMatchObject({ code: 'store_not_found' });
      await storage.createStore(STORE, config, T0, 'secret');
      expect(await committed(storage, 'a')).toBeUndefined();
      expect(await dueIds(storage, T0 + 10, 10)).toEqual([]);
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 0,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: null,
      });
      // The other store's message is untouched.
      const other = await inTx(
        storage,
        function* (tx) {
          return (yield tx.getMessage('a')) as QueueMessage | undefined;
        },
        'other',
      );
      expect(other?.contentType).toBe('application/x-other');
    });

    it('queue methods called after their transaction ended throw', async () => {
      const storage = await withStore(open);
      let kept: StorageTx | undefined;
      await storage.transaction(STORE, (tx) => {
        kept = tx;
      });
      const calls: Array<() => unknown> = [
        () => kept!.getMessage('a'),
        () => kept!.dueMessages(T0, 1),
        () => kept!.putMessage(message('a')),
        () => kept!.deleteMessage('a'),
      ];
      for (const call of calls) {
        await expect(Promise.resolve().then(call)).rejects.toThrow(/transaction is over/);
      }
      expect(await committed(storage, 'a')).toBeUndefined();
    });
  });
}
