/**
 * `kv-server --otel`: registers an OpenTelemetry SDK that exports the server's spans (`tracing.ts`) over
 * OTLP/HTTP with protobuf bodies (the OTLP default, https://opentelemetry.io/docs/specs/otlp/). Loaded
 * with `import()` only when tracing is on, so a server without `--otel` never loads the SDK.
 *
 * The exporter and SDK read the standard variables themselves
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (default
 * `http://localhost:4318/v1/traces`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` (default
 * `kv-server`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (default `parentbased_always_on`) and
 * `OTEL_BSP_*` (batching). Incoming `traceparent`/`tracestate` are read with the W3C Trace Context
 * propagator. Export failures are logged at `warn` through the server's logger.
 *
 * @module
 */
import { DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';

/** A registered OTLP exporter. */
export interface OtlpTracing {
  /** Where spans go, as the exporter resolves it from the environment. */
  endpoint: string;
  /**
   * Exports the spans still buffered and unregisters the SDK. Bounded: gives up after `timeoutMs`.
   *
   * @param timeoutMs - the longest wait for the collector, in ms
   */
  shutdown(timeoutMs: number): Promise<void>;
}

/**
 * Registers the global tracer provider (batched OTLP/HTTP protobuf export) and the W3C Trace Context
 * propagator.
 *
 * @param env - the environment (the `OTEL_*` variables above)
 * @param logger - where export failures and the SDK's warnings go
 * @returns the endpoint and a bounded `shutdown`
 */
export function startOtlpTracing(env: Record<string, string | undefined>, logger: Logger): OtlpTracing {
  const log = logger.child({ component: 'otel' });
  diag.setLogger(
    {
      error: (message, ...args) => log.warn({ args }, message),
      warn: (message, ...args) => log.warn({ args }, message),
      info: (message, ...args) => log.debug({ args }, message),
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const exporter = new OTLPTraceExporter();
  const resource = resourceFromAttributes({ 'service.name': 'kv-server' }).merge(
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const endpoint =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ??
    (nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT)?.replace(/\/*$/, '/v1/traces') ||
      'http://localhost:4318/v1/traces');
  return {
    endpoint,
    async shutdown(timeoutMs: number): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.warn({ timeoutMs }, 'trace export did not finish before the shutdown timeout');
          resolve();
        }, timeoutMs);
      });
      await Promise.race([provider.shutdown().catch(() => {}), timeout]);
      clearTimeout(timer);
      trace.disable();
      propagation.disable();
      diag.disable();
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
