/**
 * Sealed listing cursors (docs/protocol.md "Listing", docs/security.md "Scoped capabilities"). A cursor
 * holds the last key a listing *examined*, which for a scoped token may be an entry it cannot read; so
 * the engine never hands the key out readable. It seals the position with AES-256-GCM (NIST SP 800-38D)
 * under a key derived by HKDF-SHA256 (RFC 5869) from the store's signing secret, with a fresh random
 * 96-bit IV per cursor and the store name as associated data:
 *
 * ```
 * cursor = base64url(0x01 || iv[12] || AES-GCM(key, iv, aad = "kv-cursor-v1\0" + store, plaintext))
 * plaintext = direction byte (0 forward, 1 reverse) || key length (2 bytes, big-endian) || UTF-8 last key
 *             || zero bytes up to 515 bytes in all
 * ```
 *
 * The padding makes every cursor the same length (726 characters), so a cursor does not reveal even the
 * length of a key the caller may not see.
 *
 * The store's signing secret is persisted with the store, so a cursor keeps working across restarts and
 * on every engine over the same storage; rotating the secret (or deleting the store) makes older cursors
 * `400`. Web Crypto only: runs in Node and in browsers (the mock).
 *
 * @module
 */
import { bytesToBase64Url, type CursorPayload, LIMITS, ValidationError } from '@kv/core/protocol';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Direction byte + 2-byte length + the longest key: every plaintext is padded to this size. */
const PLAIN_BYTES = 1 + 2 + LIMITS.maxKeyBytes;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const HKDF_INFO = encoder.encode('kv listing cursor v1 aes-256-gcm');
/** Derived keys kept per signing secret (a bounded cache: cleared when it grows past this many). */
const MAX_CACHED_KEYS = 1024;

/** A Web Crypto key (the engine's lib has no DOM `CryptoKey`). */
type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Canonical form only (unused low bits zero): one cursor, one spelling.
  return bytesToBase64Url(out) === text ? out : undefined;
}

function malformed(): ValidationError {
  return new ValidationError('Malformed cursor', { details: { field: 'cursor', reason: 'invalid_format' } });
}

/**
 * Seals and opens listing cursors of the stores of one engine. Holds a cache of derived keys by signing
 * secret; otherwise stateless (a cursor is checked against the store's current secret only).
 */
export class CursorSealer {
  readonly #keys = new Map<string, Promise<Key>>();

  #key(secret: string): Promise<Key> {
    let key = this.#keys.get(secret);
    if (key === undefined) {
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
      key = (async () => {
        const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
          'deriveKey',
        ]);
        return crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: HKDF_INFO },
          base,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        );
      })();
      this.#keys.set(secret, key);
      // A failed derivation is not cached.
      key.catch(() => this.#keys.delete(secret));
    }
    return key;
  }

  /**
   * Seals a listing position into an opaque cursor (base64url, no padding, 726 characters whatever the
   * key).
   *
   * @throws {ValidationError} when the key is longer than a valid key (512 UTF-8 bytes)
   *
   * @param secret - the store's signing secret (`StoreRecord.signingSecret`)
   * @param store - the store name (bound into the cursor: it does not open on another store)
   * @param payload - the last key examined and the listing's direction
   */
  async seal(secret: string, store: string, payload: CursorPayload): Promise<string> {
    const key = encoder.encode(payload.lastKey);
    if (key.length > LIMITS.maxKeyBytes) throw malformed();
    const plain = new Uint8Array(PLAIN_BYTES);
    plain[0] = payload.reverse ? 1 : 0;
    plain[1] = key.length >> 8;
    plain[2] = key.length & 0xff;
    plain.set(key, 3);
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: aad(store), tagLength: TAG_BYTES * 8 },
        await this.#key(secret),
        plain,
      ),
    );
    const out = new Uint8Array(1 + IV_BYTES + sealed.length);
    out[0] = VERSION;
    out.set(iv, 1);
    out.set(sealed, 1 + IV_BYTES);
    return bytesToBase64Url(out);
  }

  /**
   * Opens a cursor made by {@link seal} for this store under its current secret.
   *
   * @returns the listing position
   * @throws {ValidationError} 400 (`details.field: 'cursor'`, `reason: 'invalid_format'`) for anything
   *   else: malformed, altered, made for another store, or before the store's secret was rotated
   */
  async open(secret: string, store: string, cursor: string): Promise<CursorPayload> {
    const bytes = fromBase64Url(cursor);
    if (
      bytes === undefined ||
      bytes.length !== 1 + IV_BYTES + PLAIN_BYTES + TAG_BYTES ||
      bytes[0] !== VERSION
    ) {
      throw malformed();
    }
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          {
            name: 'AES-GCM',
            iv: bytes.subarray(1, 1 + IV_BYTES),
            additionalData: aad(store),
            tagLength: TAG_BYTES * 8,
          },
          await this.#key(secret),
          bytes.subarray(1 + IV_BYTES),
        ),
      );
    } catch {
      throw malformed();
    }
    const direction = plain[0];
    const length = ((plain[1] ?? 0) << 8) | (plain[2] ?? 0);
    if ((direction !== 0 && direction !== 1) || length > LIMITS.maxKeyBytes) throw malformed();
    let lastKey: string;
    try {
      lastKey = decoder.decode(plain.subarray(3, 3 + length));
    } catch {
      throw malformed();
    }
    return { lastKey, reverse: direction === 1 };
  }
}

function aad(store: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`kv-cursor-v1\0${store}`);
}
