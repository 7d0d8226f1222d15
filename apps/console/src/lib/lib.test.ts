/**
 * The console's pure helpers: Prometheus text parsing and the server summary (requests/s, p99 by
 * Prometheus' `histogram_quantile` method, 5xx count, `kv_server_info`), the capability picker's
 * strings, hash routes with any key, sizes, countdowns, hex dumps and value kinds.
 */
import { describe, expect, it } from 'vitest';
import { capabilityStrings } from './capabilities.js';
import { formatBytes, formatCountdown, hexDump, valueKind } from './format.js';
import { parseMetrics, quantile, snapshot, summarize } from './metrics.js';
import { hrefOf, parseRoute, type Route } from './route.js';

const SCRAPE = `# HELP kv_http_requests_total HTTP requests answered.
# TYPE kv_http_requests_total counter
kv_http_requests_total{method="GET",route="/v1/stores",status="200"} 90
kv_http_requests_total{method="PUT",route="/v1/stores/:store/entries/:key",status="500"} 4
kv_http_requests_total{method="GET",route="other",status="503"} 6
kv_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/v1/stores"} 50
kv_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/v1/stores"} 90
kv_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/stores"} 90
kv_http_request_duration_seconds_bucket{le="0.001",method="PUT",route="x"} 0
kv_http_request_duration_seconds_bucket{le="0.01",method="PUT",route="x"} 0
kv_http_request_duration_seconds_bucket{le="+Inf",method="PUT",route="x"} 10
kv_server_info{version="0.1.0",storage="sqlite"} 1
process_resident_memory_bytes 52428800
a bad line
`;

describe('metrics', () => {
  it('parses samples with labels, skipping comments and bad lines', () => {
    const samples = parseMetrics(SCRAPE);
    expect(samples).toHaveLength(11);
    expect(samples[0]).toEqual({
      name: 'kv_http_requests_total',
      labels: { method: 'GET', route: '/v1/stores', status: '200' },
      value: 90,
    });
    expect(parseMetrics('x{a="q\\"uote"} 1')[0]!.labels.a).toBe('q"uote');
  });

  it('sums requests and 5xx, merges histogram buckets and reads kv_server_info', () => {
    const snap = snapshot(parseMetrics(SCRAPE), 1000);
    expect(snap).toMatchObject({
      requests: 100,
      errors: 10,
      info: { version: '0.1.0', storage: 'sqlite' },
      rssBytes: 52428800,
    });
    expect(snap.buckets).toEqual([
      { le: 0.001, count: 50 },
      { le: 0.01, count: 90 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ]);
  });

  it('estimates quantiles by linear interpolation inside the bucket', () => {
    const buckets = [
      { le: 0.001, count: 50 },
      { le: 0.01, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.001);
    expect(quantile(buckets, 0.75)).toBeCloseTo(0.0055);
    // In the +Inf bucket: the highest finite bound.
    expect(
      quantile(
        [
          { le: 0.01, count: 0 },
          { le: Number.POSITIVE_INFINITY, count: 5 },
        ],
        0.99,
      ),
    ).toBe(0.01);
    expect(quantile([{ le: Number.POSITIVE_INFINITY, count: 0 }], 0.99)).toBeUndefined();
  });

  it('gives requests/s and the p99 of the interval between two scrapes', () => {
    const first = snapshot(parseMetrics(SCRAPE), 10_000);
    const later = SCRAPE.replace('status="200"} 90', 'status="200"} 140')
      .replace(
        'le="0.001",method="GET",route="/v1/stores"} 50',
        'le="0.001",method="GET",route="/v1/stores"} 100',
      )
      .replace(
        'le="0.01",method="GET",route="/v1/stores"} 90',
        'le="0.01",method="GET",route="/v1/stores"} 140',
      )
      .replace(
        'le="+Inf",method="GET",route="/v1/stores"} 90',
        'le="+Inf",method="GET",route="/v1/stores"} 140',
      );
    const second = snapshot(parseMetrics(later), 15_000);
    const summary = summarize(second, first);
    expect(summary.requestsPerSecond).toBeCloseTo(10);
    // The 50 new requests all took <= 1 ms.
    expect(summary.p99Ms).toBeLessThanOrEqual(1);
    expect(summary).toMatchObject({ requests: 150, errors: 10 });
    expect(summarize(first).requestsPerSecond).toBeUndefined();
  });
});

describe('capabilityStrings', () => {
  it('builds kv:action, kv[store]:action and kv[store:scope]:action', () => {
    expect(capabilityStrings({ store: '', scope: '', actions: ['get', 'list'] })).toEqual([
      'kv:get',
      'kv:list',
    ]);
    expect(capabilityStrings({ store: 'orders', scope: '', actions: ['*'] })).toEqual(['kv[orders]:*']);
    expect(capabilityStrings({ store: ' orders ', scope: 'billing', actions: ['get'] })).toEqual([
      'kv[orders:billing]:get',
    ]);
  });

  it('refuses a scope without a store and names with brackets, colons or spaces', () => {
    expect(() => capabilityStrings({ store: '', scope: 'b', actions: ['get'] })).toThrow(
      'A scope needs a store',
    );
    expect(() => capabilityStrings({ store: 'a]b', scope: '', actions: ['get'] })).toThrow('store name');
    expect(() => capabilityStrings({ store: 'a', scope: 'x:y', actions: ['get'] })).toThrow('scope name');
  });
});

describe('routes', () => {
  it('round-trips every view, with keys of any UTF-8, slashes and percent signs', () => {
    const routes: Route[] = [
      { view: 'stores' },
      { view: 'entries', store: 'orders' },
      { view: 'entry', store: 'orders', key: 'a/b%20c?d#e.ü.🙂' },
      { view: 'live', store: 'orders' },
      { view: 'tokens' },
      { view: 'server' },
    ];
    for (const route of routes) expect(parseRoute(hrefOf(route))).toEqual(route);
  });

  it('falls back to the store list for unknown or malformed hashes', () => {
    expect(parseRoute('')).toEqual({ view: 'stores' });
    expect(parseRoute('#/nope')).toEqual({ view: 'stores' });
    expect(parseRoute('#/stores/%E0%A4%A')).toEqual({ view: 'stores' });
  });
});

describe('format', () => {
  it('formats sizes, countdowns and hex dumps', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MiB');
    expect(formatCountdown(1000, 2000)).toBe('expired');
    expect(formatCountdown(43_000, 1000)).toBe('42s');
    expect(formatCountdown(186_000, 1000)).toBe('3m 05s');
    expect(formatCountdown(3 * 86_400_000 + 4 * 3_600_000, 0)).toBe('3d 4h');
    expect(hexDump(new Uint8Array([0x68, 0x69, 0x00, 0xff]))).toBe(
      `00000000  68 69 00 ff${' '.repeat(36)}  hi..`,
    );
    expect(hexDump(new Uint8Array(40), 16).split('\n')).toHaveLength(2);
  });

  it('picks the rendering by content type', () => {
    expect(valueKind('application/json')).toBe('json');
    expect(valueKind('application/vnd.api+json; charset=utf-8')).toBe('json');
    expect(valueKind('text/plain; charset=utf-8')).toBe('text');
    expect(valueKind('image/png')).toBe('image');
    expect(valueKind('image/svg+xml')).toBe('bytes');
    expect(valueKind('application/octet-stream')).toBe('bytes');
  });
});
