/**
 * Request bodies read straight from Node's `IncomingMessage` for the engine (the `readBody` of the
 * `node:http` transport, node-transport.ts): the chunks are read as a bare `node:http` server does, with
 * no web stream and no undici `Request` over the socket.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';

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
 * detaches and pauses the stream; the transport drains or closes it once the response is sent).
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
