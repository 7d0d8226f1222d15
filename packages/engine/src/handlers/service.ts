/**
 * The service routes of the table (docs/protocol.md "Route summary"): `GET /healthz` (liveness) and
 * `GET /openapi.json`, the OpenAPI 3.1 document generated from the route definitions of `handlers/`.
 * Both need no token.
 *
 * @module
 */
import { createRoute } from '@hono/zod-openapi';
import { ROUTES } from '@kv/core/protocol';
import { HealthSchema } from '../schemas.js';
import { type App, json, tableRoute } from './common.js';

const healthRoute = createRoute({
  ...tableRoute('health'),
  tags: ['service'],
  summary: 'Liveness probe',
  security: [],
  responses: { 200: json(HealthSchema, 'The engine answers') },
});

/** Registers `health`. */
export function register(app: App): void {
  app.openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));
}

/**
 * Registers `openapi`: the document of every route registered on `app` (it is generated at each
 * request, so routes registered later are in it too), with the bearer security scheme.
 */
export function registerDocument(app: App): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A kv token (docs/security.md); signed URLs carry `expires` and `signature` instead',
  });
  app.doc31(ROUTES.openapi.template, {
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
}
