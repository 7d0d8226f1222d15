/**
 * Trace context propagation of the Node client: when the application has `@opentelemetry/api`
 * installed (an optional peer dependency), each request carries the active trace context, written by
 * the globally registered propagator (W3C Trace Context `traceparent`/`tracestate` with the
 * OpenTelemetry Node SDK's defaults, https://www.w3.org/TR/trace-context/), so the server's span is a
 * child of the caller's. Without the package nothing is loaded and no hook is installed.
 *
 * The package is loaded with `require` on first use (not `import()`, which would make `createClient`
 * asynchronous or need a top-level `await`); its CommonJS and ESM builds share one global registry
 * (`Symbol.for('opentelemetry.js.api.1')`), so the propagator and context manager the application
 * registered are the ones used here.
 *
 * @module
 */
import { createRequire } from 'node:module';

/** The parts of `@opentelemetry/api` used here. */
interface OtelApi {
  context: { active(): unknown };
  propagation: { inject(context: unknown, carrier: Record<string, string>): void };
}

/** `undefined`: not looked up yet; `null`: not installed. */
let api: OtelApi | null | undefined;

function loadApi(): OtelApi | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/** Writes the active context into a request's headers (a no-op when no span is active). */
function inject(headers: Record<string, string>): void {
  const otel = api as OtelApi;
  otel.propagation.inject(otel.context.active(), headers);
}

/**
 * The `beforeRequest` hook that propagates the active trace context, or `undefined` when
 * `@opentelemetry/api` is not installed.
 *
 * @returns a hook for `HttpClientOptions.beforeRequest` in `@kv/core`, or `undefined`
 */
export function traceContextHook(): ((headers: Record<string, string>) => void) | undefined {
  return loadApi() === null ? undefined : inject;
}
