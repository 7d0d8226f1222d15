/**
 * The queue rules, written once (docs/protocol.md "Queues"; Deno KV's `enqueue`/`listenQueue`, over the
 * network): how enqueue, lease, ack and nack change a store's queue messages through a {@link StorageTx},
 * and the long-poll of a lease. Storages only keep the rows (`QueueMessage` in `storage.ts`); like the
 * commit rules (`commit.ts`), every rule is here, so every storage has the same semantics.
 *
 * - **enqueue**: a new message with `visibleAt = now + delayMs`, no delivery yet (`attempts` 0, no lease).
 * - **lease** (deliver), in one transaction over `dueMessages(now, limit)` (by `visibleAt`, then id): a
 *   message whose lease ended without an acknowledgement and that has no redelivery left
 *   (`attempts > backoffScheduleMs.length`) is dead-lettered; every other one gets `attempts + 1`, a new
 *   `leaseId`, `leaseExpiresAt = now + visibilityTimeoutMs` and `visibleAt = leaseExpiresAt +` the next
 *   backoff step, so a listener that dies gets it redelivered after its lease and that step.
 * - **ack** with the current `leaseId`: the message is deleted. **nack** with it: the message is visible
 *   again after the backoff step of its attempt, or dead-lettered when the schedule is exhausted. A
 *   stale `leaseId` (the message was leased again) or a missing message: 404 `not_found`.
 * - **extend** (SQS `ChangeMessageVisibility`) with the current `leaseId`: `leaseExpiresAt = now +
 *   visibilityTimeoutMs` and `visibleAt = leaseExpiresAt +` the backoff step of its attempt (the lease's
 *   formula), so a handler that runs longer than its lease keeps it. Held even just after the lease ended,
 *   as long as no other lease took the message; not held after a nack (the delivery was given back), a
 *   new lease or an ack: 404 `not_found`, as ack.
 * - **dead letter**: the value (with its content type) is written to every key of `keysIfUndelivered`
 *   as one atomic commit through the commit rules (`commitSteps`: revisions, history, change log, watch
 *   events as any put; the store's default TTL applies), and the message is deleted, in the same
 *   transaction. Without keys it is just deleted.
 *
 * At least once, one lease holder at a time; no FIFO promise (as Deno KV).
 *
 * @module
 */
import { NotFoundError } from '@kv/core';
import { DEFAULT_VISIBILITY_TIMEOUT_MS as CORE_DEFAULT_VISIBILITY_TIMEOUT_MS } from '@kv/core/protocol';
import { commitSteps, IdempotencyRecordFound, runSteps, type Steps } from './commit.js';
import type {
  IdempotencyRecord,
  MaybePromise,
  PutOp,
  QueueCounts,
  QueueMessage,
  Storage,
  StorageTx,
} from './storage.js';

/** Default `backoffScheduleMs` of an enqueue: Deno KV's `[1000, 5000, 10000]`. */
export const DEFAULT_BACKOFF_SCHEDULE_MS: readonly number[] = [1000, 5000, 10_000];
/** Default `visibilityTimeoutMs` of a lease, in ms: core's, which `listenQueue` extends by. */
export const DEFAULT_VISIBILITY_TIMEOUT_MS: number = CORE_DEFAULT_VISIBILITY_TIMEOUT_MS;
/** Shortest pause between two lease attempts of one long-poll, in ms (a due message another listener took). */
const MIN_WAIT_MS = 5;

/** One step: hands `value` (a storage answer, maybe a promise) to the driver and gets it back resolved. */
function* step<T>(value: MaybePromise<T>): Generator<MaybePromise<T>, T, unknown> {
  return (yield value) as T;
}

/** What a dead letter needs besides the message: ids for new keys and the store's default expiry. */
export interface DeadLetterContext {
  /** "Now", epoch ms. */
  nowMs: number;
  /** New entry ids (for keys without a live entry). */
  generateId: () => string;
  /** The expiry of the written keys (the store's default TTL from now, or null). */
  expiresAt: number | null;
}

/**
 * Writes `message`'s value to each of its `keysIfUndelivered` (one atomic commit, the commit rules) and
 * deletes it. Answers whether entries were written.
 */
