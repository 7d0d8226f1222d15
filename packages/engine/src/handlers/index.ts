/**
 * Every route a server answers (core's `SERVER_ROUTES`: docs/protocol.md "Route summary" and the
 * compatibility APIs of docs/compat.md) with its handler, one
 * module per resource; the compatibility APIs' routes (`compat-*.ts`) call the native handlers. Each module holds its routes' descriptions (OpenAPI, with the zod schemas the
 * pipeline validates with) next to their handlers; `common.ts` holds what they share. Imports go one
 * way: this index -> resource modules -> `common.ts`.
 *
 * @module
 */
import type { ServerRouteName } from '@kv/core/protocol';
import type { EngineContext } from '../context.js';
import type { HandlerTable } from '../pipeline.js';
import * as bulk from './bulk.js';
import * as compatApify from './compat-apify.js';
import * as compatCloudflare from './compat-cloudflare.js';
import * as counters from './counters.js';
import * as entries from './entries.js';
import * as listing from './listing.js';
import * as queue from './queue.js';
import * as service from './service.js';
import * as signedUrls from './signed-urls.js';
import * as stores from './stores.js';
import * as tokens from './tokens.js';
import * as watch from './watch.js';

/**
 * The handler table: every route of the table (a missing one does not compile). The order of the
 * modules is the order of `/openapi.json`'s paths.
 */
export function handlerTable(ctx: EngineContext): HandlerTable {
  let table: HandlerTable | undefined;
  const routes = {
    ...service.routes(),
    ...stores.routes(ctx),
    ...listing.routes(ctx),
    ...entries.routes(ctx),
    ...counters.routes(ctx),
    ...bulk.routes(ctx),
    ...queue.routes(ctx),
    ...watch.routes(ctx),
    ...signedUrls.routes(ctx),
    ...tokens.routes(ctx),
  };
  // The compatibility APIs answer through the native handlers (docs/compat.md).
  const compat = {
    ...compatCloudflare.routes(ctx, routes),
    ...compatApify.routes(ctx, routes),
  };
  const order = [...Object.keys(routes), ...Object.keys(compat)] as ServerRouteName[];
  table = { ...routes, ...compat, openapi: service.openapiRoute(order, () => table as HandlerTable) };
  return table;
}
