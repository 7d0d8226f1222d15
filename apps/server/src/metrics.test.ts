import { buildPath, ROUTES, type RouteName } from '@kv/core/protocol';
import { MemoryStorage } from '@kv/engine';
import { describe, expect, it } from 'vitest';
import { createMetrics, routeOf, SERVER_VERSION } from './metrics.js';

describe('routeOf (metric and log labels)', () => {
  it('labels every route of the protocol table by its template, params as :name', () => {
    for (const [name, route] of Object.entries(ROUTES)) {
      const params = Object.fromEntries(
        [...route.template.matchAll(/\{([^}]+)\}/g)].map((m) => [m[1], 'a/b c']),
      ) as never;
      const label = routeOf(route.method, buildPath(name as RouteName, params));
      expect(label).toBe(route.template.replace(/\{([^}]+)\}/g, ':$1'));
    }
  });

  it('keeps the template for a method the route does not allow, and never puts a key in a label', () => {
    expect(routeOf('POST', '/v1/stores/s/entries/secret-key')).toBe('/v1/stores/:store/entries/:key');
    expect(routeOf('GET', '/v1/stores/s/entries/%E0%A4%A')).toBe('/v1/stores/:store/entries/:key');
  });

  it("labels the server's own routes by path, anything else 'other'", () => {
    expect(routeOf('GET', '/readyz')).toBe('/readyz');
    expect(routeOf('GET', '/metrics')).toBe('/metrics');
    expect(routeOf('GET', '/healthz')).toBe('/healthz');
    expect(routeOf('GET', '/v1/stores/s/unknown')).toBe('other');
    expect(routeOf('GET', '/wp-admin/secret-path')).toBe('other');
  });
});

describe('kv_server_info', () => {
  it("carries the package's version and the storage kind as labels, value 1", async () => {
    const storage = new MemoryStorage();
    const { registry } = createMetrics(storage, { storage: 'memory' });
    expect(SERVER_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(await registry.metrics()).toContain(
      `kv_server_info{version="${SERVER_VERSION}",storage="memory"} 1`,
    );
    expect(await createMetrics(storage).registry.metrics()).not.toContain('kv_server_info');
    await storage.close();
  });
});
