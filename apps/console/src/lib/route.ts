/**
 * The console's hash routes (`#/stores/orders/entries/user.1`): no server-side routing is needed, the
 * server serves one `index.html`, and keys (any UTF-8) travel percent-encoded in the fragment, which
 * never reaches a server or a log.
 *
 * @module
 */

/** A console view and its parameters. */
export type Route =
  | { view: 'stores' }
  | { view: 'entries'; store: string }
  | { view: 'entry'; store: string; key: string }
  | { view: 'live'; store: string }
  | { view: 'tokens' }
  | { view: 'server' };

/**
 * Parses a location hash; unknown hashes are the store list.
 *
 * @param hash - `location.hash`, e.g. `#/stores/orders`
 */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '');
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return { view: 'stores' };
  }
  const [first, store, sub, key] = decoded;
  if (first === 'tokens') return { view: 'tokens' };
  if (first === 'server') return { view: 'server' };
  if (first === 'stores' && store !== undefined) {
    if (sub === 'live') return { view: 'live', store };
    if (sub === 'entries' && key !== undefined) return { view: 'entry', store, key };
    return { view: 'entries', store };
  }
  return { view: 'stores' };
}

/**
 * The hash of a route (`#/...`), each part percent-encoded.
 *
 * @param route - the route
 */
export function hrefOf(route: Route): string {
  const e = encodeURIComponent;
  switch (route.view) {
    case 'stores':
      return '#/stores';
    case 'entries':
      return `#/stores/${e(route.store)}`;
    case 'entry':
      return `#/stores/${e(route.store)}/entries/${e(route.key)}`;
    case 'live':
      return `#/stores/${e(route.store)}/live`;
    case 'tokens':
      return '#/tokens';
    case 'server':
      return '#/server';
  }
}
