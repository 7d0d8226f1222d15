/**
 * Commits, plain and guarded. A caller with a scoped capability (`kv[store:scope]:set`) may only change
 * entries whose scopes its grant covers in write mode (every scope of the entry allowed), so a
 * write first reads the entries it would replace or remove, checks their scopes, and then commits with
 * the revision it checked as a precondition (`absent` when there was none). If another write got in
 * between, the precondition fails and the write is checked and tried again: the scope check and the
 * write act on the same revision, with no lock and no change to the `Storage` interface.
 *
 * The caller's own precondition (`If-Match`, `If-None-Match: *`, `ifRevision`, `ifNotExists`, atomic
 * checks) is evaluated on the same snapshot: when it fails there, the answer is the failure the storage
 * would have given at that moment; when it holds, the snapshot precondition implies it.
 *
 * A write carrying `Idempotency-Key` passes an {@link Answer}: the commit that decides the write's
 * outcome saves the response record in its own transaction (docs/protocol.md "Idempotency"); a commit
 * that lost a race and is tried again saves none.
 *
 * @module
 */
import { KvError, type KvErrorCode } from '@kv/core';
import { canRead, canWrite, forbidden, type Grant } from './access.js';
import { evaluatePrecondition } from './commit.js';
import type { EngineAction, EngineContext } from './context.js';
import type { ResponseRecorder } from './idempotency.js';
import type { EngineResult } from './pipeline.js';
import type {
  CommitIdempotency,
  CommitResult,
  Mutation,
  MutationResult,
  Precondition,
  StoredEntry,
} from './storage.js';

/** How many times a guarded write is checked and tried again when other writes keep changing its keys. */
const MAX_ATTEMPTS = 8;

/** 503 when a guarded write lost {@link MAX_ATTEMPTS} races in a row (clients retry 503). */
function contention(): KvError {
  return new KvError('The entry kept changing while this write was checked; try again', {
    code: 'unavailable' satisfies KvErrorCode,
    status: 503,
  });
}

/**
 * How a write's outcome (`T`: what the guarded commit below answers) becomes the response the client
 * gets, for saving it as the write's idempotency record with the commit that decides it.
 */
export interface Answer<T> {
  /** The write's recorder (from `IdempotencyGuard.run`). */
  recorder: ResponseRecorder;
  /** The response for the outcome; may throw the `KvError` the client gets (e.g. a 412). */
  render: (outcome: T) => EngineResult;
}

/** The commit hook of `answer`: records `render(final(result))`, nothing while `final` answers undefined. */
function hookOf<T>(
  answer: Answer<T> | undefined,
  final: (result: CommitResult) => T | undefined,
): CommitIdempotency | undefined {
  if (answer === undefined) return undefined;
  return answer.recorder.hook((result) => {
    const outcome = final(result);
    return outcome === undefined ? undefined : answer.render(outcome);
  });
}

/**
 * Applies independent mutations in one storage transaction (bulk mode `each`). No ops and no
 * `idempotency`: no transaction at all; with `idempotency`, the transaction saves the record even when
 * it applies nothing. `nowMs` is the commit's "now" (default: the clock), so a write whose expiry was
 * computed from a TTL commits at the time the TTL counts from.
 */
async function commitEach(
  ctx: EngineContext,
  store: string,
  ops: Mutation[],
  idempotency?: CommitIdempotency,
  nowMs: number = ctx.clock(),
): Promise<MutationResult[]> {
  if (ops.length === 0 && idempotency === undefined) return [];
  const request = { mode: 'each' as const, mutations: ops, nowMs };
  const result = await ctx.commit(store, idempotency === undefined ? request : { ...request, idempotency });
  if (!result.ok) {
    // Each-mode commits always succeed as a whole; a storage that says otherwise is broken.
    throw new KvError('Storage rejected an independent commit', { code: 'internal', status: 500 });
  }
  return result.results;
}

/** Applies one mutation. */
async function commitOne(
  ctx: EngineContext,
  store: string,
  op: Mutation,
  idempotency?: CommitIdempotency,
  nowMs?: number,
): Promise<MutationResult> {
  const [result] = await commitEach(ctx, store, [op], idempotency, nowMs);
  return result as MutationResult;
}

/** The result of a one-mutation commit. */
function only(result: CommitResult): MutationResult | undefined {
  return result.ok ? result.results[0] : undefined;
}

/** The precondition "the entry is still as read": at its revision, or still absent. */
function snapshotPrecondition(current: StoredEntry | undefined): Precondition {
  return current === undefined ? { kind: 'absent' } : { kind: 'revision', revision: current.revision };
}

function actionOf(op: Mutation): EngineAction {
  switch (op.type) {
    case 'put':
    case 'sum':
    case 'min':
    case 'max':
      return 'set';
    case 'setExpiry':
      return 'set_expiry';
    default:
      return op.type;
  }
}

/**
 * The scopes the entry has after `op` when the key's live entry is `current`: a put's own; a numeric
 * op's own when it sets them, else the current entry's (none for a new key: an unscoped entry);
 * undefined for ops that write no entry.
 */
