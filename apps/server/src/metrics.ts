/**
 * Prometheus metrics of the server (`GET /metrics`, prom-client): requests by route and status, a
 * latency histogram, entries/bytes/revision per store (read from the storage at scrape time), and the
 * default Node process metrics (RSS, heap, event loop lag, GC).
 *
 * Route labels are route templates (`/v1/stores/:store/entries/:key`), never raw paths, so label
 * cardinality stays bounded and no key appears in a label.
 *
 * @module
 */
import type { Storage } from '@kv/engine';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Route templates, matched against the URL path (first match wins). */
const ROUTES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/v1\/stores\/[^/]+\/entries\/[^/]+$/, '/v1/stores/:store/entries/:key'],
  [/^\/v1\/stores\/[^/]+\/entries$/, '/v1/stores/:store/entries'],
  [/^\/v1\/stores\/[^/]+\/entries\/[^/]+\/history$/, '/v1/stores/:store/entries/:key/history'],
  [/^\/v1\/stores\/[^/]+\/entries\/[^/]+\/expiry$/, '/v1/stores/:store/entries/:key/expiry'],
  [/^\/v1\/stores\/[^/]+\/ids\/[^/]+$/, '/v1/stores/:store/ids/:id'],
  [/^\/v1\/stores\/[^/]+\/scopes$/, '/v1/stores/:store/scopes'],
  [/^\/v1\/stores\/[^/]+\/bulk\/get$/, '/v1/stores/:store/bulk/get'],
  [/^\/v1\/stores\/[^/]+\/bulk\/set$/, '/v1/stores/:store/bulk/set'],
  [/^\/v1\/stores\/[^/]+\/bulk\/delete$/, '/v1/stores/:store/bulk/delete'],
  [/^\/v1\/stores\/[^/]+\/atomic$/, '/v1/stores/:store/atomic'],
  [/^\/v1\/stores\/[^/]+\/watch$/, '/v1/stores/:store/watch'],
  [/^\/v1\/stores\/[^/]+\/signed-urls$/, '/v1/stores/:store/signed-urls'],
  [/^\/v1\/stores\/[^/]+\/signing-secret$/, '/v1/stores/:store/signing-secret'],
  [/^\/v1\/stores\/[^/]+$/, '/v1/stores/:store'],
  [/^\/v1\/stores$/, '/v1/stores'],
  [/^\/v1\/tokens\/[^/]+$/, '/v1/tokens/:id'],
  [/^\/v1\/tokens$/, '/v1/tokens'],
  [/^\/(?:healthz|readyz|metrics|openapi\.json)$/, ''],
];

/**
 * The route template of a URL path, for logs and metric labels: e.g. `/v1/stores/:store/entries/:key`;
 * `other` for paths outside the protocol.
 */
export function routeOf(path: string): string {
  for (const [pattern, template] of ROUTES) {
    if (pattern.test(path)) return template === '' ? path : template;
  }
  return 'other';
}

/** The server's metrics. */
export interface ServerMetrics {
  /** The registry `/metrics` renders. */
  registry: Registry;
  /**
   * Records one finished request.
   *
   * @param method - HTTP method
   * @param route - route template from {@link routeOf}
   * @param status - response status
   * @param seconds - time to response headers, in seconds
   */
  observe(method: string, route: string, status: number, seconds: number): void;
}

/**
 * Creates the registry and metrics for one server.
 *
 * @param storage - read at scrape time for the per-store gauges (`listStores`)
 */
export function createMetrics(storage: Storage): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'kv_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'kv_http_request_duration_seconds',
    help: 'Time from request to response headers, in seconds.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const perStore = (name: string, help: string, field: 'keyCount' | 'totalBytes' | 'revision'): void => {
    new Gauge({
      name,
      help,
      labelNames: ['store'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await storage.listStores()) this.set({ store: s.name }, s[field]);
      },
    });
  };
  perStore('kv_store_entries', 'Live entries per store (expired entries count until swept).', 'keyCount');
  perStore('kv_store_bytes', 'Sum of live value sizes per store, in bytes.', 'totalBytes');
  perStore('kv_store_revision', 'Latest revision per store.', 'revision');
  return {
    registry,
    observe(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}
