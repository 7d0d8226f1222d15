import { ROUTES, type RouteDef, SERVER_ROUTES } from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import { setup } from '../test/harness.js';

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        operationId?: string;
        responses: Record<string, unknown>;
        parameters?: Array<{ name: string; in: string }>;
        requestBody?: { content: Record<string, unknown> };
      }
    >
  >;
  components?: { schemas?: Record<string, unknown> };
}

/**
 * Every route of docs/protocol.md and of the compatibility APIs with its methods (HEAD documented next to
 * GET for raw reads).
 */
const EXPECTED: Record<string, string[]> = {
  '/healthz': ['get'],
  '/v1/stores': ['get', 'post'],
  '/v1/stores/{store}': ['get', 'patch', 'delete'],
  '/v1/stores/{store}/entries': ['get'],
  '/v1/stores/{store}/entries/{key}': ['get', 'head', 'put', 'delete'],
  '/v1/stores/{store}/entries/{key}/history': ['get'],
  '/v1/stores/{store}/entries/{key}/expiry': ['put'],
  '/v1/stores/{store}/entries/{key}/increment': ['post'],
  '/v1/stores/{store}/ids/{id}': ['get', 'head'],
  '/v1/stores/{store}/scopes': ['get'],
  '/v1/stores/{store}/bulk/get': ['post'],
  '/v1/stores/{store}/bulk/set': ['post'],
  '/v1/stores/{store}/bulk/delete': ['post'],
  '/v1/stores/{store}/atomic': ['post'],
  '/v1/stores/{store}/queue': ['get', 'post'],
  '/v1/stores/{store}/queue/lease': ['post'],
  '/v1/stores/{store}/queue/{id}/ack': ['post'],
  '/v1/stores/{store}/queue/{id}/nack': ['post'],
  '/v1/stores/{store}/queue/{id}/extend': ['post'],
  '/v1/stores/{store}/watch': ['get'],
  '/v1/stores/{store}/signed-urls': ['post'],
  '/v1/stores/{store}/signing-secret': ['post'],
  '/v1/tokens': ['get', 'post'],
  '/v1/tokens/{id}': ['delete'],
  // The compatibility APIs (docs/compat.md).
  '/client/v4/accounts/{accountId}/storage/kv/namespaces': ['get', 'post'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}': ['get', 'put', 'delete'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/keys': ['get'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/values/{keyName}': [
    'get',
    'put',
    'delete',
  ],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/metadata/{keyName}': ['get'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk': ['put', 'delete'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk/delete': ['post'],
  '/client/v4/accounts/{accountId}/storage/kv/namespaces/{namespaceId}/bulk/get': ['post'],
  '/v2/key-value-stores': ['get', 'post'],
  '/v2/key-value-stores/{storeId}': ['get', 'put', 'delete'],
  '/v2/key-value-stores/{storeId}/keys': ['get'],
  '/v2/key-value-stores/{storeId}/records/{recordKey}': ['get', 'head', 'put', 'delete'],
};

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) collectRefs(n, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('/openapi.json', () => {
  it('is an OpenAPI 3.1 document listing every route and method', async () => {
    const h = setup();
    const res = await h.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('kv');
    const actual = Object.fromEntries(
      Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops).sort()]),
    );
    expect(actual).toEqual(Object.fromEntries(Object.entries(EXPECTED).map(([p, m]) => [p, [...m].sort()])));
  });

  it('every operation has responses, path parameters match the template, and every $ref resolves', async () => {
    const h = setup();
    const doc = (await (await h.call('GET', '/openapi.json')).json()) as OpenApiDoc;
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templateParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        const pathParams = (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        expect(pathParams, `${method} ${path}`).toEqual(templateParams);
      }
    }
    const schemas = doc.components?.schemas ?? {};
    for (const ref of collectRefs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
    for (const name of [
      'StoreInfo',
      'WireEntry',
      'ListResponse',
      'SetResult',
      'BulkResult',
      'AtomicBody',
      'Error',
    ]) {
      expect(schemas[name], name).toBeDefined();
    }
  });

  it('documents the raw-body PUT headers, the list query and the JSON bodies from the validating schemas', async () => {
    const h = setup();
    const doc = (await (await h.call('GET', '/openapi.json')).json()) as OpenApiDoc;
    const put = doc.paths['/v1/stores/{store}/entries/{key}']?.put;
    const headerNames = (put?.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name);
    expect(headerNames).toEqual(
      expect.arrayContaining([
        'Kv-Ttl-Ms',
        'Kv-Expires-At',
        'Kv-Metadata',
        'Kv-Scopes',
        'Kv-Resume',
        'Kv-If-Not-Exists',
        'If-None-Match',
        'If-Match',
        'Idempotency-Key',
      ]),
    );
    expect(Object.keys(put?.requestBody?.content ?? {})).toEqual(['*/*']);
    const list = doc.paths['/v1/stores/{store}/entries']?.get;
    expect(
      (list?.parameters ?? [])
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['cursor', 'like', 'limit', 'match', 'prefix', 'reverse', 'scope', 'startAfter', 'values']);
    const bulkSet = doc.paths['/v1/stores/{store}/bulk/set']?.post;
    expect(JSON.stringify(bulkSet?.requestBody)).toContain('#/components/schemas/BulkSetBody');
    const bulkSchema = doc.components?.schemas?.BulkSetBody as {
      properties: { items: { maxItems: number } };
    };
    expect(bulkSchema.properties.items.maxItems).toBe(10_000);
  });

  it("documents exactly the routes of core's server table, each with its method, path and operationId", async () => {
    const h = setup();
    const doc = (await (await h.call('GET', '/openapi.json')).json()) as OpenApiDoc;
    const table = Object.values(SERVER_ROUTES) as RouteDef[];
    for (const route of table) {
      // The document does not describe itself: it is what `GET /openapi.json` answers.
      if (route.name === ROUTES.openapi.name) continue;
      const op = doc.paths[route.template]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.template}`).toBeDefined();
      expect(op?.operationId, `${route.method} ${route.template}`).toBe(route.name);
    }
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        // HEAD is served (and documented) wherever the table has GET (RFC 9110 section 9.3.2).
        const wanted = method === 'head' ? 'GET' : method.toUpperCase();
        const inTable = table.some((r) => r.template === path && r.method === wanted);
        expect(inTable, `${method.toUpperCase()} ${path} is not in SERVER_ROUTES`).toBe(true);
      }
    }
  });

  it("routes every operation of core's server table (no 404 route_not_found, no 405)", async () => {
    const h = setup();
    for (const route of Object.values(SERVER_ROUTES) as RouteDef[]) {
      // Every parameter `x` (what `buildPath` gives; it builds kv's own routes only).
      const path = route.template.replace(/\{\w+\}/g, 'x');
      for (const method of route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]) {
        const res = await h.call(method, path);
        const code = res.headers.get('kv-error-code');
        expect(code, `${method} ${path}`).not.toBe('route_not_found');
        expect(code, `${method} ${path}`).not.toBe('method_not_allowed');
        await res.body?.cancel();
      }
    }
  });
});
