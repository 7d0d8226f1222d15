/**
 * One OpenTelemetry span per request, through `@opentelemetry/api` only: without a registered SDK every
 * call here is the API's no-op (a non-recording span, no export), so an embedder who registers an SDK
 * gets the spans and everyone else pays a few allocations per request (docs/performance.md "Tracing").
 * `kv-server --otel` registers an OTLP exporter (`otlp.ts`, loaded only then).
 *
 * A span is named `{method} {route template}` (OpenTelemetry HTTP semantic conventions, server spans),
 * e.g. `GET /v1/stores/{store}/entries/{key}`, and carries the route's name in the protocol table
 * (`kv.route`), the store name, the status, the request id and the kv error code. It never carries a
 * key, a value, a query string (it may hold a URL signature) or a header value: keys are user data
 * (an email address, an order id), so `url.path` is left out and the route template stands for it. A
 * W3C `traceparent` (and `tracestate`) on the request makes the span a child of the caller's, through
 * the globally registered propagator (W3C Trace Context, https://www.w3.org/TR/trace-context/).
 *
 * @module
 */

import { HEADERS, type RouteLookup } from '@kv/core/protocol';
import type { EngineRequest } from '@kv/engine';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';

/** The instrumentation scope of the server's spans (the tracer name). */
export const TRACER_NAME = '@kv/server';

/** Methods named as such in `http.request.method`; any other is `_OTHER` (HTTP semantic conventions). */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'PUT',
  'POST',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

/** Reads propagation headers from an engine request (its `header()` is case-insensitive). */
const GETTER: TextMapGetter<EngineRequest> = {
  get: (req, key) => req.header(key),
  keys: () => [],
};

/** A request's span and the context that makes it the active span. */
export interface RequestSpan {
  /** The span; ended by {@link endRequestSpan}. */
  span: Span;
  /** The caller's context (from `traceparent`, or the root) with {@link RequestSpan.span} active in it. */
  context: Context;
}

/**
 * The route template of a request as the `http.route` attribute: the matched template of the protocol
 * table (also for a 405 or a bad percent-encoding), the server's own path for `/readyz` and `/metrics`,
 * else `undefined` (an unknown path is never recorded: it may hold anything).
 */
function httpRoute(lookup: RouteLookup, path: string): string | undefined {
  if (lookup.kind === 'match') return lookup.route.template;
  if (lookup.kind !== 'not_found') return lookup.template;
  return path === '/readyz' || path === '/metrics' ? path : undefined;
}

/**
 * Starts the span of one request (a `SERVER` span, child of the context its `traceparent` carries).
 * The global tracer is looked up per call, so an SDK registered after the server started is used.
 *
 * @param req - the request (its method and propagation headers are read)
 * @param lookup - `matchRoute(method, path)` of the request
 * @param path - the raw URL path (no query); recorded only as `/readyz` or `/metrics`
 * @returns the span and its context; pass both to {@link endRequestSpan}
 */
export function startRequestSpan(req: EngineRequest, lookup: RouteLookup, path: string): RequestSpan {
  const parent = propagation.extract(ROOT_CONTEXT, req, GETTER);
  const method = KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
  const route = httpRoute(lookup, path);
  const attributes: Attributes = { 'http.request.method': method };
  if (route !== undefined) attributes['http.route'] = route;
  if (lookup.kind === 'match') {
    attributes['kv.route'] = lookup.route.name;
    const store = lookup.params.store;
    if (store !== undefined) attributes['kv.store'] = store;
  }
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(
      route === undefined ? method : `${method} ${route}`,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Runs `fn` with the request's span active (for spans an embedder's storage or instrumentation starts
 * inside the request). With no context manager registered this just calls `fn`.
 *
 * @param requestSpan - from {@link startRequestSpan}
 * @param fn - the request's work
 */
export function withRequestSpan<T>(requestSpan: RequestSpan, fn: () => T): T {
  return context.with(requestSpan.context, fn);
}

/**
 * Records a request's outcome on its span and ends it: `http.response.status_code` (499 for a client
 * that closed its connection first, as the access log and metrics count it), `kv.request_id`,
 * `kv.error_code`, and for a 5xx the span status `ERROR` with `error.type` (a 4xx is the client's
 * error, not the server's: HTTP semantic conventions, server spans).
 *
 * @param requestSpan - from {@link startRequestSpan}
 * @param status - the status answered
 * @param headers - the response headers (lower-case names), for the request id and error code
 */
export function endRequestSpan(
  requestSpan: RequestSpan,
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
): void {
  const { span } = requestSpan;
  if (span.isRecording()) {
    span.setAttribute('http.response.status_code', status);
    const requestId = headers[HEADERS.requestId];
    if (requestId !== undefined) span.setAttribute('kv.request_id', requestId);
    const code = headers[HEADERS.errorCode];
    if (code !== undefined) span.setAttribute('kv.error_code', code);
    if (status >= 500) {
      span.setAttribute('error.type', code ?? String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
