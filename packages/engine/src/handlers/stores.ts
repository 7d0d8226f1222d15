/**
 * Stores (docs/protocol.md "Stores"): list, create, read, change and delete, `kv.admin:stores`.
 *
 * @module
 */
import { createRoute } from '@hono/zod-openapi';
import { LIMITS, ValidationError, validateStoreConfig, validateStoreName } from '@kv/core/protocol';
import { authorize, storeReadGrant } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResponse, toStoreInfo } from '../http.js';
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
import {
  type App,
  bodyLimits,
  EMPTY,
  errors,
  idempotent,
  json,
  jsonRequest,
  randomSecret,
  registerRoute,
  tableRoute,
  valid,
} from './common.js';

const TAG = 'stores';

const listStoresRoute = createRoute({
  ...tableRoute('listStores'),
  tags: [TAG],
  summary: 'List stores',
  responses: { 200: json(StoreListSchema, 'Every store, ordered by name'), ...errors(401, 403) },
});

const createStoreRoute = createRoute({
  ...tableRoute('createStore'),
  tags: [TAG],
  summary: 'Create a store',
  request: { headers: IdempotencyHeaders, body: jsonRequest(CreateStoreBody) },
  responses: {
    201: json(StoreInfoSchema, 'Created'),
    ...errors(400, 401, 403, 412, 413, 415),
  },
});

const getStoreRoute = createRoute({
  ...tableRoute('getStore'),
  tags: [TAG],
  summary: 'Get a store with its settings and stats',
  request: { params: StoreParams },
  responses: { 200: json(StoreInfoSchema, 'The store'), ...errors(400, 401, 403, 404) },
});

const updateStoreRoute = createRoute({
  ...tableRoute('updateStore'),
  tags: [TAG],
  summary: 'Change store settings',
  request: { params: StoreParams, headers: IdempotencyHeaders, body: jsonRequest(UpdateStoreBody) },
  responses: { 200: json(StoreInfoSchema, 'The updated store'), ...errors(400, 401, 403, 404, 413, 415) },
});

const deleteStoreRoute = createRoute({
  ...tableRoute('deleteStore'),
  tags: [TAG],
  summary: 'Delete a store and all its data',
  request: { params: StoreParams, headers: IdempotencyHeaders },
  responses: { 200: json(DeleteStoreResultSchema, 'Whether the store existed'), ...errors(400, 401, 403) },
});

/** Registers the store routes: `listStores`, `createStore`, `getStore`, `updateStore`, `deleteStore`. */
export function register(app: App, ctx: EngineContext): void {
  const { storage } = ctx;
  const { small } = bodyLimits(ctx);

  registerRoute(app, listStoresRoute, async (c) => {
    await authorize(ctx, c, 'stores');
    const stores = await storage.listStores();
    return jsonResponse({ items: stores.map(toStoreInfo) });
  });

  registerRoute(
    app,
    createStoreRoute,
    async (c) => {
      const body = valid<typeof CreateStoreBody>(c, 'json');
      const name = validateStoreName(body.name);
      await authorize(ctx, c, 'stores', { store: name });
      const { name: _n, ...settings } = body;
      const config = validateStoreConfig(settings, false);
      const maxValueBytes = checkStoreMaxValue(ctx, settings.maxValueBytes);
      return idempotent(ctx, c, '', c.get('bodyBytes'), async () => {
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
        return jsonResponse(toStoreInfo(record), 201);
      });
    },
    small(['stores'], false),
  );

  registerRoute(app, getStoreRoute, async (c) => {
    const store = storePath(c);
    // kv.admin:stores, or any capability on this store (a token may look at the store it uses).
    await authorize(ctx, c, 'stores', { store }, storeReadGrant(c.get('principal'), store));
    return jsonResponse(toStoreInfo(await requireStore(ctx, store)));
  });

  registerRoute(
    app,
    updateStoreRoute,
    async (c) => {
      const store = storePath(c);
      await authorize(ctx, c, 'stores', { store });
      const body = valid<typeof UpdateStoreBody>(c, 'json');
      const patch = validateStoreConfig(body, true);
      checkStoreMaxValue(ctx, patch.maxValueBytes);
      return idempotent(ctx, c, store, c.get('bodyBytes'), async () => {
        const record = await storage.updateStore(store, patch, ctx.clock());
        return jsonResponse(toStoreInfo(record));
      });
    },
    small(['stores']),
  );

  registerRoute(app, deleteStoreRoute, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    return idempotent(ctx, c, store, EMPTY, async () => {
      const deleted = await storage.deleteStore(store);
      return jsonResponse({ deleted });
    });
  });
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
