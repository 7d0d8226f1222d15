/**
 * The commit rules, written once: how a {@link CommitRequest} becomes writes through a {@link StorageTx},
 * and how the sweep expires entries. Every storage gets the same semantics because none of them
 * implements any: they only give data access (`storage.ts`).
 *
 * The rules (docs/architecture.md "Revisions" and "Commit rules in the engine", docs/protocol.md "Revisions,
 * ordering and consistency"; Deno KV `atomic()` for the atomic mode):
 *
 * - Each store has one revision sequence; every applied mutation takes the next value (consecutive
 *   inside a commit). `noop` and `failed` mutations take none.
 * - Atomic commits evaluate every precondition (the `checks` and each op's own) against the state BEFORE
 *   the commit, then either apply every op in order or nothing (`{ ok: false, failedKeys }`). Each-mode
 *   commits evaluate an op's precondition just before that op, against the state as mutated by the ops
 *   before it, skip and report an op whose precondition fails, and are always `ok: true`; `checks` are
 *   only read in atomic mode.
 * - An entry whose `expiresAt <= nowMs` counts as absent for preconditions before the sweep reaches it.
 *   Until then it still counts in the store's stats and stays in history as the `put` it was.
 * - Expire-before-write: an applied commit with a mutation on an expired-but-unswept key first records
 *   that key's `expire` write, exactly as the sweep would (its own revision, tombstone in history, change
 *   log, stats), then runs the mutation against the new state: a put starts a new life (new id,
 *   `created: true`), delete and setExpiry are no-ops, a purge removes the key with its `expire`
 *   tombstone. Atomic commits do this only once every check has passed (a failed commit writes nothing);
 *   each-mode commits do it for every op before that op's precondition is evaluated, so an op whose
 *   precondition fails still records the expire. Keys named only in `checks` are not expired.
 * - Numeric mutations (`sum`, `min`, `max`; Deno KV's, on integers) read the live value, which must be the
 *   JSON text of a safe integer with a JSON content type (a missing key counts as absent: the result is
 *   the operand; the string `"5"` stored as text is not an integer), and write
 *   the result as a `put` with content type `application/json`, keeping the entry's id, `createdAt`,
 *   `resume` and (unless the op sets them) its metadata, scopes and expiry. A stored value that is not a
 *   safe integer, or a sum leaving the safe range, throws a `ValidationError` out of the commit, so its
 *   transaction writes nothing.
 * - A put on a live key keeps its id and `createdAt`; on a missing (or just expired) key it takes the op's
 *   `newId` and `createdAt = nowMs`. Scopes are stored sorted and de-duplicated.
 * - Tombstones (`delete`, `expire`, `purge`) keep the id, content type, metadata, scopes, `createdAt` and
 *   `resume` of the record they end, with an empty value, `size` 0, `expiresAt: null` and `updatedAt` =
 *   the time of the tombstone. A purge removes the key's entry and whole history and leaves only its
 *   `purge` record in the change log; its fields come from the key's newest record (entry or tombstone).
 *
 * The code runs over a `StorageTx` whose answers may be values or promises. It is written once as a
 * generator of steps (`yield* step(tx.head(key))`) and driven by {@link runSteps}, which stays
 * synchronous while every answer is a value and continues asynchronously from the first promise: so a
 * synchronous storage (SQLite, memory) runs the whole commit inside its synchronous transaction, and an
 * asynchronous one (PostgreSQL) awaits each statement.
 *
 * @module
 */
import { compareKeys, ValidationError } from '@kv/core';
import type {
  ChangeRecord,
  CommitRequest,
  CommitResult,
  IdempotencyRecord,
  MaybePromise,
  Mutation,
  MutationResult,
  NumericOp,
  Precondition,
  Storage,
  StorageTx,
  StoredEntry,
} from './storage.js';

const EMPTY = new Uint8Array(0);

/** Content type of the values the numeric mutations write. */
const JSON_CONTENT_TYPE = 'application/json';
/** A JSON content type (`application/json`, parameters allowed): the only values a numeric op reads. */
const JSON_TYPE = /^application\/json[ \t]*(;|$)/i;
/** Longer than any JSON text of a safe integer (`-9007199254740991` is 17 bytes) with some whitespace. */
const MAX_INTEGER_TEXT_BYTES = 32;

