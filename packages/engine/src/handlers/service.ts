/**
 * The service routes of the table (docs/protocol.md "Route summary"): `GET /healthz` (liveness) and
 * `GET /openapi.json`, the OpenAPI 3.1 document generated from the route descriptions of `handlers/`
 * (the same zod schemas the pipeline validates with). Both need no token.
 *
 * @module
 */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { SERVER_ROUTES, type ServerRouteName } from '@kv/core/protocol';
import { jsonResult } from '../http.js';
import { defineRoute, type HandlerTable, type RouteDoc, type RouteSpec } from '../pipeline.js';
import { HealthSchema } from '../schemas.js';
import { json } from './common.js';

const healthDoc: RouteDoc = {
  tags: ['service'],
  summary: 'Liveness probe',
  security: [],
  responses: { 200: json(HealthSchema, 'The engine answers') },
};

/** `health`. */
export function routes(): Pick<HandlerTable, 'health'> {
  return { health: defineRoute(healthDoc, async () => jsonResult({ ok: true })) };
}

/**
 * `openapi`: the document of every route of `table` but the hidden ones, in the order given (HEAD
 * documented after every other operation, where the route has a `headDoc`), with the bearer security
 * scheme. Built once, at the first request.
 *
 * @param order - the routes in document order (`SERVER_ROUTES` names)
 * @param table - every route's spec
 */
export function openapiRoute(order: readonly ServerRouteName[], table: () => HandlerTable): RouteSpec {
  let document: string | undefined;
  const build = (): string => {
    const registry = new OpenAPIRegistry();
    const specs = order.map((name) => [name, table()[name]] as const);
    for (const [name, spec] of specs) {
      if (spec.hidden === true) continue;
      const route = SERVER_ROUTES[name];
      registry.registerPath({
        method: route.method.toLowerCase() as Lowercase<typeof route.method>,
        path: route.template,
        operationId: name,
        ...spec.doc,
      });
    }
    for (const [name, spec] of specs) {
      if (spec.headDoc === undefined) continue;
      registry.registerPath({ method: 'head', path: SERVER_ROUTES[name].template, ...spec.headDoc });
    }
    registry.registerComponent('securitySchemes', 'bearer', {
      type: 'http',
      scheme: 'bearer',
      description: 'A kv token (docs/security.md); signed URLs carry `expires` and `signature` instead',
    });
    const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
      openapi: '3.1.0',
      security: [{ bearer: [] }],
      info: {
        title: 'kv',
        version: '1',
        description:
          'The kv key-value protocol. docs/protocol.md is the normative text; this document is generated from the schemas the engine validates requests with.',
      },
      servers: [{ url: '/' }],
    });
    return JSON.stringify(doc);
  };
  return defineRoute(
    { responses: {} },
    async () => {
      document ??= build();
      return { status: 200, headers: { 'content-type': 'application/json' }, body: document };
    },
    undefined,
    { hidden: true },
  );
}
