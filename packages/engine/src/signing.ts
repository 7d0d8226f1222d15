/**
 * Signed public URLs (Apify `getRecordPublicUrl` / `createKeysPublicUrl`; issue 7): read-only URLs that
 * work without a token until they expire. The signature is HMAC-SHA256 (RFC 2104) with the store's
 * signing secret over the canonical request:
 *
 * ```
 * GET\n<path>\n<query params except "signature", sorted by name then value, form-encoded>\n<expires>
 * ```
 *
 * `expires` (epoch seconds) is itself a signed query parameter, so it cannot be extended. Changing any
 * byte of the method, path or query, using the URL on another store (other path, other secret), or
 * rotating the store's secret invalidates it. Uses WebCrypto only, so it runs in Node and browsers.
 *
 * @module
 */
import { UnauthenticatedError } from '@kv/core';

/** Query parameter holding the expiry, epoch seconds. */
export const SIGNED_EXPIRES_PARAM = 'expires';
/** Query parameter holding the base64url signature. */
export const SIGNED_SIGNATURE_PARAM = 'signature';
/**
 * Query parameter (signed like the others) limiting a URL made by a scoped token to the scopes that token
 * could read: percent-encoded scopes joined with `,`, or `*` for any scope (issue 7; docs/security.md).
 */
export const SIGNED_SCOPES_PARAM = 'signedScopes';

const encoder = new TextEncoder();

function canonical(method: string, url: URL): string {
  const params = [...url.searchParams.entries()]
    .filter(([k]) => k !== SIGNED_SIGNATURE_PARAM)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const query = new URLSearchParams(params).toString();
  return `${method.toUpperCase()}\n${url.pathname}\n${query}\n${url.searchParams.get(SIGNED_EXPIRES_PARAM) ?? ''}`;
}

async function hmac(secret: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Constant-time comparison of two strings of ASCII characters. */
export function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/**
 * Signs a GET URL: adds `expires` (epoch seconds) and `signature` query parameters.
 *
 * @param url - absolute URL of the route to expose (its query is part of what is signed)
 * @param secret - the store's signing secret
 * @param expiresAtSecs - expiry, epoch seconds
 * @returns the signed URL
 */
export async function signUrl(url: URL, secret: string, expiresAtSecs: number): Promise<URL> {
  const signed = new URL(url);
  signed.searchParams.delete(SIGNED_SIGNATURE_PARAM);
  signed.searchParams.set(SIGNED_EXPIRES_PARAM, String(Math.floor(expiresAtSecs)));
  signed.searchParams.set(SIGNED_SIGNATURE_PARAM, toBase64Url(await hmac(secret, canonical('GET', signed))));
  return signed;
}

/** True when the URL carries a signature (and should be checked with {@link verifySignedUrl}). */
export function isSignedUrl(url: URL): boolean {
  return url.searchParams.has(SIGNED_SIGNATURE_PARAM);
}

/**
 * Verifies a signed request: method must be GET or HEAD (read-only), the signature must match the
 * canonical request, and `expires` must be in the future.
 *
 * @throws {UnauthenticatedError} `signature_invalid` / `signature_expired` details, never saying more
 */
export async function verifySignedUrl(
  method: string,
  url: URL,
  secret: string,
  nowMs: number,
): Promise<void> {
  const given = url.searchParams.get(SIGNED_SIGNATURE_PARAM) ?? '';
  const expires = Number(url.searchParams.get(SIGNED_EXPIRES_PARAM));
  if (method !== 'GET' && method !== 'HEAD') {
    throw new UnauthenticatedError('Signed URLs are read-only', { details: { reason: 'signature_invalid' } });
  }
  const expected = toBase64Url(await hmac(secret, canonical('GET', url)));
  if (!timingSafeEqual(given, expected) || !Number.isSafeInteger(expires)) {
    throw new UnauthenticatedError('Invalid signature', { details: { reason: 'signature_invalid' } });
  }
  if (expires * 1000 <= nowMs) {
    throw new UnauthenticatedError('Signed URL expired', { details: { reason: 'signature_expired' } });
  }
}
