/**
 * Limits of the JSON request bodies (docs/security.md "Limits against hostile clients"): each JSON
 * route reads at most what it can legitimately need, and no body nested deeper than
 * {@link MAX_JSON_DEPTH} reaches `JSON.parse`. A deep document (`{"keys":[[[[...`) is refused by a
 * linear scan of its bytes that stops at the first bracket over the limit, so it is never built.
 *
 * @module
 */
import { LIMITS, ValidationError } from '@kv/core';

/**
 * Deepest nesting of arrays and objects accepted in a JSON body (the top-level object is depth 1).
 * The protocol's own bodies nest at most 3 deep; the rest is room for `metadata` objects in bulk and
 * atomic writes (`{"items":[{"metadata":{...}}]}` leaves them 60 levels).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Largest body of the small JSON routes, in bytes: store create and update, set expiry, signed URLs,
 * token creation. The largest of them, a token of 256 capabilities of 200 characters each, is under
 * 104 KiB even with every character JSON-escaped.
 */
export const SMALL_JSON_BODY_BYTES: number = 128 * 1024;

/**
 * Largest body of `bulk/get` and `bulk/delete`, in bytes: 10,000 keys of 512 bytes, every byte
 * JSON-escaped (`\"`), each with its quotes and comma, plus 1 KiB for the rest (about 9.8 MiB).
 */
export const KEYS_JSON_BODY_BYTES: number = LIMITS.maxBulkItems * (2 * LIMITS.maxKeyBytes + 3) + 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Refuses a JSON text nested deeper than `maxDepth`, scanning its UTF-8 bytes once: `[` and `{` outside
 * strings open a level, `]` and `}` close one; inside strings `\` escapes the next byte. (UTF-8
 * continuation bytes are never ASCII, so a byte-level scan sees exactly the structural characters.)
 * Stops at the first byte over the limit; a malformed text is left for `JSON.parse` to report.
 *
 * @param bytes - the body, UTF-8
 * @param maxDepth - deepest nesting accepted @default MAX_JSON_DEPTH
 * @throws {ValidationError} 400 `validation_error`, `details: { field: 'body', reason: 'too_deep', maxDepth }`
 */
export function checkJsonDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > maxDepth) {
        throw new ValidationError(`Request body nests JSON deeper than ${maxDepth} levels`, {
          details: { field: 'body', reason: 'too_deep', maxDepth },
        });
      }
    } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
      depth--;
    }
  }
}