export function* deadLetterSteps(
  tx: StorageTx,
  message: QueueMessage,
  dl: DeadLetterContext,
): Steps<boolean> {
  let wrote = false;
  if (message.keysIfUndelivered.length > 0) {
    const mutations: PutOp[] = message.keysIfUndelivered.map((key) => ({
      type: 'put',
      key,
      value: message.value,
      contentType: message.contentType,
      metadata: null,
      scopes: [],
      expiresAt: dl.expiresAt,
      resume: false,
      newId: dl.generateId(),
    }));
    const result = yield* commitSteps(tx, { mode: 'atomic', mutations, nowMs: dl.nowMs });
    wrote = result.ok;
  }
  yield* step(tx.deleteMessage(message.id));
  return wrote;
}

/** The idempotency of an enqueue: its record, saved in the message's transaction. */
export interface EnqueueIdempotency {
  /** Scope key of the record. */
  scopeKey: string;
  /** The record answering the enqueue, or undefined to save none. */
  record: () => IdempotencyRecord | undefined;
}

/**
 * Adds `message` (and, with `idempotency`, the record of its answer; an existing record throws
 * {@link IdempotencyRecordFound} and nothing is written).
 */
export function* enqueueSteps(
  tx: StorageTx,
  message: QueueMessage,
  nowMs: number,
  idempotency?: EnqueueIdempotency,
): Steps<void> {
  if (idempotency !== undefined) {
    const found = yield* step(tx.getIdempotency(idempotency.scopeKey, nowMs));
    if (found !== undefined) throw new IdempotencyRecordFound(idempotency.scopeKey, found);
  }
  yield* step(tx.putMessage(message));
  if (idempotency !== undefined) {
    const record = idempotency.record();
    if (record !== undefined) yield* step(tx.putIdempotency(idempotency.scopeKey, record));
  }
}

/** Inputs of {@link leaseSteps}. */
export interface LeaseInput extends DeadLetterContext {
  /** Most messages to lease. */
  limit: number;
  /** Length of each lease, ms. */
  visibilityTimeoutMs: number;
}

/** What one lease transaction did. */
export interface LeaseOutcome {
  /** The messages leased (as stored after the lease). */
  leased: QueueMessage[];
  /** How many due messages were dead-lettered instead. */
  deadLettered: number;
  /** Whether a dead letter wrote entries (watchers must be woken). */
  wroteEntries: boolean;
}

/** Leases up to `limit` due messages (the rules in this module's documentation). */
export function* leaseSteps(tx: StorageTx, input: LeaseInput): Steps<LeaseOutcome> {
  const outcome: LeaseOutcome = { leased: [], deadLettered: 0, wroteEntries: false };
  const due = yield* step(tx.dueMessages(input.nowMs, input.limit));
  for (const message of due) {
    // Never true for a due message under these rules (visibleAt >= leaseExpiresAt); a guard for others.
    if (message.leaseExpiresAt !== null && message.leaseExpiresAt > input.nowMs) continue;
    const leaseLost = message.leaseId !== null && message.attempts >= 1;
    if (leaseLost && message.attempts > message.backoffScheduleMs.length) {
      if (yield* deadLetterSteps(tx, message, input)) outcome.wroteEntries = true;
      outcome.deadLettered += 1;
      continue;
    }
    const attempts = message.attempts + 1;
    const leaseExpiresAt = input.nowMs + input.visibilityTimeoutMs;
    const leased: QueueMessage = {
      ...message,
      attempts,
      leaseId: input.generateId(),
      leaseExpiresAt,
      visibleAt: leaseExpiresAt + (message.backoffScheduleMs[attempts - 1] ?? 0),
    };
    yield* step(tx.putMessage(leased));
    outcome.leased.push(leased);
  }
  return outcome;
}

/** What an ack or nack did. */
export interface SettleOutcome {
  /** False when the message is gone or leased again (`leaseId` is stale). */
  held: boolean;
  /** Whether a dead letter wrote entries. */
  wroteEntries: boolean;
  /** Whether the message is visible again (a nack with a backoff step left). */
  requeued: boolean;
}

/** Acknowledges (deletes) message `id` if `leaseId` is its current lease. */
export function* ackSteps(tx: StorageTx, id: string, leaseId: string): Steps<SettleOutcome> {
  const message = yield* step(tx.getMessage(id));
  if (message === undefined || message.leaseId !== leaseId) {
    return { held: false, wroteEntries: false, requeued: false };
  }
  yield* step(tx.deleteMessage(id));
  return { held: true, wroteEntries: false, requeued: false };
}

