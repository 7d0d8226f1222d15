/**
 * `kv-server --otel` end to end: the built server, on a real SQLite file, exports its request spans over
 * OTLP/HTTP (protobuf) to the endpoint of `OTEL_EXPORTER_OTLP_ENDPOINT` — here a local collector stand-in
 * that records what it receives — flushing them at graceful shutdown; the exported spans carry the
 * route, the service name and the caller's trace id, never the key, value or token. `--otel=false`
 * exports nothing although an endpoint is set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, authHeaders, call, startServer, tempDir } from './helpers.js';

/** One request the collector received. */
interface Received {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

const received: Received[] = [];
let collector: Server;
let endpoint: string;
const tmp = tempDir('kv-otel-');

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks),
      });
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  tmp.remove();
});

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

describe('kv-server --otel', () => {
  it('exports a span per request over OTLP/HTTP protobuf, flushed at shutdown', async () => {
    received.length = 0;
    const server = await startServer(['--data', join(tmp.dir, 'on.sqlite')], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'kv-e2e' },
    });
    try {
      const tracing = await server.waitForLog('tracing: exporting spans over OTLP/HTTP');
      expect(tracing.endpoint).toBe(`${endpoint}/v1/traces`);
      expect(
        (await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'users' } })).status,
      ).toBe(201);
      const put = await fetch(`${server.url}/v1/stores/users/entries/ada%40example.com`, {
        method: 'PUT',
        headers: authHeaders({
          'content-type': 'text/plain',
          traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        }),
        body: 'a-secret-value',
      });
      expect(put.status).toBe(201);
    } finally {
      expect((await server.stop('SIGTERM')).code).toBe(0);
    }
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(r.path).toBe('/v1/traces');
      expect(r.contentType).toBe('application/x-protobuf');
    }
    const body = Buffer.concat(received.map((r) => r.body));
    // Protobuf keeps strings and byte fields as they are: the names, attributes and ids are readable.
    for (const text of ['POST /v1/stores', 'PUT /v1/stores/{store}/entries/{key}', 'putEntry', 'kv-e2e']) {
      expect(body.includes(text), text).toBe(true);
    }
    expect(body.includes(Buffer.from(TRACE_ID, 'hex'))).toBe(true);
    expect(body.includes(Buffer.from(PARENT_ID, 'hex'))).toBe(true);
    for (const secret of ['example.com', 'a-secret-value', ADMIN_TOKEN]) {
      expect(body.includes(secret), secret).toBe(false);
    }
  });

  it('--otel=false exports nothing although an endpoint is set', async () => {
    received.length = 0;
    const server = await startServer(['--data', join(tmp.dir, 'off.sqlite'), '--otel=false'], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    });
    try {
      expect((await call(`${server.url}/v1/stores`)).status).toBe(200);
    } finally {
      expect((await server.stop('SIGTERM')).code).toBe(0);
    }
    expect(server.lines.some((l) => l.includes('tracing:'))).toBe(false);
    expect(received).toEqual([]);
  });
});
