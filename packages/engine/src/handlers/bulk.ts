/**
 * Bulk calls and atomic commits (docs/protocol.md "Bulk" and "Atomic"): read, write or soft-delete up
 * to 10,000 keys per call, each item independently (per-item results), and the all-or-nothing commit of
 * checks and mutations (Deno KV `atomic()`).
 *
 * @module
 */

import {
  isKvError,
  type KvError,
  RevisionMismatchError,
  ValidationError,
  validateKey,
} from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize, canRead, defaultGrant, FULL_GRANT, forbidden, type Grant } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResult, toWireEntry } from '../http.js';
import { defineRoute, type EngineResult, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { jsonWriteToPut, preconditionError, requireStore, resolveExpiry, storePath } from '../requests.js';
import {
  AtomicBody,
  AtomicResultSchema,
  BulkDeleteBody,
  BulkGetBody,
  BulkGetResponseSchema,
  BulkResultSchema,
  BulkSetBody,
  IdempotencyHeaders,
  StoreParams,
} from '../schemas.js';
import type { CommitResult, Mutation, MutationResult, Precondition, PutOp } from '../storage.js';
import { type AtomicGrants, commitGuardedAtomic, commitGuardedEach } from '../writes.js';
import { bodyLimits, errors, idempotent, json, jsonRequest } from './common.js';

const TAG = 'bulk';

const bulkGetDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Read up to 10,000 keys',
  request: { params: StoreParams, body: jsonRequest(BulkGetBody) },
  responses: {
    200: json(BulkGetResponseSchema, 'One item per key, in request order'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const bulkSetDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Write up to 10,000 entries, each independently',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(BulkSetBody) },
  responses: {
    200: json(BulkResultSchema, 'Per-item results'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const bulkDeleteDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Soft-delete up to 10,000 keys',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(BulkDeleteBody) },
  responses: {
    200: json(BulkResultSchema, 'Per-item results'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const atomicDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Atomic commit: checks and mutations (set, delete, sum, min, max), all or nothing (Deno KV)',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(AtomicBody) },
  responses: {
    200: json(AtomicResultSchema, 'Every check held; every mutation applied'),
    ...errors(400, 401, 403, 404, 412, 413, 415),
  },
};

/** The bulk routes: `bulkGet`, `bulkSet`, `bulkDelete`, `atomic`. */
export function routes(
  ctx: EngineContext,
): Pick<HandlerTable, 'bulkGet' | 'bulkSet' | 'bulkDelete' | 'atomic'> {
  const { storage } = ctx;
  const { keys: keysBody, values: valuesBody } = bodyLimits(ctx);

  const bulkGet = defineRoute(
    bulkGetDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof BulkGetBody>;
      body.keys.forEach((key, index) => {
        withIndex(index, 'keys', () => validateKey(key));
      });
      const grant = await authorize(ctx, c, 'get', { store, keys: body.keys });
      const values = body.values ?? true;
      const found = await storage.getMany(store, body.keys, ctx.clock(), values);
      return jsonResult({
        items: body.keys.map((key, i) => {
          const entry = found[i];
          // An entry outside a scoped caller's grant is reported as missing (filtered, not failed).
          return entry === undefined || !canRead(grant, entry.scopes)
            ? { key, found: false }
            : { ...toWireEntry(entry, values), found: true };
        }),
      });
    },
    keysBody('get'),
  );

  const bulkSet = defineRoute(
    bulkSetDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof BulkSetBody>;
      const grant = await authorize(ctx, c, 'set', { store, keys: body.items.map((i) => i.key) });
      const record = await requireStore(ctx, store);
      const nowMs = ctx.clock();
      // Per-item validation: a bad item is reported in its result; the others are written.
      const prepared: Array<{ put: PutOp; ifNotExists: boolean } | KvError> = body.items.map((item) => {
        try {
          if (item.ifNotExists === true && item.ifRevision !== undefined) {
            throw new ValidationError('Give either ifNotExists or ifRevision, not both', {
              details: { field: 'ifRevision', reason: 'conflict' },
            });
          }
          const put = jsonWriteToPut(ctx, record, item, nowMs);
          if (item.ifNotExists === true) put.precondition = { kind: 'absent' };
          if (item.ifRevision !== undefined)
            put.precondition = { kind: 'revision', revision: item.ifRevision };
          return { put, ifNotExists: item.ifNotExists === true };
        } catch (error) {
          if (isKvError(error)) return error;
          throw error;
        }
      });
      const puts = prepared.filter((p): p is { put: PutOp; ifNotExists: boolean } => !isKvError(p));
      const render = (committed: Array<MutationResult | KvError>): EngineResult => {
        let next = 0;
        const results = prepared.map((p, i) => {
          const key = body.items[i]?.key ?? '';
          if (isKvError(p)) return itemError(key, p);
          const r = committed[next++] as MutationResult | KvError;
          if (isKvError(r)) return itemError(key, r);
          if (r.status === 'failed') {
            if (p.ifNotExists && r.failure === 'key_exists') {
              return { key, ok: true, ...idRev(r), created: false };
            }
            return itemError(key, preconditionError(r, p.put.precondition));
          }
          return { key, ok: true, ...idRev(r), created: r.created === true };
        });
        return jsonResult(bulkResult(results));
      };
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) => {
        const ops = puts.map((p) => p.put);
        return render(await commitGuardedEach(ctx, store, ops, grant, recorder && { recorder, render }));
      });
    },
    valuesBody(['set']),
  );

  const bulkDelete = defineRoute(
    bulkDeleteDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof BulkDeleteBody>;
      const grant = await authorize(ctx, c, 'delete', { store, keys: body.keys });
      await requireStore(ctx, store);
      const prepared = body.keys.map((key): Mutation | KvError => {
        try {
          return { type: 'delete', key: validateKey(key) };
        } catch (error) {
          if (isKvError(error)) return error;
          throw error;
        }
      });
      const ops = prepared.filter((p): p is Mutation => !isKvError(p));
      const render = (committed: Array<MutationResult | KvError>): EngineResult => {
        let next = 0;
        const results = prepared.map((p, i) => {
          const key = body.keys[i] ?? '';
          if (isKvError(p)) return itemError(key, p);
          const r = committed[next++] as MutationResult | KvError;
          if (isKvError(r)) return itemError(key, r);
          return r.status === 'applied'
            ? { key, ok: true, ...idRev(r), created: true }
            : { key, ok: true, created: false };
        });
        return jsonResult(bulkResult(results));
      };
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) =>
        render(await commitGuardedEach(ctx, store, ops, grant, recorder && { recorder, render })),
      );
    },
    keysBody('delete'),
  );

  const atomic = defineRoute(
    atomicDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof AtomicBody>;
      const checks = body.checks ?? [];
      const keys = [...checks.map((k) => k.key), ...body.mutations.map((m) => m.key)];
      // The hook sees one `set`; capabilities are checked per part: get for checks, delete for deletes,
      // set for every other mutation (set, sum, min, max).
      await authorize(ctx, c, 'set', { store, keys }, FULL_GRANT);
      const principal = c.principal;
      const need = (action: 'get' | 'set' | 'delete', wanted: boolean): Grant | undefined => {
        if (!wanted) return undefined;
        const grant = defaultGrant(principal, action, store);
        if (grant === null) throw forbidden(action);
        return grant;
      };
      const grants: AtomicGrants = {
        get: need('get', checks.length > 0),
        // An empty commit (it answers the store revision) needs set, like any commit.
        set: need('set', body.mutations.some((m) => m.type !== 'delete') || body.mutations.length === 0),
        delete: need(
          'delete',
          body.mutations.some((m) => m.type === 'delete'),
        ),
      };
      const scoped = [grants.get, grants.set, grants.delete].some((g) => g !== undefined && !g.all);
      const record = await requireStore(ctx, store);
      const nowMs = ctx.clock();
      const storageChecks = checks.map((check, index) => ({
        key: withIndex(index, 'checks', () => validateKey(check.key)),
        precondition: (check.revision === null
          ? { kind: 'absent' }
          : { kind: 'revision', revision: check.revision }) satisfies Precondition as Precondition,
      }));
      const mutations = body.mutations.map(
        (m, index): Mutation =>
          withIndex(index, 'mutations', () =>
            m.type === 'set'
              ? jsonWriteToPut(ctx, record, m, nowMs)
              : m.type === 'delete'
                ? { type: 'delete', key: validateKey(m.key) }
                : {
                    type: m.type,
                    key: validateKey(m.key),
                    operand: m.value,
                    defaultExpiresAt: resolveExpiry({}, record, nowMs),
                    newId: ctx.generateId(),
                  },
          ),
      );
      const render = (result: CommitResult): EngineResult => {
        if (!result.ok) {
          throw new RevisionMismatchError('An atomic check failed; nothing was written', {
            details: { failedKeys: result.failedKeys },
          });
        }
        return jsonResult({ ok: true, revision: result.revision });
      };
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) => {
        if (scoped) {
          const answer = recorder && { recorder, render };
          return render(await commitGuardedAtomic(ctx, store, storageChecks, mutations, grants, answer));
        }
        // One commit decides the outcome, a failed check included: its record goes with it.
        const request = { mode: 'atomic' as const, checks: storageChecks, mutations, nowMs: ctx.clock() };
        const idempotency = recorder?.hook(render);
        return render(
          await ctx.commit(store, idempotency === undefined ? request : { ...request, idempotency }),
        );
      });
    },
    valuesBody(['set', 'delete']),
  );
  return { bulkGet, bulkSet, bulkDelete, atomic };
}

function idRev(r: MutationResult): { id?: string; revision?: number } {
  const out: { id?: string; revision?: number } = {};
  if (r.id !== undefined) out.id = r.id;
  if (r.revision !== undefined) out.revision = r.revision;
  return out;
}

function itemError(key: string, error: KvError): { key: string; ok: false; error: string; message: string } {
  return { key, ok: false, error: error.code, message: error.message };
}

function bulkResult(results: Array<{ key: string; ok: boolean }>): {
  results: Array<{ key: string; ok: boolean }>;
  successfulKeyCount: number;
  unsuccessfulKeys: string[];
} {
  const unsuccessfulKeys = results.filter((r) => !r.ok).map((r) => r.key);
  return { results, successfulKeyCount: results.length - unsuccessfulKeys.length, unsuccessfulKeys };
}

/** Runs a per-item check of a whole-request validation, adding the item's index to the error. */
function withIndex<T>(index: number, field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (isKvError(error)) {
      throw new (error.constructor as typeof KvError)(`${field}[${index}]: ${error.message}`, {
        code: error.code,
        status: error.status,
        details: { ...error.details, index, list: field },
      });
    }
    throw error;
  }
}
