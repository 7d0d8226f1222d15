import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readIncomingBody } from './body.js';
import { NodeRequest } from './node-transport.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server on 127.0.0.1 answering with what `handler` makes of each request's body. */
async function serve(handler: (incoming: IncomingMessage) => Promise<string>): Promise<number> {
  server = createServer((incoming, outgoing) => {
    // Like the node transport: a body left unread is drained once the answer is sent.
    outgoing.on('finish', () => incoming.resume());
    handler(incoming).then(
      (text) => outgoing.end(text),
      (error: Error) => outgoing.end(`error: ${error.message}`),
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function send(port: number, body: Uint8Array | string, method = 'PUT'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { method, body });
  return res.text();
}

describe('readIncomingBody', () => {
  it('reads the whole body, empty bodies and bodies in many chunks', async () => {
    const port = await serve(async (incoming) => {
      const bytes = await readIncomingBody(incoming, 1024 * 1024);
      return bytes === null
        ? 'too large'
        : `${bytes.byteLength}:${new TextDecoder().decode(bytes.subarray(0, 5))}`;
    });
    expect(await send(port, 'hello')).toBe('5:hello');
    expect(await send(port, '')).toBe('0:');
    const big = new Uint8Array(300_000).fill(97);
    expect(await send(port, big)).toBe('300000:aaaaa');
  });

  it('stops at the limit without buffering the rest, and the connection still gets its answer', async () => {
    const port = await serve(async (incoming) => {
      const bytes = await readIncomingBody(incoming, 10);
      return bytes === null ? 'too large' : String(bytes.byteLength);
    });
    expect(await send(port, '0123456789')).toBe('10');
    expect(await send(port, new Uint8Array(200_000))).toBe('too large');
  });

  it('rejects when the client goes away before the body ends', async () => {
    let outcome: Promise<string> | undefined;
    const port = await serve((incoming) => {
      outcome = readIncomingBody(incoming, 1024).then(
        () => 'read',
        (error: Error) => `rejected: ${error.message}`,
      );
      return outcome;
    });
    const req = httpRequest({ port, host: '127.0.0.1', method: 'PUT', headers: { 'content-length': '100' } });
    req.on('error', () => {});
    req.write('partial');
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await expect.poll(() => outcome).toBeDefined();
    expect(await outcome).toMatch(/^rejected/);
  });
});

describe('NodeRequest', () => {
  it('reads the method, target, headers (repeats joined) and the body of an IncomingMessage', async () => {
    let seen: Record<string, unknown> = {};
    server = createServer((incoming, outgoing) => {
      const req = new NodeRequest(incoming, outgoing);
      seen = {
        method: req.method,
        url: req.url,
        type: req.header('content-type'),
        accept: req.header('accept'),
        missing: req.header('x-missing'),
      };
      req.readBody(100).then((bytes) => {
        outgoing.end(bytes === null ? 'too large' : new TextDecoder().decode(bytes));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/stores/a%2Fb?x=1',
          headers: { 'content-type': 'text/plain', accept: ['a/b', 'c/d'] },
        },
        (res) => {
          let out = '';
          res.on('data', (chunk: Buffer) => {
            out += chunk.toString();
          });
          res.on('end', () => resolve(out));
        },
      );
      req.on('error', reject);
      req.end('body');
    });
    expect(text).toBe('body');
    expect(seen).toEqual({
      method: 'POST',
      url: '/v1/stores/a%2Fb?x=1',
      type: 'text/plain',
      accept: 'a/b, c/d',
      missing: undefined,
    });
  });
});
