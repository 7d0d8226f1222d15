/**
 * Reading the server's Prometheus `/metrics` text (the exposition format of prometheus.io
 * "Exposition formats") into the console's server summary: requests per second between two scrapes,
 * the p99 latency estimated from the `kv_http_request_duration_seconds` histogram (the
 * `histogram_quantile` method: linear interpolation inside the bucket), the 5xx count, and the
 * `kv_server_info` labels (version, storage kind).
 *
 * @module
 */

/** One sample line: metric name, labels and value. */
export interface Sample {
  /** Metric name, e.g. `kv_http_requests_total`. */
  name: string;
  /** Label values by name. */
  labels: Record<string, string>;
  /** The value. */
  value: number;
}

/**
 * Parses exposition-format text into samples (comments and malformed lines skipped).
 *
 * @param text - the body of `GET /metrics`
 */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let m = labelRe.exec(labelText); m !== null; m = labelRe.exec(labelText)) {
      labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    const raw = match[3]!;
    const value = raw === '+Inf' ? Number.POSITIVE_INFINITY : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') continue;
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** Totals of one scrape that the summary compares between scrapes. */
export interface MetricsSnapshot {
  /** When the scrape was read, in ms since the epoch (the caller's clock). */
  atMs: number;
  /** Sum of `kv_http_requests_total`. */
  requests: number;
  /** Sum of `kv_http_requests_total` with a 5xx status. */
  errors: number;
  /** Cumulative count per `le` upper bound (seconds) of the latency histogram, all routes summed. */
  buckets: Array<{ le: number; count: number }>;
  /** Labels of `kv_server_info` (`version`, `storage`), empty when the server has no such gauge. */
  info: Record<string, string>;
  /** Resident set size of the server process, in bytes (`process_resident_memory_bytes`), if present. */
  rssBytes: number | undefined;
}

/**
 * Reduces a parsed scrape to the totals the summary needs.
 *
 * @param samples - from {@link parseMetrics}
 * @param atMs - when the scrape was read, in ms since the epoch
 */
export function snapshot(samples: readonly Sample[], atMs: number): MetricsSnapshot {
  let requests = 0;
  let errors = 0;
  const byLe = new Map<number, number>();
  let info: Record<string, string> = {};
  let rssBytes: number | undefined;
  for (const s of samples) {
    if (s.name === 'kv_http_requests_total') {
      requests += s.value;
      if ((s.labels.status ?? '').startsWith('5')) errors += s.value;
    } else if (s.name === 'kv_http_request_duration_seconds_bucket') {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    } else if (s.name === 'kv_server_info') {
      info = { ...s.labels };
    } else if (s.name === 'process_resident_memory_bytes') {
      rssBytes = s.value;
    }
  }
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  return { atMs, requests, errors, buckets, info, rssBytes };
}

/**
 * The `q` quantile of a cumulative histogram, in seconds, interpolated linearly inside its bucket
 * (Prometheus `histogram_quantile`); the highest finite bound when it falls in the `+Inf` bucket;
 * `undefined` with no observation.
 *
 * @param buckets - cumulative counts by upper bound, ascending, ending with `+Inf`
 * @param q - the quantile, from 0 to 1
 */
export function quantile(buckets: readonly { le: number; count: number }[], q: number): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = Number.isFinite(b.le) ? b.le : prevLe;
    prevCount = b.count;
  }
  return prevLe;
}

/** The server summary the console shows. */
export interface MetricsSummary {
  /** Requests per second between the two scrapes (`undefined` for the first scrape). */
  requestsPerSecond: number | undefined;
  /** p99 latency in ms: over the interval between the scrapes, else since the server started. */
  p99Ms: number | undefined;
  /** Requests answered with a 5xx since the server started. */
  errors: number;
  /** Requests answered since the server started. */
  requests: number;
}

/**
 * Summarises a scrape, compared with the previous one when given.
 *
 * @param current - the newer scrape
 * @param previous - the older scrape, if any
 */
export function summarize(current: MetricsSnapshot, previous?: MetricsSnapshot): MetricsSummary {
  let requestsPerSecond: number | undefined;
  let buckets = current.buckets;
  if (previous !== undefined && current.atMs > previous.atMs) {
    requestsPerSecond = ((current.requests - previous.requests) * 1000) / (current.atMs - previous.atMs);
    const before = new Map(previous.buckets.map((b) => [b.le, b.count]));
    const delta = current.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }));
    if ((delta.at(-1)?.count ?? 0) > 0) buckets = delta;
  }
  const p99 = quantile(buckets, 0.99);
  return {
    requestsPerSecond,
    p99Ms: p99 === undefined ? undefined : p99 * 1000,
    errors: current.errors,
    requests: current.requests,
  };
}
