/**
 * The signed-in session: the token lives in `sessionStorage` only (this tab, until it closes), never
 * in the URL, a cookie or a log; every call goes through `@kv/browser` with it, so the server's access
 * control applies to the console exactly as to any client (docs/console.md).
 *
 * @module
 */
import { type BrowserClient, createClient } from '@kv/browser';

const TOKEN_KEY = 'kv-console-token';
/** IndexedDB name of the console's value cache (cleared at sign-in and sign-out). */
const CACHE_NAME = 'kv-console-cache';

/** The token of this tab's session, if signed in. */
export function savedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/**
 * Keeps `token` for this tab (or forgets it with `null`).
 *
 * @param token - the bearer token, or null to sign out
 */
export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * A client for this origin's server with `token`: the `@kv/browser` cache in revalidate-always mode
 * (`maxAgeMs: 0`: every read asks the server, which answers 304 when unchanged), so a cached value is
 * never shown without the server's consent to this token.
 *
 * @param token - the bearer token
 */
export function clientFor(token: string): BrowserClient {
  return createClient({
    url: location.origin,
    token,
    retry: { limit: 1 },
    cache: { name: CACHE_NAME, maxAgeMs: 0, live: false, offlineWrites: false },
  });
}

/**
 * Empties the value cache (sign-in and sign-out: values read with one token never outlive its session).
 *
 * @param client - the session's client
 */
export async function forgetCache(client: BrowserClient): Promise<void> {
  await client.cache?.clear({ queue: true }).catch(() => undefined);
}

/**
 * `fetch` of a server path outside the client's API (`/metrics`) with the session's token.
 *
 * @param token - the bearer token
 * @param path - the path, e.g. `/metrics`
 */
export function authorizedFetch(token: string, path: string): Promise<Response> {
  return fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
}
