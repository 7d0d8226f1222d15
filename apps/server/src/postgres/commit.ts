/**
 * The commit rules of the engine's `Storage.commit` (see `CommitRequest` in `@kv/engine`) over the data
 * access of a {@link PgStoreTx}: atomic checks against the state before the commit, each mode's
 * per-op preconditions, and the `expire` write recorded first for a key expired but not swept yet. The
 * same rules as `SqliteStorage` and `MemoryStorage`, which the shared storage suite checks.
 *
 * Kept apart from the row access on purpose: these rules are moving into the engine (a `Storage` of reads
 * plus `transaction(store, fn)`), and then this file goes away while `PgStoreTx` stays.
 *
 * @module
 */
import type { CommitRequest, CommitResult, Mutation, MutationResult, Precondition } from '@kv/engine';
import { type EntryRow, isLive } from './rows.js';
import type { PgStoreTx } from './tx.js';

/** Which precondition breaks for the current live entry (or none). */
function failureOf(
  live: EntryRow | undefined,
  precondition: Precondition | undefined,
): MutationResult['failure'] | undefined {
  if (!precondition) return undefined;
  switch (precondition.kind) {
    case 'revision':
      return live?.revision === precondition.revision ? undefined : 'revision_mismatch';
    case 'absent':
      return live ? 'key_exists' : undefined;
    case 'exists':
      return live ? undefined : 'key_not_found';
  }
}

/** Every key a commit reads (checks and mutations), to load their current records at once. */
export function keysOf(request: CommitRequest): string[] {
  return [...(request.checks ?? []).map((c) => c.key), ...request.mutations.map((m) => m.key)];
}

/**
 * Applies `request` in the transaction `tx` (whose store row is locked); the caller commits (writing the
 * store's revision and counters, `tx.finishSql()`), or rolls back when this throws.
 */
export async function applyCommit(tx: PgStoreTx, request: CommitRequest): Promise<CommitResult> {
  const now = request.nowMs;
  if (request.mode === 'atomic') {
    // Deno KV semantics: every check and precondition is evaluated against the state before the commit.
    const failed: string[] = [];
    const conditions = [
      ...(request.checks ?? []),
      ...request.mutations.filter((m) => m.precondition !== undefined),
    ];
    for (const c of conditions) {
      const row = await tx.head(c.key);
      if (failureOf(isLive(row, now) ? row : undefined, c.precondition)) failed.push(c.key);
    }
    if (failed.length > 0) return { ok: false, failedKeys: [...new Set(failed)] };
  }

  const results: MutationResult[] = [];
  for (const m of request.mutations) {
    let live = await tx.head(m.key);
    if (live && live.expires_at !== null && live.expires_at <= now) {
      // Expired but not swept yet: record its `expire` write first, as the sweeper would (each mode:
      // before the op's precondition, so a failed op still records it), then run the op without it.
      await tx.tombstone(live, 'expire', now);
      live = undefined;
    }
    if (request.mode === 'each') {
      const failure = failureOf(live, m.precondition);
      if (failure) {
        const r: MutationResult = { key: m.key, status: 'failed', failure };
        if (live) {
          r.revision = live.revision;
          r.id = live.id;
        }
        results.push(r);
        continue;
      }
    }
    results.push(await apply(tx, m, live, now));
  }
  return { ok: true, results, revision: tx.revision };
}

/** Applies one mutation; `live` is the key's entry, never an expired one (`applyCommit` expired it). */
async function apply(
  tx: PgStoreTx,
  m: Mutation,
  live: EntryRow | undefined,
  now: number,
): Promise<MutationResult> {
  switch (m.type) {
    case 'put': {
      const { revision, id } = await tx.put(m, live, now);
      return { key: m.key, status: 'applied', revision, id, created: !live };
    }
    case 'delete': {
      if (!live) return { key: m.key, status: 'noop', created: false };
      const revision = await tx.tombstone(live, 'delete', now);
      return { key: m.key, status: 'applied', revision, id: live.id, created: true };
    }
    case 'purge': {
      const done = await tx.purge(m.key, live, now);
      if (!done) return { key: m.key, status: 'noop', created: false };
      return { key: m.key, status: 'applied', revision: done.revision, id: done.id, created: !!live };
    }
    case 'setExpiry': {
      if (!live) return { key: m.key, status: 'noop' };
      const revision = await tx.setExpiry(live, m.expiresAt, now);
      return { key: m.key, status: 'applied', revision, id: live.id };
    }
  }
}
