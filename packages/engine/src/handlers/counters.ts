/**
 * Counters (docs/protocol.md "Counters"): `POST .../entries/{key}/increment` adds a safe integer to the
 * key's integer value in one commit (the `sum` mutation of `applyCommit`), creating the key at the delta
 * when it is missing; retried with the same `Idempotency-Key`, it is applied once.
 *
 * @module
 */
import { validateMetadata, validateScopes } from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResult } from '../http.js';
import { defineRoute, type EngineResult, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { entryPath, requireStore, resolveExpiry } from '../requests.js';
import { EntryParams, IdempotencyHeaders, IncrementBody, IncrementResultSchema } from '../schemas.js';
import type { MutationResult, NumericOp } from '../storage.js';
import { commitGuardedOne } from '../writes.js';
import { bodyLimits, errors, idempotent, json, jsonRequest } from './common.js';

const incrementDoc: RouteDoc = {
  tags: ['entries'],
  summary: "Add to a key's integer value atomically (Deno KV sum); a missing key starts at the delta",
  request: { params: EntryParams, headers: IdempotencyHeaders, body: jsonRequest(IncrementBody) },
  responses: {
    200: json(IncrementResultSchema, 'The value after the increment and the revision of the write'),
    ...errors(400, 401, 403, 404, 413, 415, 503),
  },
};

/** The counter routes: `increment`. */
export function routes(ctx: EngineContext): Pick<HandlerTable, 'increment'> {
  const { small } = bodyLimits(ctx);
  const increment = defineRoute(
    incrementDoc,
    async (c) => {
      const { store, key } = entryPath(c);
      const body = c.body as z.output<typeof IncrementBody>;
      const grant = await authorize(ctx, c, 'set', { store, key });
      const record = await requireStore(ctx, store);
      const nowMs = ctx.clock();
      const explicit = body.ttlMs !== undefined || body.expiresAt !== undefined;
      const op: NumericOp = {
        type: 'sum',
        key,
        operand: body.delta ?? 1,
        defaultExpiresAt: resolveExpiry({}, record, nowMs),
        newId: ctx.generateId(),
      };
      if (body.floor !== undefined) op.floor = body.floor;
      if (explicit)
        op.expiresAt = resolveExpiry({ ttlMs: body.ttlMs, expiresAt: body.expiresAt }, record, nowMs);
      if (body.metadata !== undefined) op.metadata = validateMetadata(body.metadata);
      if (body.scopes !== undefined) op.scopes = validateScopes(body.scopes);
      const render = (result: MutationResult): EngineResult =>
        jsonResult({ value: result.number as number, revision: result.revision as number });
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) =>
        render(await commitGuardedOne(ctx, store, op, grant, recorder && { recorder, render })),
      );
    },
    small(['set']),
  );
  return { increment };
}