/** What an extension did. */
export interface ExtendOutcome {
  /** False when the message is gone, leased again or given back (`leaseId` no longer held). */
  held: boolean;
  /** When the lease now ends, epoch ms (`held` only). */
  leaseExpiresAt: number | null;
}

/**
 * Extends the lease `leaseId` of message `id` to `nowMs + visibilityTimeoutMs` (the rules in this module's
 * documentation): held when the message has that lease and was not given back, even if the lease just ended.
 */
export function* extendSteps(
  tx: StorageTx,
  id: string,
  leaseId: string,
  input: { nowMs: number; visibilityTimeoutMs: number },
): Steps<ExtendOutcome> {
  const message = yield* step(tx.getMessage(id));
  // A nack keeps the leaseId (to tell a lost lease at the next lease) but clears leaseExpiresAt.
  if (message === undefined || message.leaseId !== leaseId || message.leaseExpiresAt === null) {
    return { held: false, leaseExpiresAt: null };
  }
  const leaseExpiresAt = input.nowMs + input.visibilityTimeoutMs;
  const visibleAt = leaseExpiresAt + (message.backoffScheduleMs[message.attempts - 1] ?? 0);
  yield* step(tx.putMessage({ ...message, leaseExpiresAt, visibleAt }));
  return { held: true, leaseExpiresAt };
}

/**
 * Gives back message `id` after a failed delivery, if `leaseId` is its current lease: visible again after
 * its attempt's backoff step, or dead-lettered when none is left.
 */
export function* nackSteps(
  tx: StorageTx,
  id: string,
  leaseId: string,
  dl: DeadLetterContext,
): Steps<SettleOutcome> {
  const message = yield* step(tx.getMessage(id));
  if (message === undefined || message.leaseId !== leaseId) {
    return { held: false, wroteEntries: false, requeued: false };
  }
  if (message.attempts > message.backoffScheduleMs.length) {
    const wrote = yield* deadLetterSteps(tx, message, dl);
    return { held: true, wroteEntries: wrote, requeued: false };
  }
  const backoff = message.backoffScheduleMs[message.attempts - 1] ?? 0;
  yield* step(tx.putMessage({ ...message, visibleAt: dl.nowMs + backoff, leaseExpiresAt: null }));
  return { held: true, wroteEntries: false, requeued: true };
}

/** 404 for an ack, nack or extension whose lease is no longer held. */
function leaseNotHeld(id: string): NotFoundError {
  return new NotFoundError(
    'The lease on this message is no longer held (it ended, or the message was settled): the message was or will be delivered again',
    { code: 'not_found', details: { id } },
  );
}

function unref(timer: unknown): void {
  const t = timer as { unref?: () => void };
  if (typeof t.unref === 'function') t.unref();
}

/** Options of {@link QueueService}. */
export interface QueueServiceOptions {
  /** The engine's storage. */
  storage: Storage;
  /** "Now", epoch ms. */
  clock: () => number;
  /** New message, lease and entry ids. */
  generateId: () => string;
  /** Called after a transaction that wrote entries (a dead letter) to `store`: wakes its watchers. */
  onEntriesWritten: (store: string) => void;
  /**
   * The longest a lease request waits, in ms: a larger `waitMs` is cut to it (a server sets it below its
   * socket idle timeout, so a long-poll answers before the connection is dropped).
   * @default 30000
   */
  maxWaitMs?: number | undefined;
  /**
   * On a storage with change hints (`Storage.onChange`, shared by several instances), how often a
   * waiting lease looks at the queue again, in ms, in case a hint was lost.
   * @default 1000
   */
  pollIntervalMs?: number | undefined;
}

/** Inputs of {@link QueueService.lease}. */
export interface LeaseRequest {
  /** Most messages, 1..100. */
  limit: number;
  /** Lease length, ms. */
  visibilityTimeoutMs: number;
  /** Long-poll: how long to wait for a due message, ms (0: answer at once). */
  waitMs: number;
  /** Ends the wait (the request went away). */
  signal: AbortSignal;
  /** The store's default TTL, for dead-lettered keys (null: none). */
  defaultTtlMs: number | null;
}

