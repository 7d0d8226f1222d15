/**
 * A bound on the memory held by clients that read large responses slowly or not at all. A value read
 * (`GET /v1/stores/{store}/entries/{key}`, signed URLs included) is answered from one in-memory buffer
 * that Node writes to the socket with backpressure (the kernel takes what the client acknowledges, the
 * rest waits in place, never copied) until the client has read it all or the connection closes (the
 * idle timeout drops a client that stopped reading). This budget caps the sum of those buffers:
 * beyond it a large read gets 503 `unavailable` with `Retry-After`, which `@kv/core`'s client retries.
 * docs/security.md "Connections, files and aborts".
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { HEADERS, ServerError } from '@kv/core/protocol';
import type { EngineResult } from '@kv/engine';
import { errorJson } from './error-response.js';

/** Responses with a body of at least this many bytes count against the budget. */
export const LARGE_RESPONSE_BYTES: number = 1024 * 1024;

/** The seconds a refused client is told to wait (`Retry-After`). */
const RETRY_AFTER_SECONDS = 1;

/** The budget of one server: see {@link createResponseBudget}. */
export interface ResponseBudget {
  /** Bytes of large response bodies being written now. */
  readonly inFlightBytes: number;
  /**
   * Admits `res` (to be written on `outgoing`) or refuses it: a response whose `Content-Length` is at
   * least {@link LARGE_RESPONSE_BYTES} is counted until `outgoing` closes; when it does not fit in the
   * budget next to those in flight, a 503 `unavailable` error response with `Retry-After: 1` is returned
   * instead (and `res`, with its buffer, is dropped). One large response is always admitted when none
   * is in flight, so a value larger than the budget stays readable.
   *
   * @param res - the result the engine built
   * @param outgoing - the Node response it will be written to
   * @returns `res`, or the 503 result
   */
  admit(res: EngineResult, outgoing: ServerResponse): EngineResult;
}

/**
 * Creates the budget.
 *
 * @param maxBytes - most bytes of large response bodies in flight at once
 */
export function createResponseBudget(maxBytes: number): ResponseBudget {
  let inFlight = 0;
  return {
    get inFlightBytes() {
      return inFlight;
    },
    admit(res, outgoing) {
      const length = res.headers['content-length'];
      if (length === undefined) return res;
      const bytes = Number(length);
      if (!(bytes >= LARGE_RESPONSE_BYTES) || outgoing.destroyed || outgoing.writableEnded) return res;
      if (inFlight > 0 && inFlight + bytes > maxBytes) {
        const requestId = res.headers[HEADERS.requestId];
        return errorJson(
          new ServerError('Too many large responses are being sent; retry shortly', {
            code: 'unavailable',
            details: { limitBytes: maxBytes, retryAfterMs: RETRY_AFTER_SECONDS * 1000 },
          }),
          {
            'retry-after': String(RETRY_AFTER_SECONDS),
            ...(requestId === undefined ? {} : { [HEADERS.requestId]: requestId }),
          },
        );
      }
      inFlight += bytes;
      outgoing.once('close', () => {
        inFlight -= bytes;
      });
      return res;
    },
  };
}
