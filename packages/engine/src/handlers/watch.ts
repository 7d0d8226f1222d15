/**
 * Watch (docs/protocol.md "Watch"): Server-Sent Events over a store's change log, resumable by revision
 * (`Last-Event-ID`), filtered by key, prefix or NATS pattern, and by the caller's scopes.
 *
 * @module
 */
import { z } from 'zod';
import { authorize, readFilter } from '../access.js';
import { authenticate } from '../auth.js';
import type { EngineContext } from '../context.js';
import { defineRoute, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { requireStore, storePath } from '../requests.js';
import { StoreParams } from '../schemas.js';
import { openWatchStream, parseWatchQuery } from '../watch.js';
import { errors } from './common.js';

const watchDoc: RouteDoc = {
  tags: ['watch'],
  summary: 'Server-Sent Events stream of changes: put, delete, purge, expire (id: revision), resume, ready',
  request: {
    params: StoreParams,
    query: z.object({
      match: z.string().exactOptional().openapi({ description: 'NATS wildcard filter on keys' }),
      prefix: z.string().exactOptional().openapi({ description: 'Key prefix filter' }),
      key: z.string().exactOptional().openapi({ description: 'Single-key filter' }),
      fromRevision: z
        .string()
        .exactOptional()
        .openapi({ description: 'Deliver every write after this revision (Last-Event-ID does the same)' }),
      includeHistory: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: replay each key history first' }),
      updatesOnly: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: only writes after the watch starts' }),
      resume: z
        .string()
        .exactOptional()
        .openapi({ description: 'true: first the live entries marked resume' }),
    }),
  },
  responses: {
    200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...errors(400, 401, 403, 404, 410),
  },
};

/** The `watch` route. */
export function routes(ctx: EngineContext): Pick<HandlerTable, 'watch'> {
  const { storage } = ctx;

  const watch = defineRoute(watchDoc, async (c) => {
    const store = storePath(c);
    const query = parseWatchQuery(
      new URL(c.request.url, 'http://kv.invalid'),
      c.header('last-event-id') ?? null,
    );
    const grant = await authorize(ctx, c, 'watch', { store });
    await requireStore(ctx, store);
    const filter = readFilter(grant);
    const tokens = ctx.tokens;
    const authorization = c.header('authorization') ?? null;
    const revalidate =
      tokens !== undefined && c.principal?.via === 'token'
        ? async (): Promise<void> => {
            await authenticate(tokens, authorization, ctx.clock());
          }
        : undefined;
    const body = await openWatchStream({
      storage,
      hub: ctx.watchHub,
      store,
      query,
      signal: c.signal,
      now: ctx.clock,
      options: ctx.watchOptions,
      // A scoped caller sees the events of the entries it may read (tombstones keep their scopes).
      ...(filter === undefined ? {} : { canRead: filter }),
      // A token revoked or expired while watching ends the stream at its next wake-up.
      ...(revalidate === undefined ? {} : { revalidate }),
    });
    return {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
      body,
    };
  });
  return { watch };
}
