/**
 * Random UUIDs for `Idempotency-Key` headers, in every runtime the client supports. Internal to
 * `@kv/core`'s client.
 *
 * @module
 */

/** The part of the Web Crypto API this module uses (`globalThis.crypto` in Node >= 19 and browsers). */
export interface UuidCrypto {
  /** Fills `array` with cryptographically strong random bytes (Web Crypto `getRandomValues`). */
  getRandomValues<T extends Uint8Array>(array: T): T;
  /** Web Crypto `randomUUID`; absent in browsers outside a secure context (plain `http:` pages). */
  randomUUID?: () => string;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A random (version 4) UUID, lower-case `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` with `y` one of
 * `8 9 a b` (RFC 9562 section 5.4, formerly RFC 4122 section 4.4).
 *
 * Uses `crypto.randomUUID()` when the runtime has it. Browsers expose it only in secure contexts
 * (`https:`, `localhost`), so elsewhere the UUID is built from 16 bytes of `crypto.getRandomValues`,
 * which every context has.
 *
 * @param source - the Web Crypto object; defaults to `globalThis.crypto`
 * @returns a 36-character UUID string
 * @throws {Error} when `source` has neither `randomUUID` nor `getRandomValues` (no Web Crypto; Node.js
 *   >= 20 and every browser have it)
 */
export function randomUuid(source: UuidCrypto = globalThis.crypto as UuidCrypto): string {
  if (typeof source?.randomUUID === 'function') return source.randomUUID();
  if (typeof source?.getRandomValues !== 'function') {
    throw new Error('No Web Crypto in this runtime: crypto.getRandomValues is required for UUIDs');
  }
  const bytes = source.getRandomValues(new Uint8Array(16));
  // RFC 9562 section 5.4: version 4 in the high nibble of byte 6, variant 10xx in byte 8.
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i] as number];
  }
  return out;
}
