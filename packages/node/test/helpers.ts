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
