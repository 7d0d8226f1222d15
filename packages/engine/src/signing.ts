/**
 * Signed public URLs (Apify `getRecordPublicUrl` / `createKeysPublicUrl`): read-only URLs that
 * work without a token until they expire. The signature is HMAC-SHA256 (RFC 2104), base64url, with the
 * store's signing secret over the exact bytes the signer emitted:
 *
 * ```
 * kv-signed-url-v2\nGET\n<path>?<query>
 * ```
 *
 * where `<path>?<query>` is the URL's path and query up to (not including) `&signature=`, which must be
 * the last parameter. Nothing is decoded, re-encoded or reordered before verifying, so a URL altered in
 * any byte (another escape case, `/` for `%2F`, parameters reordered, a parameter appended, even a second
 * `signature`) fails; a query naming a parameter twice is refused as well. `expires` (epoch seconds) is
 * itself a signed parameter, so it cannot be extended. Using the URL on another store (other path, other
 * secret) or rotating the store's secret invalidates it. Uses WebCrypto only, so it runs in Node and
 * browsers.
 *
 * @module
 */
import { bytesToBase64Url, LIMITS, UnauthenticatedError } from '@kv/core/protocol';

/** Query parameter holding the expiry, epoch seconds. */
export const SIGNED_EXPIRES_PARAM = 'expires';
/** Query parameter holding the base64url signature. */
export const SIGNED_SIGNATURE_PARAM = 'signature';
/**
 * Query parameter (signed like the others) limiting a URL made by a scoped token to the scopes that token
 * could read: percent-encoded scopes joined with `,`, or `*` for any scope (docs/security.md).
 */
export const SIGNED_SCOPES_PARAM = 'signedScopes';

const encoder = new TextEncoder();

/** Domain separation and version of the signed message (v1 signed a sorted, re-encoded query). */
const MESSAGE_PREFIX = 'kv-signed-url-v2\nGET\n';
const SIGNATURE_SEPARATOR = `&${SIGNED_SIGNATURE_PARAM}=`;

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

/** Constant-time comparison of two strings of ASCII characters. */
export function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/**
 * Signs a GET URL: adds `expires` (epoch seconds) and then `signature` as the last query parameter. The
 * signature covers the path and query exactly as serialized here (WHATWG URL serialization, which a URL
 * parser leaves unchanged), so the URL must be used as returned.
 *
 * @param url - absolute URL of the route to expose (its query is part of what is signed; a `signature`
 *   parameter in it is dropped)
 * @param secret - the store's signing secret
 * @param expiresAtSecs - expiry, epoch seconds (floored)
 * @returns the signed URL
 * @throws {TypeError} when the URL names a query parameter twice (such a URL would never verify)
 */
export async function signUrl(url: URL, secret: string, expiresAtSecs: number): Promise<URL> {
  const unsigned = new URL(url);
  unsigned.hash = '';
  unsigned.searchParams.delete(SIGNED_SIGNATURE_PARAM);
  const names = [...unsigned.searchParams.keys()].filter((n) => n !== SIGNED_EXPIRES_PARAM);
  if (new Set(names).size !== names.length) throw new TypeError('signUrl: a query parameter is repeated');
  unsigned.searchParams.set(SIGNED_EXPIRES_PARAM, String(Math.floor(expiresAtSecs)));
  const body = unsigned.pathname + unsigned.search;
  const signature = bytesToBase64Url(await hmac(secret, MESSAGE_PREFIX + body));
  const signed = new URL(`${body}${SIGNATURE_SEPARATOR}${signature}`, unsigned);
  if (signed.pathname + signed.search !== `${body}${SIGNATURE_SEPARATOR}${signature}`) {
    // Cannot happen for a URL serialized by URL itself; refuse rather than hand out a URL that fails.
    throw new Error('signUrl: the URL does not serialize stably');
  }
  return signed;
}

/** True when the URL carries a signature (and should be checked with {@link verifySignedUrl}). */
export function isSignedUrl(url: URL): boolean {
  return url.searchParams.has(SIGNED_SIGNATURE_PARAM);
}

