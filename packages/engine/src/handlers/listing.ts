/**
 * Listing (docs/protocol.md "Listing"): one page of a store's entries in key byte order, with prefix,
 * NATS (`match`) or SQL LIKE (`like`) filters and sealed cursors, and the scopes in use.
 *
 * @module
 */

import { LIMITS, unionGrants, ValidationError, validateKeyPrefix, validateScope } from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize, defaultGrant, readFilter } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResult, toWireEntry } from '../http.js';
import { type ListRequest, listPage } from '../listing.js';
import { defineRoute, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { requireStore, storePath } from '../requests.js';
import { ListQuery, ListResponseSchema, ScopesResponseSchema, StoreParams } from '../schemas.js';
import { errors, json } from './common.js';

const TAG = 'entries';

const listEntriesDoc: RouteDoc = {
  tags: [TAG],
  summary: 'List entries (one page)',
  request: { params: StoreParams, query: ListQuery },
  responses: { 200: json(ListResponseSchema, 'One page, in key byte order'), ...errors(400, 401, 403, 404) },
};

const listScopesDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Scopes in use by live entries (AntiRaid list_scopes)',
  request: { params: StoreParams },
  responses: { 200: json(ScopesResponseSchema, 'Sorted scopes'), ...errors(400, 401, 403, 404) },
};

/** The listing routes: `listEntries`, `listScopes`. */
export function routes(ctx: EngineContext): Pick<HandlerTable, 'listEntries' | 'listScopes'> {
  const { storage } = ctx;

  const listEntries = defineRoute(listEntriesDoc, async (c) => {
    const store = storePath(c);
    const q = c.query as z.output<typeof ListQuery>;
    const limit = q.limit === undefined ? LIMITS.defaultListLimit : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) {
      throw new ValidationError(`limit must be an integer from 1 to ${LIMITS.maxListLimit}`, {
        details: { field: 'limit', reason: 'out_of_range', min: 1, max: LIMITS.maxListLimit },
      });
    }
    const req: ListRequest = {
      prefix: q.prefix === undefined ? '' : validateKeyPrefix(q.prefix),
      limit,
      reverse: q.reverse === 'true',
      values: q.values === 'true',
    };
    if (q.match !== undefined) req.match = q.match;
    if (q.like !== undefined) req.like = q.like;
    if (q.scope !== undefined) req.scope = validateScope(q.scope);
    if (q.startAfter !== undefined) req.startAfter = validateKeyPrefix(q.startAfter);
    if (q.cursor !== undefined) req.cursor = q.cursor;
    const action = req.match !== undefined || req.like !== undefined ? 'find' : 'list';
    const principal = c.principal;
    // A plain scope listing without values is AntiRaid `keys(scope)`: `kv.meta:keys` allows it too.
    const grant =
      action === 'list' && req.scope !== undefined && !req.values
        ? unionGrants(defaultGrant(principal, 'list', store), defaultGrant(principal, 'keys', store))
        : defaultGrant(principal, action, store);
    const granted = await authorize(
      ctx,
      c,
      action,
      { store, ...(req.scope === undefined ? {} : { scopes: [req.scope] }) },
      grant,
    );
    const filter = readFilter(granted);
    if (filter !== undefined) req.canRead = filter;
    const record = await requireStore(ctx, store);
    // Cursors go out sealed: the last key examined may be an entry this caller cannot read.
    const secret = record.signingSecret;
    const page = await listPage(storage, store, req, ctx.clock(), {
      encode: (position) => ctx.cursors.seal(secret, store, position),
      decode: (cursor) => ctx.cursors.open(secret, store, cursor),
    });
    const body: { items: unknown[]; cursor?: string; complete: boolean } = {
      items: page.items.map((e) => toWireEntry(e, req.values)),
      complete: page.complete,
    };
    if (page.cursor !== undefined) body.cursor = page.cursor;
    return jsonResult(body);
  });

  const listScopes = defineRoute(listScopesDoc, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'list_scopes', { store });
    return jsonResult({ items: await storage.listScopes(store, ctx.clock()) });
  });
  return { listEntries, listScopes };
}
