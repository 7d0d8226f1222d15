/**
 * Durable queues (docs/protocol.md "Queues"; Deno KV `enqueue`/`listenQueue`, over the network):
 * `POST .../queue` enqueues, `POST .../queue/lease` delivers (long-polling with `waitMs`),
 * `POST .../queue/{id}/ack` and `.../nack` settle a delivery, `POST .../queue/{id}/extend` keeps holding
 * one (SQS `ChangeMessageVisibility`), `GET .../queue` counts. The rules are in
 * `queue.ts`; this module checks requests, capabilities and limits.
 *
 * Capabilities: `enqueue` for enqueue (and `set` on each key of `keysIfUndelivered`, unscoped: the server
 * writes them later on its own authority), `dequeue` for lease/ack/nack/extend, either for the counts. A scoped
 * grant never allows a queue action (messages have no scope).
 *
 * @module
 */
import {
  BYTES_CONTENT_TYPE,
  base64ToBytes,
  bytesToBase64,
  LIMITS,
  type ScopeGrant,
  unionGrants,
  ValidationError,
  validateKeysIfUndelivered,
} from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize, canWrite, defaultGrant, forbidden } from '../access.js';
import type { EngineAction, EngineContext } from '../context.js';
import { iso, jsonResult } from '../http.js';
import {
  defineRoute,
  type EngineResult,
  type HandlerTable,
  type RequestContext,
  type RouteDoc,
} from '../pipeline.js';
import { DEFAULT_BACKOFF_SCHEDULE_MS, DEFAULT_VISIBILITY_TIMEOUT_MS } from '../queue.js';
import {
  effectiveMaxValueBytes,
  requireStore,
  storePath,
  validateContentType,
  valueTooLarge,
} from '../requests.js';
import {
  AckBody,
  EnqueueBody,
  EnqueueResultSchema,
  ExtendBody,
  ExtendResultSchema,
  IdempotencyHeaders,
  LeaseBody,
  LeaseResultSchema,
  MessageParams,
  NackBody,
  QueueStatsSchema,
  StoreParams,
} from '../schemas.js';
import { bodyLimits, errors, idempotent, json, jsonRequest } from './common.js';

const TAG = 'queues';

