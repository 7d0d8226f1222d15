/**
 * Request bodies read straight from Node's `IncomingMessage` for the engine (`READ_BODY` of
 * `@kv/engine`): reading `Request.body` from `@hono/node-server`'s lightweight request makes it build a
 * full undici `Request` (two `AbortSignal`s, made transferable on Node 20) and two web streams over the
 * socket, ~30 µs of CPU per write; this reads the chunks as a bare `node:http` server does.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { type BodyReader, READ_BODY } from '@kv/engine';

/**
 * The client closed its connection before the request body ended. Not a server fault: the engine turns
 * it into a 500 nobody receives, and the server logs and counts the request as 499 (client closed
 * request, as nginx does) at level info, never as an internal error.
 */
export class RequestAbortedError extends Error {
  override name = 'RequestAbortedError';
}

/**
 * Reads the whole body of `incoming`, stopping as soon as more than `limitBytes` arrived (the reader
 * detaches and pauses the stream; `@hono/node-server` drains or closes it once the response is sent).
 *
 * @param incoming - the request, not yet read
 * @param limitBytes - largest accepted body, in bytes
 * @returns the bytes, or `null` when the body is larger than `limitBytes`
 * @throws RequestAbortedError when the request errors or its connection closes before the body ends
 */
export function readIncomingBody(incoming: IncomingMessage, limitBytes: number): Promise<Uint8Array | null> {
  if (incoming.readableEnded) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const detach = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength;
      if (total > limitBytes) {
        detach();
        incoming.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      detach();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (error: Error): void => {
      detach();
      reject(new RequestAbortedError('The request was aborted before its body ended', { cause: error }));
    };
    const onClose = (): void => {
      detach();
      reject(new RequestAbortedError('The request was aborted before its body ended'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/**
 * Gives a request with a body a {@link BodyReader} over its `IncomingMessage` (`READ_BODY`), so the
 * engine reads it without a web stream. GET and HEAD requests are returned as they are.
 *
 * @returns `req` itself
 */
export function withBodyReader(req: Request, incoming: IncomingMessage): Request {
  if (req.method === 'GET' || req.method === 'HEAD') return req;
  const reader: BodyReader = (limitBytes) => readIncomingBody(incoming, limitBytes);
  (req as Request & { [READ_BODY]?: BodyReader })[READ_BODY] = reader;
  return req;
}
