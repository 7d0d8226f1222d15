/**
 * Stores (docs/protocol.md "Stores"): list, create, read, change and delete, `kv.admin:stores`.
 *
 * @module
 */

import { LIMITS, ValidationError, validateStoreConfig, validateStoreName } from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize, storeReadGrant } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResult, toStoreInfo } from '../http.js';
import { defineRoute, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { requireStore, storePath } from '../requests.js';
import {
  CreateStoreBody,
  DeleteStoreResultSchema,
  IdempotencyHeaders,
  StoreInfoSchema,
  StoreListSchema,
  StoreParams,
  UpdateStoreBody,
} from '../schemas.js';
import { bodyLimits, EMPTY, errors, idempotent, json, jsonRequest, randomSecret } from './common.js';

const TAG = 'stores';

const listStoresDoc: RouteDoc = {
  tags: [TAG],
  summary: 'List stores',
  responses: { 200: json(StoreListSchema, 'Every store, ordered by name'), ...errors(401, 403) },
};

const createStoreDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Create a store',
  request: { headers: IdempotencyHeaders, body: jsonRequest(CreateStoreBody) },
  responses: {
    201: json(StoreInfoSchema, 'Created'),
    ...errors(400, 401, 403, 412, 413, 415),
  },
};

const getStoreDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Get a store with its settings and stats',
  request: { params: StoreParams },
  responses: { 200: json(StoreInfoSchema, 'The store'), ...errors(400, 401, 403, 404) },
};

const updateStoreDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Change store settings',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(UpdateStoreBody) },
  responses: { 200: json(StoreInfoSchema, 'The updated store'), ...errors(400, 401, 403, 404, 413, 415) },
};

const deleteStoreDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Delete a store and all its data',
  request: { params: StoreParams, headers: IdempotencyHeaders },
  responses: { 200: json(DeleteStoreResultSchema, 'Whether the store existed'), ...errors(400, 401, 403) },
};

/** The store routes: `listStores`, `createStore`, `getStore`, `updateStore`, `deleteStore`. */
export function routes(
  ctx: EngineContext,
): Pick<HandlerTable, 'listStores' | 'createStore' | 'getStore' | 'updateStore' | 'deleteStore'> {
  const { storage } = ctx;
  const { small } = bodyLimits(ctx);

  const listStores = defineRoute(listStoresDoc, async (c) => {
    await authorize(ctx, c, 'stores');
    const stores = await storage.listStores();
    return jsonResult({ items: stores.map(toStoreInfo) });
  });

  const createStore = defineRoute(
    createStoreDoc,
    async (c) => {
      const body = c.body as z.output<typeof CreateStoreBody>;
      const name = validateStoreName(body.name);
      await authorize(ctx, c, 'stores', { store: name });
      const { name: _n, ...settings } = body;
      const config = validateStoreConfig(settings, false);
      const maxValueBytes = checkStoreMaxValue(ctx, settings.maxValueBytes);
      return idempotent(ctx, c, '', c.bodyBytes, async () => {
        const record = await storage.createStore(
          name,
          {
            history: config.history ?? LIMITS.minHistory,
            defaultTtlMs: config.defaultTtlMs ?? null,
            maxValueBytes: maxValueBytes ?? Math.min(LIMITS.defaultMaxValueBytes, ctx.maxValueBytes),
          },
          ctx.clock(),
          randomSecret(),
        );
        return jsonResult(toStoreInfo(record), 201);
      });
    },
    small(['stores'], false),
  );

  const getStore = defineRoute(getStoreDoc, async (c) => {
    const store = storePath(c);
    // kv.admin:stores, or any capability on this store (a token may look at the store it uses).
    await authorize(ctx, c, 'stores', { store }, storeReadGrant(c.principal, store));
    return jsonResult(toStoreInfo(await requireStore(ctx, store)));
  });

  const updateStore = defineRoute(
    updateStoreDoc,
    async (c) => {
      const store = storePath(c);
      await authorize(ctx, c, 'stores', { store });
      const body = c.body as z.output<typeof UpdateStoreBody>;
      const patch = validateStoreConfig(body, true);
      checkStoreMaxValue(ctx, patch.maxValueBytes);
      return idempotent(ctx, c, store, c.bodyBytes, async () => {
        const record = await storage.updateStore(store, patch, ctx.clock());
        return jsonResult(toStoreInfo(record));
      });
    },
    small(['stores']),
  );

  const deleteStore = defineRoute(deleteStoreDoc, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    return idempotent(ctx, c, store, EMPTY, async () => {
      const deleted = await storage.deleteStore(store);
      return jsonResult({ deleted });
    });
  });
  return { listStores, createStore, getStore, updateStore, deleteStore };
}

/**
 * Checks an explicit store `maxValueBytes` against the server-wide cap.
 *
 * @throws {ValidationError} when it is above the cap
 */
function checkStoreMaxValue(ctx: EngineContext, maxValueBytes: number | undefined): number | undefined {
  if (maxValueBytes !== undefined && maxValueBytes > ctx.maxValueBytes) {
    throw new ValidationError(`maxValueBytes may be at most ${ctx.maxValueBytes} on this server`, {
      details: { field: 'maxValueBytes', reason: 'out_of_range', max: ctx.maxValueBytes },
    });
  }
  return maxValueBytes;
}
