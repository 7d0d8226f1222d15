/**
 * The `node:http` transport: results written with `Content-Length`, streams written with backpressure
 * and cancelled (with the request's signal aborted) when the client goes away. Real sockets on loopback.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EngineResult } from '@kv/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeRequest, writeResult } from './node-transport.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server answering every request with `answer(req)` through the transport. */
async function serve(answer: (req: NodeRequest) => EngineResult): Promise<number> {
  server = createServer((incoming, outgoing) => {
    const req = new NodeRequest(incoming, outgoing);
    void writeResult(incoming, outgoing, answer(req));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends a request and resolves with the response once its headers arrived. */
function send(port: number, method = 'GET'): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: '/x' }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('writeResult', () => {
  it('writes text and bytes with Content-Length, and no body for HEAD or none', async () => {
    const port = await serve((req) =>
      req.url === '/x' && req.method === 'POST'
        ? { status: 201, headers: { 'content-type': 'application/json' }, body: '{"é":1}' }
        : req.method === 'HEAD'
          ? { status: 200, headers: { 'content-length': '3' } }
          : { status: 200, headers: {}, body: new Uint8Array([1, 2, 3]) },
    );
    const text = await send(port, 'POST');
    expect(text.statusCode).toBe(201);
    expect(text.headers['content-length']).toBe('8'); // 7 characters, é is 2 bytes
    expect((await readAll(text)).toString()).toBe('{"é":1}');
    const bytes = await send(port);
    expect(bytes.headers['content-length']).toBe('3');
    expect([...(await readAll(bytes))]).toEqual([1, 2, 3]);
    const head = await send(port, 'HEAD');
    expect(head.headers['content-length']).toBe('3');
    expect((await readAll(head)).byteLength).toBe(0);
  });

  it('streams with backpressure: nothing more is pulled while the socket is full, all arrives after', async () => {
    const CHUNK = 64 * 1024;
    const CHUNKS = 256; // 16 MiB: far more than the socket buffers hold
    let pulls = 0;
    let outgoing: { writableNeedDrain: boolean } | undefined;
    server = createServer((incoming, res) => {
      outgoing = res;
      const stream = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls++;
            if (pulls > CHUNKS) controller.close();
            else controller.enqueue(new Uint8Array(CHUNK).fill(pulls % 251));
          },
        },
        { highWaterMark: 0 },
      );
      void writeResult(incoming, res, { status: 200, headers: {}, body: stream });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const res = await send((server.address() as AddressInfo).port);
    res.pause();
    await expect.poll(() => outgoing?.writableNeedDrain, { timeout: 10_000 }).toBe(true);
    const pulled = pulls;
    expect(pulled).toBeLessThan(CHUNKS);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(pulls).toBe(pulled);
    res.resume();
    expect((await readAll(res)).byteLength).toBe(CHUNK * CHUNKS);
  });

  it('cancels the stream and aborts the request signal when the client goes away', async () => {
    let cancelled = false;
    let signal: AbortSignal | undefined;
    const port = await serve((req) => {
      signal = req.signal;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('event: ready\n\n'));
        },
        cancel() {
          cancelled = true;
        },
      });
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: stream };
    });
    const res = await send(port);
    const first = await new Promise<string>((resolve) =>
      res.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(first).toBe('event: ready\n\n');
    expect(signal?.aborted).toBe(false);
    res.destroy();
    await expect.poll(() => cancelled).toBe(true);
    await expect.poll(() => signal?.aborted).toBe(true);
  });
});