/**
 * Runs the queue rules on the storage and holds the long-polls: a lease request with `waitMs` that finds
 * nothing due waits, without polling, until a message may be due: woken by an enqueue or nack through
 * this engine, by the storage's change hints (`Storage.onChange`: other instances' commits), and by a
 * timer at the queue's `nextVisibleAt`, or until `waitMs` passes or the request is aborted.
 */
export class QueueService {
  readonly #storage: Storage;
  readonly #clock: () => number;
  readonly #generateId: () => string;
  readonly #onEntriesWritten: (store: string) => void;
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #generations = new Map<string, number>();
  readonly #maxWaitMs: number;
  readonly #pollIntervalMs: number;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  /** @param options - storage, clock, ids and the watch wake-up ({@link QueueServiceOptions}) */
  constructor(options: QueueServiceOptions) {
    this.#storage = options.storage;
    this.#clock = options.clock;
    this.#generateId = options.generateId;
    this.#onEntriesWritten = options.onEntriesWritten;
    this.#maxWaitMs = options.maxWaitMs ?? 30_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /** Number of lease requests waiting (long-polling) now. */
  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }

  /** Wakes the long-polls of `store` (after an enqueue or nack, or a change hint). */
  notify(store: string): void {
    this.#generations.set(store, (this.#generations.get(store) ?? 0) + 1);
    const set = this.#waiters.get(store);
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  #transaction<T>(store: string, fn: (tx: StorageTx) => Steps<T>): Promise<T> {
    return this.#storage.transaction(store, (tx) => runSteps(fn(tx)));
  }