const enqueueDoc: RouteDoc = {
  tags: [TAG],
  summary: "Add a message to the store's durable queue (Deno KV enqueue)",
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(EnqueueBody) },
  responses: {
    201: json(EnqueueResultSchema, 'Enqueued'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const queueStatsDoc: RouteDoc = {
  tags: [TAG],
  summary: "Counts of the store's queue: ready, delayed, in flight",
  request: { params: StoreParams },
  responses: { 200: json(QueueStatsSchema, 'The counts now'), ...errors(400, 401, 403, 404) },
};

const leaseDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Lease due messages (long-polls with waitMs); each must be acked or nacked before its lease ends',
  request: { params: StoreParams, body: jsonRequest(LeaseBody) },
  responses: {
    200: json(LeaseResultSchema, 'The leased messages (none when nothing became due in waitMs)'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const ackDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Acknowledge a delivery: the message is deleted',
  request: { params: MessageParams, body: jsonRequest(AckBody) },
  responses: {
    204: { description: 'Acknowledged' },
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const nackDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Give a delivery back as failed: redelivered after the next backoff step, or dead-lettered',
  request: { params: MessageParams, body: jsonRequest(NackBody) },
  responses: {
    204: { description: 'Given back' },
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const extendDoc: RouteDoc = {
  tags: [TAG],
  summary:
    "Extend a delivery's lease to visibilityTimeoutMs from now (SQS ChangeMessageVisibility): a long handler keeps its message",
  request: { params: MessageParams, body: jsonRequest(ExtendBody) },
  responses: {
    200: json(ExtendResultSchema, 'Extended: when the lease now ends'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const NO_CONTENT: EngineResult = { status: 204, headers: {} };

/** The grant of a queue action: only an unscoped one counts (messages have no scope). */
function requireUnscoped(grant: ScopeGrant, action: EngineAction): void {
  if (grant === null || !grant.all) throw forbidden(action);
}

/** The store and message id of `.../queue/{id}/...`. */
function messagePath(c: RequestContext): { store: string; id: string } {
  const store = storePath(c);
  const id = c.params.id ?? '';
  if (id.length === 0 || id.length > 256) {
    throw new ValidationError('Invalid message id', { details: { field: 'id', reason: 'invalid_format' } });
  }
  return { store, id };
}

/**
 * The queue routes: `enqueue`, `queueStats`, `leaseMessages`, `ackMessage`, `nackMessage`, `extendLease`.
 */
export function routes(
  ctx: EngineContext,
): Pick<
  HandlerTable,
  'enqueue' | 'queueStats' | 'leaseMessages' | 'ackMessage' | 'nackMessage' | 'extendLease'
> {
  const { small } = bodyLimits(ctx);
  // An enqueue body carries a value of at most 64 KiB, base64 (4/3) with its options.
  const enqueueLimit = {
    ...small(['enqueue']),
    limitBytes: Math.min(ctx.maxJsonBodyBytes, Math.ceil((LIMITS.maxQueueValueBytes * 4) / 3) + 16 * 1024),
  };

  const enqueue = defineRoute(
    enqueueDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof EnqueueBody>;
      const keysIfUndelivered =
        body.keysIfUndelivered === undefined ? [] : validateKeysIfUndelivered(body.keysIfUndelivered);
      requireUnscoped(await authorize(ctx, c, 'enqueue', { store, keys: keysIfUndelivered }), 'enqueue');
      if (keysIfUndelivered.length > 0) {
        // The dead letter is written later by the server: the caller must be allowed that write now.
        const setGrant = defaultGrant(c.principal, 'set', store);
        if (setGrant === null || !canWrite(setGrant, [])) throw forbidden('set');
      }
      const record = await requireStore(ctx, store);
      const value = base64ToBytes(body.value);
      const limit = Math.min(effectiveMaxValueBytes(ctx, record), LIMITS.maxQueueValueBytes);
      if (value.byteLength > limit) throw valueTooLarge(value.byteLength, limit);
      const input = {
        value,
        contentType: validateContentType(body.contentType ?? BYTES_CONTENT_TYPE),
        delayMs: body.delayMs ?? 0,
        keysIfUndelivered,
        backoffScheduleMs: body.backoffScheduleMs ?? [...DEFAULT_BACKOFF_SCHEDULE_MS],
      };
      const render = (id: string): EngineResult => jsonResult({ id }, 201);
      return idempotent(ctx, c, store, c.bodyBytes, async (recorder) => {
        const id = await ctx.queue.enqueue(
          store,
          input,
          recorder &&
            ((messageId) => ({
              scopeKey: recorder.scopeKey,
              record: () => recorder.answer(render(messageId)),
            })),
        );
        return render(id);
      });
    },
    enqueueLimit,
  );

  const queueStats = defineRoute(queueStatsDoc, async (c) => {
    const store = storePath(c);
    const principal = c.principal;
    const either = unionGrants(
      defaultGrant(principal, 'enqueue', store),
      defaultGrant(principal, 'dequeue', store),
    );
    requireUnscoped(await authorize(ctx, c, 'dequeue', { store }, either), 'dequeue');
    const counts = await ctx.queue.stats(store);
    return jsonResult({ ready: counts.ready, delayed: counts.delayed, inFlight: counts.inFlight });
  });

  const leaseMessages = defineRoute(
    leaseDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof LeaseBody>;
      requireUnscoped(await authorize(ctx, c, 'dequeue', { store }), 'dequeue');
      const record = await requireStore(ctx, store);
      const leased = await ctx.queue.lease(store, {
        limit: body.limit ?? 1,
        visibilityTimeoutMs: body.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS,
        waitMs: body.waitMs ?? 0,
        signal: c.signal,
        defaultTtlMs: record.defaultTtlMs,
      });
      return jsonResult({
        messages: leased.map((m) => ({
          id: m.id,
          leaseId: m.leaseId as string,
          value: bytesToBase64(m.value),
          encoding: 'base64',
          contentType: m.contentType,
          attempt: m.attempts,
          enqueuedAt: iso(m.enqueuedAt),
          leaseExpiresAt: iso(m.leaseExpiresAt as number),
        })),
      });
    },
    small(['dequeue']),
  );

  const ackMessage = defineRoute(
    ackDoc,
    async (c) => {
      const { store, id } = messagePath(c);
      const body = c.body as z.output<typeof AckBody>;
      requireUnscoped(await authorize(ctx, c, 'dequeue', { store }), 'dequeue');
      await ctx.queue.ack(store, id, body.leaseId);
      return NO_CONTENT;
    },
    small(['dequeue']),
  );

  const nackMessage = defineRoute(
    nackDoc,
    async (c) => {
      const { store, id } = messagePath(c);
      const body = c.body as z.output<typeof NackBody>;
      requireUnscoped(await authorize(ctx, c, 'dequeue', { store }), 'dequeue');
      const record = await requireStore(ctx, store);
      await ctx.queue.nack(store, id, body.leaseId, record.defaultTtlMs);
      return NO_CONTENT;
    },
    small(['dequeue']),
  );

  const extendLease = defineRoute(
    extendDoc,
    async (c) => {
      const { store, id } = messagePath(c);
      const body = c.body as z.output<typeof ExtendBody>;
      requireUnscoped(await authorize(ctx, c, 'dequeue', { store }), 'dequeue');
      const leaseExpiresAt = await ctx.queue.extend(
        store,
        id,
        body.leaseId,
        body.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS,
      );
      return jsonResult({ leaseExpiresAt: iso(leaseExpiresAt) });
    },
    small(['dequeue']),
  );

  return { enqueue, queueStats, leaseMessages, ackMessage, nackMessage, extendLease };
}