function newScopesOf(op: Mutation, current: StoredEntry | undefined): readonly string[] | undefined {
  if (op.type === 'put') return op.scopes;
  if (op.type === 'sum' || op.type === 'min' || op.type === 'max') return op.scopes ?? current?.scopes ?? [];
  return undefined;
}

/** Whether `op` is checked against the `set` grant of an atomic commit (else `delete`). */
function isSetLike(op: Mutation): boolean {
  return op.type !== 'delete' && op.type !== 'purge';
}

/**
 * Why `grant` may not apply `op` to the entry `current`, or undefined when it may: a put's new scopes and
 * the current entry's scopes must all be allowed; a purge also needs every revision in the key's history
 * allowed (it removes them).
 */
async function refusal(
  ctx: EngineContext,
  store: string,
  op: Mutation,
  current: StoredEntry | undefined,
  grant: Grant,
): Promise<KvError | undefined> {
  if (grant.all) return undefined;
  const action = actionOf(op);
  const newScopes = newScopesOf(op, current);
  if (newScopes !== undefined && !canWrite(grant, newScopes)) return forbidden(action);
  if (current !== undefined && !canWrite(grant, current.scopes)) return forbidden(action);
  if (op.type === 'purge') {
    for (const record of await ctx.storage.history(store, op.key)) {
      if (!canWrite(grant, record.scopes)) return forbidden(action);
    }
  }
  return undefined;
}

/**
 * Applies one mutation for a caller with `grant`. With an unscoped grant this is one commit. With
 * `answer`, the commit that decides the outcome saves its response record. `nowMs` is the commit's "now"
 * (default: the clock when it commits): a put whose expiry was computed from a TTL passes the time it
 * counted from, so its `expiresAt - updatedAt` is exactly the TTL.
 *
 * @throws {UnauthorizedError} 403 when the grant does not cover the new or the current scopes
 * @throws {KvError} 503 `unavailable` after losing {@link MAX_ATTEMPTS} races
 */
export async function commitGuardedOne(
  ctx: EngineContext,
  store: string,
  op: Mutation,
  grant: Grant,
  answer?: Answer<MutationResult>,
  nowMs?: number,
): Promise<MutationResult> {
  if (grant.all) return commitOne(ctx, store, op, hookOf(answer, only), nowMs);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await ctx.storage.get(store, op.key, ctx.clock());
    const refused = await refusal(ctx, store, op, current, grant);
    if (refused !== undefined) throw refused;
    const failed = evaluatePrecondition(op.key, op.precondition, current);
    if (failed !== undefined) return failed;
    // A failed snapshot precondition is a race lost: tried again, nothing recorded.
    const hook = hookOf(answer, (r) => {
      const result = only(r);
      return result?.status === 'failed' ? undefined : result;
    });
    const result = await commitOne(
      ctx,
      store,
      { ...op, precondition: snapshotPrecondition(current) },
      hook,
      nowMs,
    );
    if (result.status !== 'failed') return result;
  }
  throw contention();
}

/**
 * Applies independent mutations (bulk set, bulk delete) for a caller with `grant`; an item the grant does
 * not cover gets a `forbidden` error, the others are applied. With an unscoped grant this is
 * {@link commitEach} (one transaction). With a scoped one, the items go in rounds, each round taking the
 * next item of every key in request order (so repeated keys are applied in order), each round one
 * transaction; an item whose key changed since it was checked stays for the next round. With `answer`,
 * the last transaction (the unscoped one, or the scoped round that settles every item; a round with
 * nothing left to apply then still commits, to save the record) saves the response record.
 *
 * @returns one result per op, in order: the storage's result or a `KvError` for the item
 */
