/**
 * Every route of core's route table (`ROUTES`, docs/protocol.md "Route summary") on the engine's app,
 * one module per resource. Each module holds its routes' `createRoute` definitions (method, path and
 * `operationId` from the table) next to their handlers; `common.ts` holds what they share. Imports go
 * one way: this index -> resource modules -> `common.ts`.
 *
 * @module
 */
import type { EngineContext } from '../context.js';
import * as bulk from './bulk.js';
import type { App } from './common.js';
import * as entries from './entries.js';
import * as listing from './listing.js';
import * as service from './service.js';
import * as signedUrls from './signed-urls.js';
import * as stores from './stores.js';
import * as tokens from './tokens.js';
import * as watch from './watch.js';

export { getEntry, putEntry } from './entries.js';

/**
 * Registers every route of the table on `app`, and the `/openapi.json` document of them (HEAD
 * documented next to GET for the raw-value reads). The order is the order of the document's paths.
 */
export function registerRoutes(app: App, ctx: EngineContext): void {
  service.register(app);
  stores.register(app, ctx);
  listing.register(app, ctx);
  entries.register(app, ctx);
  bulk.register(app, ctx);
  watch.register(app, ctx);
  signedUrls.register(app, ctx);
  tokens.register(app, ctx);
  service.registerDocument(app);
  entries.registerHeadDocs(app);
}