function invalid(): UnauthenticatedError {
  return new UnauthenticatedError('Invalid signature', { details: { reason: 'signature_invalid' } });
}

/**
 * Verifies a signed request: the method must be GET or HEAD (read-only); the URL's path and query must be
 * byte for byte what {@link signUrl} emitted (the signature is the last parameter and covers everything
 * before it; no parameter may appear twice); and `expires` must be in the future, at most 7 days (and a
 * minute of clock skew) ahead of `nowMs`, as signing allows.
 *
 * @param method - the request method
 * @param url - the request URL as received (only its path and query are read)
 * @param secret - the signing secret of the store in the path
 * @param nowMs - "now", epoch ms
 * @throws {UnauthenticatedError} `signature_invalid` / `signature_expired` details, never saying more
 */
export async function verifySignedUrl(
  method: string,
  url: URL,
  secret: string,
  nowMs: number,
): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') {
    throw new UnauthenticatedError('Signed URLs are read-only', { details: { reason: 'signature_invalid' } });
  }
  const search = url.search;
  // `?...&signature=<sig>`: the signature is the last parameter, after at least `expires`.
  const at = search.lastIndexOf(SIGNATURE_SEPARATOR);
  if (at < 1) throw invalid();
  const query = search.slice(1, at);
  const given = search.slice(at + SIGNATURE_SEPARATOR.length);
  // One reading per parameter: a name twice (also `a` and `%61`), or a second signature, is refused.
  const params = new URLSearchParams(query);
  const names = [...params.keys()];
  if (new Set(names).size !== names.length || params.has(SIGNED_SIGNATURE_PARAM)) throw invalid();
  if (!/^[A-Za-z0-9_-]{43}$/.test(given)) throw invalid();
  const expected = bytesToBase64Url(await hmac(secret, `${MESSAGE_PREFIX}${url.pathname}?${query}`));
  if (!timingSafeEqual(given, expected)) throw invalid();
  const expires = params.get(SIGNED_EXPIRES_PARAM);
  if (expires === null || !/^\d{1,15}$/.test(expires)) throw invalid();
  if (Number(expires) * 1000 <= nowMs) {
    throw new UnauthenticatedError('Signed URL expired', { details: { reason: 'signature_expired' } });
  }
  // Signing allows at most 7 days: a URL reaching further was not made by this engine's signer.
  if (Number(expires) * 1000 - nowMs > MAX_EXPIRES_AHEAD_MS) throw invalid();
}

/**
 * Furthest `expires` a URL may carry when verified, ms ahead of now: the 7 days signing allows
 * (`LIMITS.maxSignedUrlExpiresInSecs`) plus one minute for clocks of several instances that differ.
 */
const MAX_EXPIRES_AHEAD_MS = LIMITS.maxSignedUrlExpiresInSecs * 1000 + 60_000;

/**
 * Content types a signed URL may serve inline (docs/security.md "Signed URLs"): types a browser shows
 * without running script (with `nosniff`, it never reinterprets them). Compared on the type's essence,
 * lower-cased, parameters dropped. Everything else, notably `text/html`, `image/svg+xml`,
 * `application/xhtml+xml`, `text/xml` and `application/pdf`, is served as a download.
 */
export const INLINE_SAFE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/octet-stream',
  'text/plain',
  'text/csv',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
]);

/**
 * The safety headers of every answer to a signed URL: `X-Content-Type-Options: nosniff`, and
 * `Content-Disposition: attachment` when the answer has a content type outside
 * {@link INLINE_SAFE_CONTENT_TYPES}, so a value stored as HTML or SVG never renders (and runs script) on
 * the server's origin when its public URL is opened.
 *
 * @param contentType - the answer's `Content-Type`, or null when it has none (a 304)
 */
export function signedResponseHeaders(contentType: string | null): Record<string, string> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (contentType === null) return headers;
  const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!INLINE_SAFE_CONTENT_TYPES.has(essence)) headers['content-disposition'] = 'attachment';
  return headers;
}