export async function commitGuardedEach(
  ctx: EngineContext,
  store: string,
  ops: Mutation[],
  grant: Grant,
  answer?: Answer<Array<MutationResult | KvError>>,
): Promise<Array<MutationResult | KvError>> {
  if (grant.all) {
    const hook = hookOf(answer, (r) => (r.ok ? r.results : undefined));
    // With no ops, nothing is written: the record is saved after the fact (`IdempotencyGuard.run`).
    return commitEach(ctx, store, ops, ops.length === 0 ? undefined : hook);
  }
  const results: Array<MutationResult | KvError | undefined> = ops.map(() => undefined);
  const queues = new Map<string, number[]>();
  ops.forEach((op, index) => {
    const queue = queues.get(op.key);
    if (queue === undefined) queues.set(op.key, [index]);
    else queue.push(index);
  });
  const attempts = ops.map(() => 0);
  while (queues.size > 0) {
    const heads = [...queues.values()].map((q) => q[0] as number).sort((a, b) => a - b);
    const keys = heads.map((i) => (ops[i] as Mutation).key);
    // The last round when every key has one item left (each is settled below or by the commit, unless lost).
    const lastRound = [...queues.values()].every((q) => q.length === 1);
    const current = await ctx.storage.getMany(store, keys, ctx.clock(), false);
    const settle = (index: number, result: MutationResult | KvError): void => {
      results[index] = result;
      const key = (ops[index] as Mutation).key;
      const queue = queues.get(key) as number[];
      queue.shift();
      if (queue.length === 0) queues.delete(key);
    };
    const batch: Array<{ index: number; op: Mutation }> = [];
    for (let h = 0; h < heads.length; h++) {
      const index = heads[h] as number;
      const op = ops[index] as Mutation;
      const entry = current[h];
      const refused = await refusal(ctx, store, op, entry, grant);
      if (refused !== undefined) {
        settle(index, refused);
        continue;
      }
      const failed = evaluatePrecondition(op.key, op.precondition, entry);
      if (failed !== undefined) {
        settle(index, failed);
        continue;
      }
      batch.push({ index, op: { ...op, precondition: snapshotPrecondition(entry) } });
    }
    const hook = !lastRound
      ? undefined
      : hookOf(answer, (r) => {
          if (!r.ok) return undefined;
          const outcome = [...results];
          for (let i = 0; i < batch.length; i++) {
            const { index } = batch[i] as { index: number };
            const result = r.results[i] as MutationResult;
            if (result.status !== 'failed') outcome[index] = result;
            else if ((attempts[index] as number) + 1 >= MAX_ATTEMPTS) outcome[index] = contention();
            else return undefined;
          }
          return outcome as Array<MutationResult | KvError>;
        });
    const committed = await commitEach(
      ctx,
      store,
      batch.map((b) => b.op),
      hook,
    );
    batch.forEach(({ index }, i) => {
      const result = committed[i] as MutationResult;
      if (result.status !== 'failed') settle(index, result);
      else if (++(attempts[index] as number) >= MAX_ATTEMPTS) settle(index, contention());
    });
  }
  return results as Array<MutationResult | KvError>;
}

/** The grants an atomic commit is checked against: `get` for checks, `set` and `delete` for mutations. */
export interface AtomicGrants {
  get: Grant | undefined;
  set: Grant | undefined;
  delete: Grant | undefined;
}

/**
 * Commits an atomic request for a caller with scoped grants: every checked entry must be readable, every
 * entry a mutation replaces or removes and every new scope writable, else 403 for the whole commit
 * (all or nothing). The caller's checks are evaluated on one snapshot; the commit then requires every
 * mutated key to be as checked.
 *
 * @returns the storage's result (`ok: false` with the failed keys when a caller's check failed); with
 *   `answer`, the commit that applies saves the response record
 * @throws {UnauthorizedError} 403 when a grant does not cover an entry
 * @throws {KvError} 503 `unavailable` after losing {@link MAX_ATTEMPTS} races
 */
export async function commitGuardedAtomic(
  ctx: EngineContext,
  store: string,
  checks: Array<{ key: string; precondition: Precondition }>,
  mutations: Mutation[],
  grants: AtomicGrants,
  answer?: Answer<CommitResult>,
): Promise<CommitResult> {
  for (const m of mutations) {
    const grant = isSetLike(m) ? grants.set : grants.delete;
    if (grant === undefined) throw forbidden(actionOf(m));
    if (m.type === 'put' && !canWrite(grant, m.scopes)) throw forbidden('set');
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const keys = [...new Set([...checks.map((c) => c.key), ...mutations.map((m) => m.key)])];
    const found = await ctx.storage.getMany(store, keys, ctx.clock(), false);
    const snapshot = new Map<string, StoredEntry | undefined>(keys.map((k, i) => [k, found[i]]));
    for (const check of checks) {
      const entry = snapshot.get(check.key);
      if (grants.get === undefined) throw forbidden('get');
      if (entry !== undefined && !canRead(grants.get, entry.scopes)) throw forbidden('get');
    }
    for (const m of mutations) {
      const entry = snapshot.get(m.key);
      const grant = (isSetLike(m) ? grants.set : grants.delete) as Grant;
      if (entry !== undefined && !canWrite(grant, entry.scopes)) throw forbidden(actionOf(m));
      // A numeric op writes the entry's scopes (or none, for a new key) unless it sets its own.
      const newScopes = m.type === 'put' ? undefined : newScopesOf(m, entry);
      if (newScopes !== undefined && !canWrite(grant, newScopes)) throw forbidden(actionOf(m));
    }
    const failedKeys = [
      ...new Set(
        checks
          .filter((c) => evaluatePrecondition(c.key, c.precondition, snapshot.get(c.key)) !== undefined)
          .map((c) => c.key),
      ),
    ];
    if (failedKeys.length > 0) return { ok: false, failedKeys };
    const mutated = [...new Set(mutations.map((m) => m.key))];
    const request = {
      mode: 'atomic' as const,
      checks: [
        ...checks,
        ...mutated.map((key) => ({ key, precondition: snapshotPrecondition(snapshot.get(key)) })),
      ],
      mutations,
      nowMs: ctx.clock(),
    };
    // `ok: false` here is a snapshot check broken by a race (the caller's were checked above): tried again.
    const hook = hookOf(answer, (r) => (r.ok ? r : undefined));
    const result = await ctx.commit(store, hook === undefined ? request : { ...request, idempotency: hook });
    if (result.ok) return result;
  }
  throw contention();
}