/**
 * The safe integer `bytes` hold as JSON text, or undefined when they hold anything else (other JSON,
 * a fraction, an unsafe integer, bad UTF-8).
 */
export function parseStoredInteger(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_INTEGER_TEXT_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  return typeof parsed === 'number' && Number.isSafeInteger(parsed) ? parsed : undefined;
}

/** The result of numeric op `op` on `current` (undefined: the key is missing). */
function numericResult(op: NumericOp, stored: number | undefined): number {
  const current =
    op.floor === undefined ? stored : stored === undefined ? op.floor : Math.max(stored, op.floor);
  if (current === undefined) return op.operand;
  switch (op.type) {
    case 'sum': {
      const sum = current + op.operand;
      if (!Number.isSafeInteger(sum)) {
        throw new ValidationError(
          `The sum for key "${op.key}" would leave the safe integer range (±${Number.MAX_SAFE_INTEGER})`,
          { details: { key: op.key, field: 'value', reason: 'out_of_range' } },
        );
      }
      return sum;
    }
    case 'min':
      return Math.min(current, op.operand);
    case 'max':
      return Math.max(current, op.operand);
  }
}

/** A computation over a {@link StorageTx}: yields the storage's answers, returns `T`. */
export type Steps<T> = Generator<unknown, T, unknown>;