  #deadLetter(nowMs: number, defaultTtlMs: number | null): DeadLetterContext {
    return {
      nowMs,
      generateId: this.#generateId,
      expiresAt: defaultTtlMs === null ? null : nowMs + defaultTtlMs,
    };
  }

  /**
   * Adds a message (the rules of this module) and wakes the store's long-polls.
   *
   * @returns the message id
   * @throws StoreNotFoundError when the store does not exist
   * @throws IdempotencyRecordFound when `idempotency` names a record that exists (nothing written)
   */
  async enqueue(
    store: string,
    input: Pick<QueueMessage, 'value' | 'contentType' | 'keysIfUndelivered' | 'backoffScheduleMs'> & {
      delayMs: number;
    },
    idempotency?: (id: string) => EnqueueIdempotency,
  ): Promise<string> {
    const nowMs = this.#clock();
    const id = this.#generateId();
    const message: QueueMessage = {
      id,
      value: input.value,
      contentType: input.contentType,
      enqueuedAt: nowMs,
      visibleAt: nowMs + input.delayMs,
      attempts: 0,
      leaseId: null,
      leaseExpiresAt: null,
      keysIfUndelivered: input.keysIfUndelivered,
      backoffScheduleMs: input.backoffScheduleMs,
    };
    await this.#transaction(store, (tx) => enqueueSteps(tx, message, nowMs, idempotency?.(id)));
    this.notify(store);
    return id;
  }

  /**
   * Leases due messages; with `waitMs`, waits for one as described on the class.
   *
   * @returns the leased messages (empty when none became due in time or the request was aborted)
   * @throws StoreNotFoundError when the store does not exist (or is deleted while waiting)
   */
  async lease(store: string, request: LeaseRequest): Promise<QueueMessage[]> {
    // The wait is real time (a monotonic clock), whatever the engine clock says; message times are the
    // engine clock's. Bounded: each round either answers or waits (at least MIN_WAIT_MS) until the deadline.
    const deadline = performance.now() + Math.min(request.waitMs, this.#maxWaitMs);
    let generation = this.#generations.get(store) ?? 0;
    for (;;) {
      const nowMs = this.#clock();
      const outcome = await this.#transaction(store, (tx) =>
        leaseSteps(tx, {
          ...this.#deadLetter(nowMs, request.defaultTtlMs),
          limit: request.limit,
          visibilityTimeoutMs: request.visibilityTimeoutMs,
        }),
      );
      if (outcome.wroteEntries) this.#onEntriesWritten(store);
      if (outcome.leased.length > 0) return outcome.leased;
      if (outcome.deadLettered > 0) continue;
      // Wait until a message is ready. A wake-up (an enqueue, a nack, another instance's change hint:
      // PostgreSQL sends one for entry writes too) is checked with a read before the next lease
      // transaction, which locks the store.
      for (;;) {
        const remaining = deadline - performance.now();
        if (remaining <= 0 || request.signal.aborted || this.#closed) return [];
        const counts = await this.#storage.queueStats(store, this.#clock());
        if (counts.ready > 0) break;
        const untilVisible =
          counts.nextVisibleAt === null
            ? remaining
            : Math.max(MIN_WAIT_MS, counts.nextVisibleAt - this.#clock());
        // On a shared storage, a change hint may never come: look again every poll interval.
        const cap = this.#storage.onChange === undefined ? remaining : this.#pollIntervalMs;
        await this.#wait(store, Math.min(remaining, untilVisible, cap), request.signal, generation);
        generation = this.#generations.get(store) ?? 0;
      }
    }
  }

  /**
   * Acknowledges a delivery: the message is deleted.
   *
   * @throws {NotFoundError} 404 `not_found` when the lease is no longer held
   * @throws StoreNotFoundError when the store does not exist
   */
  async ack(store: string, id: string, leaseId: string): Promise<void> {
    const outcome = await this.#transaction(store, (tx) => ackSteps(tx, id, leaseId));
    if (!outcome.held) throw leaseNotHeld(id);
  }

  /**
   * Gives a delivery back as failed: redelivered after the backoff step, or dead-lettered.
   *
   * @throws {NotFoundError} 404 `not_found` when the lease is no longer held
   * @throws StoreNotFoundError when the store does not exist
   */
  async nack(store: string, id: string, leaseId: string, defaultTtlMs: number | null): Promise<void> {
    const dl = this.#deadLetter(this.#clock(), defaultTtlMs);
    const outcome = await this.#transaction(store, (tx) => nackSteps(tx, id, leaseId, dl));
    if (!outcome.held) throw leaseNotHeld(id);
    if (outcome.wroteEntries) this.#onEntriesWritten(store);
    if (outcome.requeued) this.notify(store);
  }

  /**
   * Extends a delivery's lease to `visibilityTimeoutMs` from now (SQS `ChangeMessageVisibility`), so it is
   * not delivered again while its handler runs.
   *
   * @returns when the lease now ends, epoch ms
   * @throws {NotFoundError} 404 `not_found` when the lease is no longer held (leased again, acked, nacked
   *   or gone)
   * @throws StoreNotFoundError when the store does not exist
   */
  async extend(store: string, id: string, leaseId: string, visibilityTimeoutMs: number): Promise<number> {
    const nowMs = this.#clock();
    const outcome = await this.#transaction(store, (tx) =>
      extendSteps(tx, id, leaseId, { nowMs, visibilityTimeoutMs }),
    );
    if (!outcome.held || outcome.leaseExpiresAt === null) throw leaseNotHeld(id);
    return outcome.leaseExpiresAt;
  }

  /**
   * The queue's counts now.
   * @throws StoreNotFoundError when the store does not exist
   */
  stats(store: string): Promise<QueueCounts> {
    return this.#storage.queueStats(store, this.#clock());
  }

  /** Ends every long-poll (they answer `messages: []`) and the change-hint subscription. */
  close(): void {
    this.#closed = true;
    for (const store of [...this.#waiters.keys()]) this.notify(store);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Resolves on the next {@link QueueService.notify} of `store` (or one since `since`), after `timeoutMs`, or on abort. */
  #wait(store: string, timeoutMs: number, signal: AbortSignal, since: number): Promise<void> {
    if ((this.#generations.get(store) ?? 0) !== since || signal.aborted || this.#closed) {
      return Promise.resolve();
    }
    if (this.#unsubscribe === undefined && this.#storage.onChange !== undefined) {
      // Other instances' commits on a shared storage (their enqueues and nacks) wake the long-polls here.
      this.#unsubscribe = this.#storage.onChange((changed) => this.notify(changed));
    }
    return new Promise((resolve) => {
      let set = this.#waiters.get(store);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(store, set);
      }
      const waiters = set;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(store) === waiters) this.#waiters.delete(store);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      unref(timer);
      signal.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }
}
