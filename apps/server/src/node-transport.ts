/**
 * The `node:http` transport of the engine's pipeline (docs/architecture.md "Request pipeline"): an
 * `IncomingMessage` becomes a plain `EngineRequest` (headers read from Node's own header object, the
 * body read straight from the socket stream) and an `EngineResult` is written with one `writeHead` and
 * one `end`, or streamed with backpressure. No `Request`, `Response`, `Headers` or web stream is built
 * on the way (a `Request` costs two `AbortSignal`s and an undici header list per request).
 *
 * It lives in the server, not the engine: the engine imports no `node:` module and runs in browsers.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress } from 'node:zlib';
import { type RouteLookup, ValidationError } from '@kv/core/protocol';
import type { EngineRequest, EngineResult } from '@kv/engine';
import { readIncomingBody } from './body.js';

const brotli = promisify(brotliDecompress);

/** Most bytes of an unread request body discarded after the answer, before the connection is closed. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
/** Longest wait for an unread request body to end after the answer, in ms. */
const DRAIN_TIMEOUT_MS = 500;

/**
 * The {@link EngineRequest} of a Node request. The abort signal is made on first read (only watch
 * streams read it): it aborts when the response closes before it finished (the client went away) or
 * when `shutdown` aborts.
 */
export class NodeRequest implements EngineRequest {
  readonly method: string;
  readonly url: string;
  readonly route: RouteLookup | undefined;
  readonly #incoming: IncomingMessage;
  readonly #outgoing: ServerResponse;
  readonly #shutdown: AbortSignal | undefined;
  #signal: AbortSignal | undefined;

  /**
   * @param incoming - the request
   * @param outgoing - its response (its `close` ends the signal)
   * @param route - `matchServerRoute` of the request, when already looked up
   * @param shutdown - also ends the signal (server shutdown ends watch streams)
   */
  constructor(
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    route?: RouteLookup,
    shutdown?: AbortSignal,
  ) {
    this.#incoming = incoming;
    this.#outgoing = outgoing;
    this.#shutdown = shutdown;
    this.method = incoming.method ?? 'GET';
    this.url = incoming.url ?? '/';
    this.route = route;
  }

  /** A request header by lower-case name; repeated ones joined with `, `. */
  header(name: string): string | undefined {
    const value = this.#incoming.headers[name];
    return value === undefined || typeof value === 'string' ? value : value.join(', ');
  }

  /** The body, read from the socket stream within `limitBytes` (see `readIncomingBody`). */
  readBody(limitBytes: number): Promise<Uint8Array | null> {
    return readIncomingBody(this.#incoming, limitBytes);
  }

  /**
   * Decodes a `br` body with `node:zlib` (Node 20's `DecompressionStream` has no brotli), stopping once the
   * output passes `limitBytes` (`maxOutputLength`), so a brotli bomb costs at most that much memory.
   */
  async decompress(
    encoding: string,
    body: Uint8Array,
    limitBytes: number,
  ): Promise<Uint8Array | null | undefined> {
    if (encoding !== 'br') return undefined;
    try {
      return await brotli(body, { maxOutputLength: limitBytes });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw new ValidationError('Request body is not valid brotli', {
        details: { field: 'Content-Encoding', reason: 'invalid_format' },
      });
    }
  }

  /** Aborted when the client goes away before the answer finished, or at shutdown. */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      const controller = new AbortController();
      const outgoing = this.#outgoing;
      if (outgoing.destroyed && !outgoing.writableFinished) controller.abort();
      else
        outgoing.once('close', () => {
          if (!outgoing.writableFinished) controller.abort();
        });
      this.#signal =
        this.#shutdown === undefined
          ? controller.signal
          : AbortSignal.any([controller.signal, this.#shutdown]);
    }
    return this.#signal;
  }
}

/**
 * Writes a result to a Node response: status and headers in one `writeHead` (with `Content-Length` for
 * text and bytes), then the body in one `end`, or a stream chunk by chunk, waiting for `drain` when the
 * socket is full and cancelling the stream when the connection closes. A request body left unread is
 * discarded once the answer is sent (at most 64 MiB and 500 ms, then the connection closes), so the
 * connection can serve its next request.
 *
 * @param incoming - the request (its unread body is drained)
 * @param outgoing - the response
 * @param result - what to write
 * @returns when the body is handed to the socket (a stream: when it ended or was cancelled)
 */
export async function writeResult(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  result: EngineResult,
): Promise<void> {
  if (incoming.method !== 'GET' && incoming.method !== 'HEAD' && !incoming.readableEnded) {
    outgoing.once('finish', () => drainIncoming(incoming));
  }
  if (outgoing.destroyed) {
    cancel(result.body);
    return;
  }
  const body = result.body;
  const headers = result.headers;
  if (body === undefined) {
    outgoing.writeHead(result.status, headers);
    outgoing.end();
    return;
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    if (headers['content-length'] === undefined) {
      headers['content-length'] = String(
        typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );
    }
    outgoing.writeHead(result.status, headers);
    outgoing.end(body);
    return;
  }
  outgoing.writeHead(result.status, headers);
  outgoing.flushHeaders();
  await pipeStream(body, outgoing);
}

function cancel(body: EngineResult['body']): void {
  if (body !== undefined && typeof body === 'object' && !(body instanceof Uint8Array)) {
    body.cancel().catch(() => {});
  }
}

/** Copies a web stream to the response with backpressure; a closed connection cancels the stream. */
async function pipeStream(stream: ReadableStream<Uint8Array>, outgoing: ServerResponse): Promise<void> {
  const reader = stream.getReader();
  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = (): void => {
    closed = true;
    reader.cancel().catch(() => {});
    wake?.();
  };
  outgoing.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) break;
      if (!outgoing.write(value) && !closed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          outgoing.once('drain', resolve);
        });
        outgoing.off('drain', wake as () => void);
        wake = undefined;
      }
    }
  } catch {
    // The stream failed: end the response (the client sees the stream stop).
  } finally {
    outgoing.off('close', onClose);
    if (!outgoing.writableEnded) outgoing.end();
  }
}

/** Discards what is left of a request body after its answer (bounded); then closes a stuck connection. */
function drainIncoming(incoming: IncomingMessage): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  let bytes = 0;
  const cleanup = (): void => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
  };
  const forceClose = (): void => {
    cleanup();
    const socket = incoming.socket;
    if (socket !== null && !socket.destroyed) socket.destroySoon();
  };
  const onData = (chunk: Buffer): void => {
    bytes += chunk.byteLength;
    if (bytes > MAX_DRAIN_BYTES) forceClose();
  };
  const timer = setTimeout(forceClose, DRAIN_TIMEOUT_MS);
  timer.unref();
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.resume();
}
