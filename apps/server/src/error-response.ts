/**
 * The JSON error response of the server's own answers (`/metrics`, the large-response budget), in the
 * protocol's error shape (docs/protocol.md "Errors"), as the engine writes it for protocol routes.
 *
 * @module
 */
import { HEADERS, JSON_CONTENT_TYPE, toWireError } from '@kv/core/protocol';
import type { EngineResult } from '@kv/engine';

/**
 * A JSON error result for `error` via core's `toWireError`: a `KvError` keeps its code, status and
 * details, anything else is a 500 `internal`. The code is repeated in the `Kv-Error-Code` header.
 *
 * @param error - what was thrown
 * @param headers - headers to add (e.g. `Retry-After`, the request id)
 */
export function errorJson(error: unknown, headers: Record<string, string> = {}): EngineResult {
  const { status, body } = toWireError(error);
  return {
    status,
    headers: { ...headers, 'content-type': JSON_CONTENT_TYPE, [HEADERS.errorCode]: body.error.code },
    body: JSON.stringify(body),
  };
}
