/**
 * The queue cases of the shared storage suite (`suite.ts`): the storage contract of queue messages
 * (`QueueMessage`, `StorageTx.getMessage/dueMessages/putMessage/deleteMessage`, `Storage.queueStats` in
 * `storage.ts`). Rows only: the delivery rules are the engine's (`queue.ts`) and are tested there.
 *
 * @module
 */
import { StoreNotFoundError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { runSteps, type Steps } from '../commit.js';
import type { QueueMessage, Storage, StorageTx } from '../storage.js';
import { storeConfig, T0, utf8 } from './helpers.js';

const STORE = 'main';

/** A message with every field set; `overrides` replace fields. */
function message(id: string, overrides: Partial<QueueMessage> = {}): QueueMessage {
  return {
    id,
    value: utf8(`value of ${id}`),
    contentType: 'application/json',
    enqueuedAt: T0,
    visibleAt: T0,
    attempts: 0,
    leaseId: null,
    leaseExpiresAt: null,
    keysIfUndelivered: [],
    backoffScheduleMs: [1000, 5000, 10_000],
    ...overrides,
  };
}

/** `message` with its value as a plain array (storages may answer a `Uint8Array` subclass, e.g. `Buffer`). */
function plain(message: QueueMessage | undefined): unknown {
  return message === undefined ? undefined : { ...message, value: [...message.value] };
}

/** Runs `fn` (steps yielding the transaction's answers) in a transaction of `store`. */
function inTx<T>(storage: Storage, fn: (tx: StorageTx) => Steps<T>, store: string = STORE): Promise<T> {
  return storage.transaction(store, (tx) => runSteps(fn(tx)));
}

function putAll(storage: Storage, messages: QueueMessage[], store: string = STORE): Promise<void> {
  return inTx(
    storage,
    function* (tx) {
      for (const m of messages) yield tx.putMessage(m);
    },
    store,
  );
}

function get(storage: Storage, id: string, store: string = STORE): Promise<QueueMessage | undefined> {
  return inTx(
    storage,
    function* (tx) {
      return (yield tx.getMessage(id)) as QueueMessage | undefined;
    },
    store,
  );
}

function due(storage: Storage, nowMs: number, limit: number): Promise<QueueMessage[]> {
  return inTx(storage, function* (tx) {
    return (yield tx.dueMessages(nowMs, limit)) as QueueMessage[];
  });
}

/**
 * Registers the queue cases.
 *
 * @param open - opens a fresh storage closed after the test
 * @param withStore - opens a fresh storage with store `main`
 */
export function describeQueueCases(open: () => Promise<Storage>, withStore: () => Promise<Storage>): void {
  describe('queue messages', () => {
    it('putMessage stores every field and getMessage reads them back; unknown ids are undefined', async () => {
      const storage = await withStore();
      const m = message('m1', {
        enqueuedAt: T0 - 5,
        visibleAt: T0 + 7,
        attempts: 2,
        leaseId: 'lease-1',
        leaseExpiresAt: T0 + 3,
        keysIfUndelivered: ['dead:1', 'dead/ü'],
        backoffScheduleMs: [0, 3_600_000],
        contentType: 'text/plain; charset=utf-8',
      });
      await putAll(storage, [m, message('m2')]);
      expect(plain(await get(storage, 'm1'))).toEqual(plain(m));
      expect(await get(storage, 'nope')).toBeUndefined();
    });

    it('values keep every byte (0-255, empty) and are copied in and out', async () => {
      const storage = await withStore();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const m = message('bin', { value: bytes, contentType: 'application/octet-stream' });
      await putAll(storage, [m, message('empty', { value: new Uint8Array(0) })]);
      bytes[0] = 99; // the caller's array changes after the put
      m.keysIfUndelivered.push('late');
      const read = await get(storage, 'bin');
      expect([...(read?.value ?? [])]).toEqual(Array.from({ length: 256 }, (_, i) => i));
      expect(read?.keysIfUndelivered).toEqual([]);
      read!.value[1] = 77; // a reader's copy changes
      expect((await get(storage, 'bin'))?.value[1]).toBe(1);
      expect((await get(storage, 'empty'))?.value.byteLength).toBe(0);
    });

    it('dueMessages answers messages with visibleAt <= now, by visibleAt then id bytes, at most limit', async () => {
      const storage = await withStore();
      await putAll(storage, [
        message('c', { visibleAt: T0 + 10 }),
        message('b', { visibleAt: T0 + 10 }),
        message('é', { visibleAt: T0 + 10 }),
        message('a', { visibleAt: T0 + 20 }),
        message('z', { visibleAt: T0 - 1 }),
        message('later', { visibleAt: T0 + 21 }),
      ]);
      const ids = (list: QueueMessage[]) => list.map((m) => m.id);
      expect(ids(await due(storage, T0 + 20, 100))).toEqual(['z', 'b', 'c', 'é', 'a']);
      expect(ids(await due(storage, T0 + 10, 2))).toEqual(['z', 'b']);
      expect(ids(await due(storage, T0 - 2, 100))).toEqual([]);
      expect(ids(await due(storage, T0 + 20, 0))).toEqual([]);
      // Values come with the due messages.
      expect(plain((await due(storage, T0, 1))[0])).toEqual(plain(message('z', { visibleAt: T0 - 1 })));
    });

    it('putMessage on an existing id replaces it; deleteMessage removes it, and a missing id is nothing', async () => {
      const storage = await withStore();
      await putAll(storage, [message('m'), message('n')]);
      const leased = message('m', {
        attempts: 1,
        leaseId: 'l1',
        leaseExpiresAt: T0 + 5,
        visibleAt: T0 + 1005,
      });
      await putAll(storage, [leased]);
      expect(plain(await get(storage, 'm'))).toEqual(plain(leased));
      expect((await due(storage, T0, 10)).map((m) => m.id)).toEqual(['n']);
      await inTx(storage, function* (tx) {
        yield tx.deleteMessage('n');
        yield tx.deleteMessage('never-there');
      });
      expect(await get(storage, 'n')).toBeUndefined();
      expect(plain(await get(storage, 'm'))).toEqual(plain(leased));
    });

    it('reads inside a transaction see its own queue writes', async () => {
      const storage = await withStore();
      await putAll(storage, [message('old', { visibleAt: T0 + 1 })]);
      const seen = await inTx(storage, function* (tx) {
        yield tx.putMessage(message('new', { visibleAt: T0 }));
        yield tx.putMessage(message('old', { visibleAt: T0 + 50 }));
        const dueNow = (yield tx.dueMessages(T0 + 1, 10)) as QueueMessage[];
        yield tx.deleteMessage('new');
        const gone = (yield tx.getMessage('new')) as QueueMessage | undefined;
        return { dueNow: dueNow.map((m) => m.id), gone };
      });
      expect(seen).toEqual({ dueNow: ['new'], gone: undefined });
    });

    it('a transaction that throws writes no queue change (puts, replacements, deletes undone)', async () => {
      const storage = await withStore();
      await putAll(storage, [message('keep'), message('change'), message('remove')]);
      const before = {
        keep: plain(await get(storage, 'keep')),
        change: plain(await get(storage, 'change')),
        remove: plain(await get(storage, 'remove')),
        stats: await storage.queueStats(STORE, T0),
      };
      const boom = new Error('fn failed after writing');
      await expect(
        inTx(storage, function* (tx) {
          yield tx.putMessage(message('added'));
          yield tx.putMessage(message('change', { attempts: 1, leaseId: 'x', leaseExpiresAt: T0 + 9 }));
          yield tx.deleteMessage('remove');
          yield tx.putMessage(message('added', { visibleAt: T0 + 1 }));
          yield tx.deleteMessage('added');
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect({
        keep: plain(await get(storage, 'keep')),
        change: plain(await get(storage, 'change')),
        remove: plain(await get(storage, 'remove')),
        stats: await storage.queueStats(STORE, T0),
      }).toEqual(before);
      expect(await get(storage, 'added')).toBeUndefined();
    });

    it('queueStats counts ready, delayed and in-flight messages at the given time, with nextVisibleAt', async () => {
      const storage = await withStore();
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 0,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: null,
      });
      await putAll(storage, [
        message('ready', { visibleAt: T0 }),
        message('delayed', { visibleAt: T0 + 100 }),
        // Leased until T0 + 50, visible again at T0 + 1050.
        message('leased', { attempts: 1, leaseId: 'l', leaseExpiresAt: T0 + 50, visibleAt: T0 + 1050 }),
        // Given back (nack): lease ended, visible at T0 + 10.
        message('nacked', { attempts: 1, leaseId: 'l2', leaseExpiresAt: null, visibleAt: T0 + 10 }),
      ]);
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 1,
        delayed: 2,
        inFlight: 1,
        nextVisibleAt: T0,
      });
      expect(await storage.queueStats(STORE, T0 + 60)).toEqual({
        ready: 2,
        delayed: 2,
        inFlight: 0,
        nextVisibleAt: T0,
      });
      expect(await storage.queueStats(STORE, T0 + 2000)).toEqual({
        ready: 4,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: T0,
      });
      await inTx(storage, function* (tx) {
        yield tx.deleteMessage('ready');
      });
      expect((await storage.queueStats(STORE, T0)).nextVisibleAt).toBe(T0 + 10);
    });

    it('messages are kept per store; deleteStore removes them; queueStats of an unknown store throws', async () => {
      const storage = await withStore();
      await storage.createStore('other', storeConfig(), T0, 'secret');
      await putAll(storage, [message('m', { visibleAt: T0 })]);
      await putAll(storage, [message('m', { visibleAt: T0 + 5 }), message('o')], 'other');
      expect((await get(storage, 'm'))?.visibleAt).toBe(T0);
      expect((await storage.queueStats('other', T0)).delayed).toBe(1);
      expect(await storage.deleteStore(STORE)).toBe(true);
      await expect(storage.queueStats(STORE, T0)).rejects.toBeInstanceOf(StoreNotFoundError);
      await storage.createStore(STORE, storeConfig(), T0, 'secret');
      expect(await storage.queueStats(STORE, T0)).toEqual({
        ready: 0,
        delayed: 0,
        inFlight: 0,
        nextVisibleAt: null,
      });
      expect(await get(storage, 'm')).toBeUndefined();
      expect((await get(storage, 'm', 'other'))?.visibleAt).toBe(T0 + 5);
      const fresh = await open();
      await expect(fresh.queueStats('nope', T0)).rejects.toBeInstanceOf(StoreNotFoundError);
    });

    // A storage may hold writes and send them later (PostgreSQL does): what commits is the last write of
    // each id, in order, whatever was held.
    it('several writes of one id in a transaction, with no read between them: the last one commits', async () => {
      const storage = await withStore();
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
      expect(await get(storage, 'a')).toBeUndefined();
      expect(await get(storage, 'd')).toBeUndefined();
      expect(plain(await get(storage, 'old'))).toEqual(
        plain(message('old', { contentType: 'text/x-again' })),
      );
      expect(plain(await get(storage, 'c'))).toEqual(plain(message('c', { attempts: 2, visibleAt: T0 + 5 })));
      expect((await due(storage, T0 + 5, 10)).map((m) => m.id)).toEqual(['old', 'c']);
    });

    it('queue methods called after their transaction ended throw and write nothing', async () => {
      const storage = await withStore();
      let kept: StorageTx | undefined;
      await storage.transaction(STORE, (tx) => {
        kept = tx;
      });
      const tx = kept as StorageTx;
      const calls: Array<() => unknown> = [
        () => tx.getMessage('a'),
        () => tx.dueMessages(T0, 1),
        () => tx.putMessage(message('a')),
        () => tx.deleteMessage('a'),
      ];
      for (const call of calls) await expect(Promise.resolve().then(call)).rejects.toThrow();
      expect(await get(storage, 'a')).toBeUndefined();
    });
  });
}
