/**
 * Helpers for the tests of what is each SQL storage's own in its queue rows (`src/sqlite-queue.test.ts`,
 * `test/postgres/queue.test.ts`: durability, migrations, query plans, hints). The contract itself
 * (`QueueMessage`, `StorageTx.getMessage/dueMessages/putMessage/deleteMessage`, `Storage.queueStats`,
 * `deleteStore`) is tested once, by the shared storage suite (`@kv/engine/testing`), on every storage.
 */
import type { MaybePromise, QueueMessage, Storage, StorageTx } from '@kv/engine';

/** "Now" of the cases, epoch ms. */
export const T0 = 1_700_000_000_000;
const STORE = 'q';

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

/** Every byte value once, then again in reverse. */
export function allBytes(): Uint8Array {
  const bytes = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    bytes[i] = i;
    bytes[511 - i] = i;
  }
  return bytes;
}