/** One step: hands `value` (a storage answer, maybe a promise) to the driver and gets it back resolved. */
function* step<T>(value: MaybePromise<T>): Generator<MaybePromise<T>, T, unknown> {
  return (yield value) as T;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Drives `steps`: synchronously while every yielded value is a plain value, asynchronously (awaiting
 * each promise, throwing a rejection back into the generator) from the first promise on.
 *
 * @returns the generator's result, or a promise of it when some step was asynchronous
 */
export function runSteps<T>(steps: Steps<T>): MaybePromise<T> {
  let next = steps.next();
  while (next.done !== true) {
    if (isThenable(next.value)) return continueAsync(steps, next.value);
    next = steps.next(next.value);
  }
  return next.value;
}

async function continueAsync<T>(steps: Steps<T>, pending: PromiseLike<unknown>): Promise<T> {
  let value: unknown = pending;
  for (;;) {
    let next: IteratorResult<unknown, T>;
    if (isThenable(value)) {
      let resolved: unknown;
      let failed = false;
      try {
        resolved = await value;
      } catch (reason) {
        failed = true;
        resolved = reason;
      }
      // A rejected answer is thrown into the generator, at the step that asked for it.
      next = failed ? steps.throw(resolved) : steps.next(resolved);
    } else {
      next = steps.next(value);
    }
    if (next.done === true) return next.value;
    value = next.value;
  }
}

/**
 * The outcome `precondition` has on the live entry `current` (undefined = absent): the `failed`
 * {@link MutationResult} (with the current revision and id, when there is an entry), or undefined when it
 * holds. `revision`: the entry exists at exactly that revision (`revision_mismatch`); `absent`: no entry
 * (`key_exists`); `exists`: an entry (`key_not_found`).
 */
export function evaluatePrecondition(
  key: string,
  precondition: Precondition | undefined,
  current: StoredEntry | undefined,
): MutationResult | undefined {
  if (precondition === undefined) return undefined;
  const fail = (failure: NonNullable<MutationResult['failure']>): MutationResult => ({
    key,
    status: 'failed',
    failure,
    ...(current === undefined ? {} : { revision: current.revision, id: current.id }),
  });
  switch (precondition.kind) {
    case 'revision':
      return current !== undefined && current.revision === precondition.revision
        ? undefined
        : fail('revision_mismatch');
    case 'absent':
      return current === undefined ? undefined : fail('key_exists');
    case 'exists':
      return current === undefined ? fail('key_not_found') : undefined;
  }
}

function isExpired(entry: StoredEntry, nowMs: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= nowMs;
}

function normalizeScopes(scopes: readonly string[]): string[] {
  const unique = [...new Set(scopes)];
  return unique.length < 2 ? unique : unique.sort(compareKeys);
}

/**
 * One commit's state: the transaction, "now", the store's latest revision, and the heads read so far
 * (kept up to date with this commit's own writes, so a key is read from the storage once).
 */
class CommitRun {
  readonly #heads = new Map<string, StoredEntry | undefined>();
  revision: number;

  constructor(
    readonly tx: StorageTx,
    readonly nowMs: number,
  ) {
    this.revision = tx.store.revision;
  }

  /** The key's entry (live or expired). */
  *head(key: string): Steps<StoredEntry | undefined> {
    if (this.#heads.has(key)) return this.#heads.get(key);
    const entry = yield* step(this.tx.head(key));
    this.#heads.set(key, entry);
    return entry;
  }

  /** The key's live entry. */
  *live(key: string): Steps<StoredEntry | undefined> {
    const entry = yield* this.head(key);
    return entry === undefined || isExpired(entry, this.nowMs) ? undefined : entry;
  }

  next(): number {
    this.revision = this.tx.nextRevision();
    return this.revision;
  }

  /** Ends `entry` with a `delete` or `expire` tombstone: entry removed, tombstone in history and log. */
  *end(entry: StoredEntry, operation: 'delete' | 'expire'): Steps<ChangeRecord> {
    const tombstone: ChangeRecord = {
      ...entry,
      operation,
      value: EMPTY,
      size: 0,
      expiresAt: null,
      revision: this.next(),
      updatedAt: this.nowMs,
    };
    yield* step(this.tx.removeEntry(entry));
    yield* step(this.tx.appendHistory(tombstone));
    yield* step(this.tx.appendChange(tombstone));
    yield* step(this.tx.adjustStats(-1, -entry.size));
    this.#heads.set(entry.key, undefined);
    return tombstone;
  }

  /** Records the `expire` of the key's entry when it is expired; answers the entry left (live or none). */
  *expireDue(key: string): Steps<StoredEntry | undefined> {
    const entry = yield* this.head(key);
    if (entry === undefined || !isExpired(entry, this.nowMs)) return entry;
    yield* this.end(entry, 'expire');
    return undefined;
  }

  /** Applies one mutation to the key whose live entry is `live` (an expired one was expired already). */
  *apply(m: Mutation, live: StoredEntry | undefined): Steps<MutationResult> {
    const { tx, nowMs } = this;
    const key = m.key;
    switch (m.type) {
      case 'put': {
        const entry: StoredEntry = {
          key,
          id: live?.id ?? m.newId,
          value: m.value,
          contentType: m.contentType,
          metadata: m.metadata,
          scopes: normalizeScopes(m.scopes),
          revision: this.next(),
          createdAt: live?.createdAt ?? nowMs,
          updatedAt: nowMs,
          expiresAt: m.expiresAt,
          resume: m.resume,
          size: m.value.byteLength,
        };
        yield* step(tx.putEntry(entry, live));
        yield* step(tx.appendChange({ ...entry, operation: 'put' }));
        yield* step(tx.adjustStats(live === undefined ? 1 : 0, entry.size - (live?.size ?? 0)));
        this.#heads.set(key, { ...entry, value: EMPTY });
        return {
          key,
          status: 'applied',
          revision: entry.revision,
          id: entry.id,
          created: live === undefined,
        };
      }
      case 'sum':
      case 'min':
      case 'max': {
        let current: number | undefined;
        if (live !== undefined) {
          const readable = live.size <= MAX_INTEGER_TEXT_BYTES && JSON_TYPE.test(live.contentType);
          const bytes = readable ? yield* step(tx.value(key)) : undefined;
          current = bytes === undefined ? undefined : parseStoredInteger(bytes);
          if (current === undefined) {
            throw new ValidationError(`The value of key "${key}" is not the JSON text of a safe integer`, {
              details: { key, field: 'value', reason: 'not_integer' },
            });
          }
        }
        const number = numericResult(m, current);
        const value = new TextEncoder().encode(JSON.stringify(number));
        const entry: StoredEntry = {
          key,
          id: live?.id ?? m.newId,
          value,
          contentType: JSON_CONTENT_TYPE,
          metadata: m.metadata !== undefined ? m.metadata : (live?.metadata ?? null),
          scopes: m.scopes !== undefined ? normalizeScopes(m.scopes) : (live?.scopes ?? []),
          revision: this.next(),
          createdAt: live?.createdAt ?? nowMs,
          updatedAt: nowMs,
          expiresAt:
            m.expiresAt !== undefined
              ? m.expiresAt
              : live === undefined
                ? m.defaultExpiresAt
                : live.expiresAt,
          resume: live?.resume ?? false,
          size: value.byteLength,
        };
        yield* step(tx.putEntry(entry, live));
        yield* step(tx.appendChange({ ...entry, operation: 'put' }));
        yield* step(tx.adjustStats(live === undefined ? 1 : 0, entry.size - (live?.size ?? 0)));
        this.#heads.set(key, { ...entry, value: EMPTY });
        return {
          key,
          status: 'applied',
          revision: entry.revision,
          id: entry.id,
          created: live === undefined,
          number,
        };
      }
      case 'setExpiry': {
        if (live === undefined) return { key, status: 'noop' };
        const change = { revision: this.next(), updatedAt: nowMs, expiresAt: m.expiresAt };
        yield* step(tx.updateEntry(live, change));
        const entry: StoredEntry = { ...live, ...change };
        yield* step(tx.appendChange({ ...entry, value: EMPTY, operation: 'put' }));
        this.#heads.set(key, entry);
        return { key, status: 'applied', revision: change.revision, id: live.id };
      }
      case 'delete': {
        if (live === undefined) return { key, status: 'noop', created: false };
        const tombstone = yield* this.end(live, 'delete');
        return { key, status: 'applied', revision: tombstone.revision, id: tombstone.id, created: true };
      }
      case 'purge': {
        // The purge record keeps the fields of the key's newest record (its entry or its tombstone).
        const newest = live ?? (yield* step(tx.lastRecord(key)));
        if (newest === undefined) return { key, status: 'noop', created: false };
        const record: ChangeRecord = {
          ...newest,
          operation: 'purge',
          value: EMPTY,
          size: 0,
          expiresAt: null,
          revision: this.next(),
          updatedAt: nowMs,
        };
        if (live !== undefined) {
          yield* step(tx.removeEntry(live));
          yield* step(tx.adjustStats(-1, -live.size));
          this.#heads.set(key, undefined);
        }
        yield* step(tx.purgeHistory(key));
        yield* step(tx.appendChange(record));
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
}

/**
 * Thrown by a commit whose `idempotency.scopeKey` already has a record in the storage (the request was
 * answered already, by this server or another on the same database): the commit applied nothing, and
 * the caller answers from {@link IdempotencyRecordFound.record} (docs/protocol.md "Idempotency").
 */
export class IdempotencyRecordFound extends Error {
  /**
   * @param scopeKey - the scope key looked up
   * @param record - the record found
   */
  constructor(
    readonly scopeKey: string,
    readonly record: IdempotencyRecord,
  ) {
    super(`An idempotency record exists for ${scopeKey}; the commit was not applied`);
    this.name = 'IdempotencyRecordFound';
  }
}

/**
 * The steps of a commit over `tx` (the rules in this module's documentation), with
 * `request.idempotency`, if any: its record is looked up first (found: nothing is applied and
 * {@link IdempotencyRecordFound} is thrown), and the record for the result is written last, in the same
 * transaction. Drive with {@link runSteps}, or use {@link applyCommit}.
 */
export function* commitSteps(tx: StorageTx, request: CommitRequest): Steps<CommitResult> {
  const hook = request.idempotency;
  if (hook !== undefined) {
    const found = yield* step(tx.getIdempotency(hook.scopeKey, request.nowMs));
    if (found !== undefined) throw new IdempotencyRecordFound(hook.scopeKey, found);
  }
  const run = new CommitRun(tx, request.nowMs);
  const result = yield* applyRules(run, request);
  if (hook !== undefined) {
    const record = hook.record(result);
    if (record !== undefined) yield* step(tx.putIdempotency(hook.scopeKey, record));
  }
  return result;
}

function* applyRules(run: CommitRun, request: CommitRequest): Steps<CommitResult> {
  const atomic = request.mode === 'atomic';
  if (atomic) {
    const failed = new Set<string>();
    for (const check of request.checks ?? []) {
      const live = yield* run.live(check.key);
      if (evaluatePrecondition(check.key, check.precondition, live) !== undefined) failed.add(check.key);
    }
    for (const m of request.mutations) {
      if (m.precondition === undefined) continue;
      const live = yield* run.live(m.key);
      if (evaluatePrecondition(m.key, m.precondition, live) !== undefined) failed.add(m.key);
    }
    if (failed.size > 0) return { ok: false, failedKeys: [...failed] };
  }
  const results: MutationResult[] = [];
  for (const m of request.mutations) {
    const live = yield* run.expireDue(m.key);
    if (!atomic) {
      const failed = evaluatePrecondition(m.key, m.precondition, live);
      if (failed !== undefined) {
        results.push(failed);
        continue;
      }
    }
    results.push(yield* run.apply(m, live));
  }
  return { ok: true, results, revision: run.revision };
}

/**
 * Applies `request` through `tx` (and writes its idempotency record, if any, through the same `tx`):
 * synchronously when every `tx` answer is synchronous, else as a promise.
 */
export function applyCommit(tx: StorageTx, request: CommitRequest): MaybePromise<CommitResult> {
  return runSteps(commitSteps(tx, request));
}

/**
 * Applies `request` to `store` in one transaction of `storage` (the engine's `EngineContext.commit`
 * without waking watchers; tests and tools call it directly).
 *
 * @throws StoreNotFoundError when the store does not exist
 */
export function commit(storage: Storage, store: string, request: CommitRequest): Promise<CommitResult> {
  return storage.transaction(store, (tx) => applyCommit(tx, request));
}

/** Expires `keys` of one store, each only if its entry is still expired at `nowMs`; answers how many. */
function* expireSteps(tx: StorageTx, keys: readonly string[], nowMs: number): Steps<number> {
  const run = new CommitRun(tx, nowMs);
  let expired = 0;
  for (const key of keys) {
    const entry = yield* run.head(key);
    if (entry === undefined || !isExpired(entry, nowMs)) continue;
    yield* run.end(entry, 'expire');
    expired++;
  }
  return expired;
}

/**
 * One round of the expiry sweep: forgets expired idempotency records (up to `max(limit, 1000)`), then
 * expires up to `limit` entries whose `expiresAt <= nowMs`, oldest first (ties: store name, then key),
 * each as an `expire` write with the same code a commit uses (revision, tombstone in history, change log,
 * stats), one transaction per store. An entry written again since it was found is left alone.
 *
 * @returns how many entries were expired, with the names of the stores written
 */
export async function sweepExpired(
  storage: Storage,
  nowMs: number,
  limit: number,
): Promise<{ expired: number; stores: string[] }> {
  await storage.deleteExpiredIdempotency(nowMs, Math.max(1000, limit));
  if (limit <= 0) return { expired: 0, stores: [] };
  const due = await storage.expiredEntries(nowMs, limit);
  const byStore = new Map<string, string[]>();
  for (const { store, key } of due) {
    const keys = byStore.get(store);
    if (keys === undefined) byStore.set(store, [key]);
    else keys.push(key);
  }
  const counts = await Promise.all(
    [...byStore].map(([store, keys]) =>
      storage
        .transaction(store, (tx) => runSteps(expireSteps(tx, keys, nowMs)))
        .catch((error: unknown) => {
          // A store deleted since its entries were found has nothing left to expire.
          if ((error as { code?: unknown }).code === 'store_not_found') return 0;
          throw error;
        }),
    ),
  );
  let expired = 0;
  const stores: string[] = [];
  [...byStore.keys()].forEach((store, i) => {
    const n = counts[i] ?? 0;
    expired += n;
    if (n > 0) stores.push(store);
  });
  return { expired, stores };
}
