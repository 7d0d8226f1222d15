/** Test helpers: the engine in-process as a `fetch`, and a fault-injecting `fetch` wrapper. */

import { createEngine, type Engine, type EngineOptions, MemoryStorage } from '@kv/engine';
import type { FetchLike } from '../src/index.js';

/** An engine on `MemoryStorage` and a `fetch` that calls it in-process. */
export function inProcessEngine(options: Partial<EngineOptions> = {}): {
  engine: Engine;
  fetch: FetchLike;
  url: string;
} {
  const engine = createEngine({ storage: new MemoryStorage(), ...options });
  const fetch: FetchLike = (input, init) => engine.fetch(new Request(input, init));
  return { engine, fetch, url: 'http://kv.test' };
}

/** One scripted fault of {@link faultyFetch}. */
export type Fault =
  /** Pass the request through untouched. */
  | 'pass'
  /** Throw a network error before the request reaches the server. */
  | 'refuse'
  /** Let the server apply the request, then lose the response (throw a network error). */
  | 'drop-response'
  /** Never answer (until the client aborts on its timeout). */
  | 'hang'
  /** Answer with this status and a kv error body, without reaching the server. */
  | { status: number; code: string; retryAfter?: string };

/** A request as the server (or the fault) saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  idempotencyKey: string | null;
  fault: Fault | undefined;
}

/**
 * Wraps `inner`: the first calls take the scripted faults in order, later calls pass through. Records
 * every request.
 */
export function faultyFetch(inner: FetchLike, faults: Fault[]): { fetch: FetchLike; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const fetch: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    const fault = faults.shift();
    seen.push({
      method: request.method,
      url: request.url,
      idempotencyKey: request.headers.get('idempotency-key'),
      fault,
    });
    if (fault === undefined || fault === 'pass') return inner(request);
    if (fault === 'refuse') throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    if (fault === 'drop-response') {
      const response = await inner(request);
      await response.body?.cancel();
      throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    }
    if (fault === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason));
      });
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', 'kv-request-id': 'fault' };
    if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
    return new Response(JSON.stringify({ error: { code: fault.code, message: `injected ${fault.code}` } }), {
      status: fault.status,
      headers,
    });
  };
  return { fetch, seen };
}

/**
 * Serves `engine` over real HTTP on 127.0.0.1 (an ephemeral port) with a minimal `node:http` adapter, so
 * the client's real `fetch` (undici) path is exercised: streamed uploads, HEAD, connection handling.
 * The server issue replaces this with the real server process.
 */
export async function serveOverHttp(engine: Engine): Promise<{ url: string; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const { Readable } = await import('node:stream');
  const server = createServer((req, res) => {
    const url = `http://${req.headers.host}${req.url}`;
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const init: RequestInit & { duplex?: 'half' } = { method: req.method ?? 'GET', headers };
    if (hasBody) {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
    engine
      .fetch(new Request(url, init))
      .then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        if (response.body === null || req.method === 'HEAD') {
          await response.body?.cancel();
          res.end();
          return;
        }
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
        res.end();
      })
      .catch((error: unknown) => {
        res.destroy(error as Error);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
