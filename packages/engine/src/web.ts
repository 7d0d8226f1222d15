/**
 * The Web transport of the engine's pipeline (`pipeline.ts`): a Web-standard `Request` in, a `Response`
 * out, for `engine.fetch` (the msw mock, edge runtimes, tests). The Node server has its own transport
 * over `node:http` (apps/server), with no `Request` or `Response` objects.
 *
 * @module
 */
import type { RouteLookup } from '@kv/core/protocol';
import type { EngineRequest, EngineResult } from './pipeline.js';

/**
 * The {@link EngineRequest} of a Web `Request`: method, target (path and query), headers, a body reader
 * that cancels the stream as soon as more than the limit arrived, and the request's abort signal.
 *
 * @param req - the request (its body not yet read)
 * @param route - `matchServerRoute` of it, when the caller already looked it up
 */
export function requestFromFetch(req: Request, route?: RouteLookup): EngineRequest {
  const url = req.url;
  // The target: from the first `/` after the scheme's `//`.
  const start = url.indexOf('/', url.indexOf('://') + 3);
  const target = start === -1 ? '/' : url.slice(start);
  const headers = req.headers;
  return {
    method: req.method,
    url: target,
    header: (name) => headers.get(name) ?? undefined,
    readBody: (limitBytes) => readStream(req.body, limitBytes),
    get signal() {
      return req.signal;
    },
    route,
  };
}

/**
 * Reads a body stream whole, stopping (and cancelling the stream) as soon as more than `limitBytes`
 * arrived.
 *
 * @returns the bytes (empty for no stream), or `null` past the limit
 */
async function readStream(
  body: ReadableStream<Uint8Array> | null,
  limitBytes: number,
): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The `Response` of an {@link EngineResult}: same status, headers and body (text, bytes or stream).
 *
 * @param result - what the pipeline answered
 */
export function responseFromResult(result: EngineResult): Response {
  const body = result.body;
  return new Response(
    body === undefined ? null : (body as Uint8Array<ArrayBuffer> | string | ReadableStream<Uint8Array>),
    { status: result.status, headers: result.headers },
  );
}
