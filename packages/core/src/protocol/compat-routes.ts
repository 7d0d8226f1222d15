/**
 * The routes of the compatibility APIs the server speaks besides its own (docs/compat.md): the Cloudflare
 * Workers KV REST API (API v4, `/client/v4/accounts/{accountId}/storage/kv/namespaces/...`) and the
 * Apify API v2 key-value stores (`/v2/key-value-stores/...`). {@link SERVER_ROUTES} is the table a server
 * answers: `ROUTES` and these. The engine's router ({@link matchServerRoute}), its handler table,
 * `/openapi.json` and the server's metric labels derive from it, so a compat route is covered like any
 * route; clients build and recognize only `ROUTES`, so their bundles carry none of this file
 * (docs/architecture.md "Decisions").
 *
 * Route names start with `cf` (Cloudflare) or `apify`. A namespace (Cloudflare) or store (Apify) is a kv
 * store, addressed by its name.
 *
 * @module
 */
import { createRouteMatcher, ROUTES, type RouteDef, type RouteLookup } from './routes.js';

/**
 * The Cloudflare Workers KV REST API (developers.cloudflare.com/api "Workers KV"): namespaces, keys,
 * values, metadata and bulk operations. The account id is accepted and ignored.
 */
export const CLOUDFLARE_ROUTES = {
  cfListNamespaces: {
    name: 'cfListNamespaces',
    method: 'GET',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces',
  },
  cfCreateNamespace: {
    name: 'cfCreateNamespace',
    method: 'POST',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces',
  },
  cfGetNamespace: {
    name: 'cfGetNamespace',
    method: 'GET',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}',
  },
  cfRenameNamespace: {
    name: 'cfRenameNamespace',
    method: 'PUT',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}',
  },
  cfDeleteNamespace: {
    name: 'cfDeleteNamespace',
    method: 'DELETE',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}',
  },
  cfListKeys: {
    name: 'cfListKeys',
    method: 'GET',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/keys',
  },
  cfGetValue: {
    name: 'cfGetValue',
    method: 'GET',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/values/{keyName}',
  },
  cfPutValue: {
    name: 'cfPutValue',
    method: 'PUT',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/values/{keyName}',
  },
  cfDeleteValue: {
    name: 'cfDeleteValue',
    method: 'DELETE',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/values/{keyName}',
  },
  cfGetMetadata: {
    name: 'cfGetMetadata',
    method: 'GET',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/metadata/{keyName}',
  },
  cfBulkPut: {
    name: 'cfBulkPut',
    method: 'PUT',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk',
  },
  cfBulkDeleteLegacy: {
    name: 'cfBulkDeleteLegacy',
    method: 'DELETE',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk',
  },
  cfBulkDelete: {
    name: 'cfBulkDelete',
    method: 'POST',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk/delete',
  },
  cfBulkGet: {
    name: 'cfBulkGet',
    method: 'POST',
    template: '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk/get',
  },
} as const;

/**
 * The Apify API v2 key-value stores (docs.apify.com/api/v2 "Key-value stores"): stores, keys and records.
 * The record routes' `{recordKey}` takes the rest of the path (`greedy`): `apify-client` puts keys into
 * the path unencoded, so a key holding `/` arrives as several segments.
 */
export const APIFY_ROUTES = {
  apifyListStores: { name: 'apifyListStores', method: 'GET', template: '/v2/key-value-stores' },
  apifyGetOrCreateStore: { name: 'apifyGetOrCreateStore', method: 'POST', template: '/v2/key-value-stores' },
  apifyGetStore: { name: 'apifyGetStore', method: 'GET', template: '/v2/key-value-stores/{storeId}' },
  apifyUpdateStore: { name: 'apifyUpdateStore', method: 'PUT', template: '/v2/key-value-stores/{storeId}' },
  apifyDeleteStore: {
    name: 'apifyDeleteStore',
    method: 'DELETE',
    template: '/v2/key-value-stores/{storeId}',
  },
  apifyListKeys: { name: 'apifyListKeys', method: 'GET', template: '/v2/key-value-stores/{storeId}/keys' },
  apifyGetRecord: {
    name: 'apifyGetRecord',
    method: 'GET',
    template: '/v2/key-value-stores/{storeId}/records/{recordKey}',
    greedy: true,
  },
  apifyPutRecord: {
    name: 'apifyPutRecord',
    method: 'PUT',
    template: '/v2/key-value-stores/{storeId}/records/{recordKey}',
    greedy: true,
  },
  apifyDeleteRecord: {
    name: 'apifyDeleteRecord',
    method: 'DELETE',
    template: '/v2/key-value-stores/{storeId}/records/{recordKey}',
    greedy: true,
  },
} as const;

/** The name of a compatibility API route (Cloudflare or Apify). */
export type CompatRouteName = keyof typeof CLOUDFLARE_ROUTES | keyof typeof APIFY_ROUTES;

/** Every route a server answers, by name: kv's own (`ROUTES`) and the compatibility APIs'. */
export const SERVER_ROUTES: typeof ROUTES & typeof CLOUDFLARE_ROUTES & typeof APIFY_ROUTES = {
  ...ROUTES,
  ...CLOUDFLARE_ROUTES,
  ...APIFY_ROUTES,
};

/** The name of a route of {@link SERVER_ROUTES}. */
export type ServerRouteName = keyof typeof SERVER_ROUTES;

const serverMatcher = /* @__PURE__ */ createRouteMatcher(Object.values(SERVER_ROUTES) as RouteDef[]);

/**
 * `matchRoute` over {@link SERVER_ROUTES}: what a server routes with (the engine's pipeline, the server's
 * metric labels). Same answers as `matchRoute` for kv's own routes.
 *
 * @param method - the request method, upper case
 * @param path - the raw path (no query), as received
 * @returns the route and its decoded parameters, or why there is none (405, 404, 400)
 */
export function matchServerRoute(method: string, path: string): RouteLookup {
  return serverMatcher(method, path);
}
