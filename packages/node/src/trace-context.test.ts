/**
 * Trace context propagation: with `@opentelemetry/api` installed and an SDK registered (the in-memory
 * exporter, the W3C propagator and the AsyncLocalStorage context manager, as the Node SDK registers
 * them), a request made inside an active span carries that span's `traceparent`; outside a span, or
 * with `traceContext: false`, it carries none.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from './client.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

/** A client whose `fetch` records the headers of each request and answers an empty store list. */
function recordingClient(
  options: { traceContext?: boolean; beforeRequest?: (h: Record<string, string>) => void } = {},
) {
  const sent: Headers[] = [];
  const client = createClient({
    url: 'http://kv.test',
    token: 'secret',
    env: {},
    ...options,
    fetch: async (input, init) => {
      sent.push(new Request(input, init).headers);
      return Response.json({ items: [] });
    },
  });
  return { client, sent };
}

describe('trace context propagation', () => {
  it('injects the active span as traceparent, across awaits, and nothing outside a span', async () => {
    const { client, sent } = recordingClient();
    const tracer = trace.getTracer('test');
    const ids = await tracer.startActiveSpan('caller', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await client.stores.list();
      span.end();
      return span.spanContext();
    });
    await client.stores.list();
    expect(sent).toHaveLength(2);
    expect(sent[0]?.get('traceparent')).toBe(`00-${ids.traceId}-${ids.spanId}-01`);
    expect(sent[0]?.get('authorization')).toBe('Bearer secret');
    expect(sent[1]?.has('traceparent')).toBe(false);
  });

  it('is off with traceContext: false, and runs before a beforeRequest of the caller', async () => {
    const off = recordingClient({ traceContext: false });
    const seen: Array<string | undefined> = [];
    const chained = recordingClient({
      beforeRequest: (headers) => {
        seen.push(headers.traceparent);
        headers['x-caller'] = 'yes';
      },
    });
    const traceparent = await trace.getTracer('test').startActiveSpan('caller', async (span) => {
      await off.client.stores.list();
      await chained.client.stores.list();
      span.end();
      return `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
    });
    expect(off.sent[0]?.has('traceparent')).toBe(false);
    expect(seen).toEqual([traceparent]);
    expect(chained.sent[0]?.get('traceparent')).toBe(traceparent);
    expect(chained.sent[0]?.get('x-caller')).toBe('yes');
  });
});
