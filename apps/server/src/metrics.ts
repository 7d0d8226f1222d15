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
import { createRequire } from 'node:module';
import { matchServerRoute, type RouteDef, type RouteLookup, SERVER_ROUTES } from '@kv/core/protocol';
import type { Storage } from '@kv/engine';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Metric label of each route template the server answers (kv's and the compat APIs'): `{param}` as `:param`. */
const LABELS = new Map<string, string>(
  Object.values(SERVER_ROUTES).map((r: RouteDef) => [r.template, r.template.replace(/\{([^}]+)\}/g, ':$1')]),
);

/** The server's own routes outside the protocol table, labelled by their path. */
const SERVICE_PATHS = new Set(['/readyz', '/metrics']);

/**
 * The metric and log label of a request already matched against the protocol's route table (core
 * `matchServerRoute`): its route template, e.g. `/v1/stores/:store/entries/:key`, also for a method the route
 * does not allow; the path of the server's own routes (`/readyz`, `/metrics`); `other` for anything else,
 * so no key or unknown path ever becomes a label.
 *
 * @param lookup - `matchServerRoute(method, path)` of the request
 * @param path - the raw URL path (no query)
 */
export function routeLabel(lookup: RouteLookup, path: string): string {
  if (lookup.kind === 'match') return LABELS.get(lookup.route.template) as string;
  if (lookup.kind !== 'not_found') return LABELS.get(lookup.template) as string;
  return SERVICE_PATHS.has(path) ? path : 'other';
}

/**
 * {@link routeLabel} of a request not matched yet.
 *
 * @param method - the request method
 * @param path - the raw URL path (no query)
 */
export function routeOf(method: string, path: string): string {
  return routeLabel(matchServerRoute(method, path), path);
}

/** The server's metrics. */
export interface ServerMetrics {
  /** The registry `/metrics` renders. */
  registry: Registry;
  /**
   * Records one finished request.
   *
   * @param method - HTTP method
   * @param route - route label from {@link routeLabel}
   * @param status - response status
   * @param seconds - time to response headers, in seconds
   */
  observe(method: string, route: string, status: number, seconds: number): void;
}

/** This package's version (package.json, one directory up from both `src/` and `dist/`). */
export const SERVER_VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;

/**
 * What `kv_server_info` says about the server besides {@link SERVER_VERSION} (the Prometheus `*_info`
 * convention: labels, value 1).
 */
export interface ServerInfo {
  /** The storage kind: `sqlite` or `memory`. */
  storage: string;
}

/**
 * Creates the registry and metrics for one server.
 *
 * @param storage - read at scrape time for the per-store gauges (`listStores`)
 * @param info - the labels of `kv_server_info` (the console's server view shows them); none without it
 */
export function createMetrics(storage: Storage, info?: ServerInfo): ServerMetrics {
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
  if (info !== undefined) {
    new Gauge({
      name: 'kv_server_info',
      help: 'The server version and storage kind, as labels (always 1).',
      labelNames: ['version', 'storage'] as const,
      registers: [registry],
    }).set({ version: SERVER_VERSION, storage: info.storage }, 1);
  }
  return {
    registry,
    observe(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}
