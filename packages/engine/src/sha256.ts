/**
 * Synchronous SHA-256 (FIPS 180-4) for short inputs on the request path (bearer token hashes), from
 * `@noble/hashes` (audited, dependency-free, runs in browsers and Node). `crypto.subtle.digest` is
 * asynchronous and, on Node 20, costs ~50 µs of CPU per call (a thread-pool job and its promise); this
 * costs ~1-2 µs for a token. `sha256Hex` in http.ts uses this up to 4 KiB (about 25 µs; the JS digest
 * costs more CPU than Web Crypto above ~8 KiB, and blocks the event loop) and `crypto.subtle` above.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

const encoder = new TextEncoder();

/**
 * Lower-case hex SHA-256 of `data` (a string is hashed as its UTF-8 bytes), the same digest as
 * `crypto.subtle.digest('SHA-256', ...)`.
 *
 * @param data - the bytes, or a string to encode as UTF-8
 * @returns 64 hex characters
 */
export function sha256HexSync(data: Uint8Array | string): string {
  return bytesToHex(sha256(typeof data === 'string' ? encoder.encode(data) : data));
}
