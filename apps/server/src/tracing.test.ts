/**
 * Request spans, in-process on a real SQLite file over real HTTP, with the OpenTelemetry SDK's
 * in-memory exporter registered as an embedder would (W3C propagator, AsyncLocalStorage context
 * manager): one `SERVER` span per request named after the protocol route, with its route name, store
 * and status, a child of the caller's `traceparent`, and never a key, value, query string or token. The
 * `@kv/node` client called inside an active span makes the server's span its child.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@kv/node';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs } from './config.js';
import { type RunningServer, startServer } from './server.js';
import type { SqliteStorage } from './sqlite-storage.js';
import { TRACER_NAME } from './tracing.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-server-tracing-'));
const TOKEN = 'kv_tracing-test-admin-token-00001';
const auth = { authorization: `Bearer ${TOKEN}` };
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let running: RunningServer;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const { config } = parseArgs(['--port', '0', '--data', join(dir, 'kv.sqlite'), '--log-level', 'silent'], {
    KV_ADMIN_TOKEN: TOKEN,
  });
  running = await startServer(config, pino({ level: 'silent' }));
});

afterAll(async () => {
  await running?.shutdown('test');
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => exporter.reset());

/** The server's spans finished so far. */
const serverSpans = (): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === TRACER_NAME);

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('request spans', () => {
  it('one server span per request: route, store, status, request id, and the caller as parent', async () => {
    const created = await fetch(`${running.url}/v1/stores`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"name":"orders"}',
    });
    expect(created.status).toBe(201);
    const put = await fetch(`${running.url}/v1/stores/orders/entries/customer%40example.com`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'text/plain', traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
      body: 'secret value',
    });
    expect(put.status).toBe(201);
    const spans = serverSpans();
    expect(spans.map((s) => s.name)).toEqual(['POST /v1/stores', 'PUT /v1/stores/{store}/entries/{key}']);
    const [create, write] = spans as [ReadableSpan, ReadableSpan];
    expect(create.attributes).toMatchObject({ 'kv.route': 'createStore', 'http.response.status_code': 201 });
    expect(create.attributes['kv.store']).toBeUndefined();
    // Without traceparent, a new trace.
    expect(create.parentSpanContext).toBeUndefined();
    expect(create.spanContext().traceId).not.toBe(TRACE_ID);
    expect(write.kind).toBe(SpanKind.SERVER);
    expect(write.attributes).toEqual({
      'http.request.method': 'PUT',
      'http.route': '/v1/stores/{store}/entries/{key}',
      'kv.route': 'putEntry',
      'kv.store': 'orders',
      'http.response.status_code': 201,
      'kv.request_id': put.headers.get('kv-request-id'),
    });
    expect(write.spanContext().traceId).toBe(TRACE_ID);
    expect(write.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(write.parentSpanContext?.isRemote).toBe(true);
    expect(write.status.code).toBe(SpanStatusCode.UNSET);
    // The key, the value and the token appear nowhere in the span.
    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]));
    for (const secret of ['customer', 'example.com', 'secret value', TOKEN])
      expect(text).not.toContain(secret);
  });

  it('records the kv error code of a 4xx without marking the span failed, and never an unknown path', async () => {
    const missing = await fetch(`${running.url}/v1/stores/nope/entries/k?sig=abc`, { headers: auth });
    expect(missing.status).toBe(404);
    const unknown = await fetch(`${running.url}/private/user%40example.com`, { headers: auth });
    expect(unknown.status).toBe(404);
    const denied = await fetch(`${running.url}/v1/stores`);
    expect(denied.status).toBe(401);
    const [get, other, list] = serverSpans() as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(get.name).toBe('GET /v1/stores/{store}/entries/{key}');
    expect(get.attributes).toMatchObject({
      'kv.route': 'getEntry',
      'kv.store': 'nope',
      'http.response.status_code': 404,
      'kv.error_code': 'store_not_found',
    });
    expect(get.status.code).toBe(SpanStatusCode.UNSET);
    expect(other.name).toBe('GET');
    expect(other.attributes['http.route']).toBeUndefined();
    expect(JSON.stringify(other.attributes)).not.toContain('example.com');
    expect(list.attributes).toMatchObject({ 'kv.route': 'listStores', 'kv.error_code': 'unauthenticated' });
    expect(JSON.stringify(get.attributes)).not.toContain('sig');
  });

  it('the @kv/node client inside an active span makes the server span its child', async () => {
    const client = createClient({ url: running.url, token: TOKEN, env: {} });
    const caller = await trace.getTracer('app').startActiveSpan('checkout', async (span) => {
      await client.store('orders').set('k1', { total: 1 });
      expect(await client.store('orders').getJson('k1')).toEqual({ total: 1 });
      span.end();
      return span.spanContext();
    });
    const spans = serverSpans();
    expect(spans.map((s) => s.attributes['kv.route'])).toEqual(['putEntry', 'getEntry']);
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(caller.traceId);
      expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    }
  });

  it('marks a 5xx span failed with its error type', async () => {
    const { config } = parseArgs(['--port', '0', '--data', join(dir, 'broken.sqlite')], {
      KV_ADMIN_TOKEN: TOKEN,
    });
    const broken = await startServer(config, pino({ level: 'silent' }));
    try {
      (broken.storage as SqliteStorage).db.close();
      exporter.reset();
      const res = await fetch(`${broken.url}/v1/stores/orders/entries/k`, { headers: auth });
      expect(res.status).toBe(500);
      const [span] = serverSpans() as [ReadableSpan];
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes).toMatchObject({
        'http.response.status_code': 500,
        'kv.error_code': 'internal',
        'error.type': 'internal',
      });
    } finally {
      await broken.shutdown('test').catch(() => {});
    }
  });

  it('/readyz and /metrics spans are named by their path', async () => {
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${running.url}/metrics`, { headers: auth })).status).toBe(200);
    expect(serverSpans().map((s) => [s.name, s.attributes['http.route']])).toEqual([
      ['GET /readyz', '/readyz'],
      ['GET /metrics', '/metrics'],
    ]);
  });
});
