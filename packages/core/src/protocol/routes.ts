/**
 * The route table of the protocol (docs/protocol.md "Route summary"): every operation once, as
 * `{ name, method, template }`. The engine's router and OpenAPI document, the server's metric labels, the
 * clients' request building and the browser cache's routing all derive from it, so a route added here
 * appears everywhere.
 *
 * Templates use OpenAPI path syntax (`/v1/stores/{store}`); each `{param}` is exactly one path segment,
 * percent-encoded with `encodeURIComponent` when built and strictly decoded when matched (a key holding `/`
 * travels as `%2F` and stays one segment).
 *
 * @module
 */

/** An HTTP method of the protocol. `HEAD` is served wherever `GET` is (RFC 9110 section 9.3.2). */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One operation of the protocol: a method on a path template. */
export interface RouteDef {
  /** The operation's name (also its OpenAPI `operationId`). */
  readonly name: string;
  /** Its method; a `GET` route also answers `HEAD`. */
  readonly method: Exclude<HttpMethod, 'HEAD'>;
  /** OpenAPI path template, e.g. `/v1/stores/{store}/entries/{key}`. */
  readonly template: string;
  /**
   * The template's last `{param}` takes the rest of the path: one or more segments, each decoded, joined
   * with `/` (Apify record keys, which `apify-client` sends unencoded). A single `%2F`-encoded segment
   * reads the same.
   */
  readonly greedy?: boolean;
}

/**
 * Every route of the protocol, by name. Service routes (`/healthz`, `/openapi.json`) are included;
 * a server may add its own (`/readyz`, `/metrics`) outside the table. The compatibility APIs' routes
 * (Cloudflare KV REST, Apify v2) are in `compat-routes.ts` (`SERVER_ROUTES` is both), so clients and
 * their bundles carry only these.
 */
export const ROUTES = {
  health: { name: 'health', method: 'GET', template: '/healthz' },
  openapi: { name: 'openapi', method: 'GET', template: '/openapi.json' },
  listStores: { name: 'listStores', method: 'GET', template: '/v1/stores' },
  createStore: { name: 'createStore', method: 'POST', template: '/v1/stores' },
  getStore: { name: 'getStore', method: 'GET', template: '/v1/stores/{store}' },
  updateStore: { name: 'updateStore', method: 'PATCH', template: '/v1/stores/{store}' },
  deleteStore: { name: 'deleteStore', method: 'DELETE', template: '/v1/stores/{store}' },
  listEntries: { name: 'listEntries', method: 'GET', template: '/v1/stores/{store}/entries' },
  getEntry: { name: 'getEntry', method: 'GET', template: '/v1/stores/{store}/entries/{key}' },
  putEntry: { name: 'putEntry', method: 'PUT', template: '/v1/stores/{store}/entries/{key}' },
  deleteEntry: { name: 'deleteEntry', method: 'DELETE', template: '/v1/stores/{store}/entries/{key}' },
  getHistory: { name: 'getHistory', method: 'GET', template: '/v1/stores/{store}/entries/{key}/history' },
  setExpiry: { name: 'setExpiry', method: 'PUT', template: '/v1/stores/{store}/entries/{key}/expiry' },
  increment: { name: 'increment', method: 'POST', template: '/v1/stores/{store}/entries/{key}/increment' },
  getById: { name: 'getById', method: 'GET', template: '/v1/stores/{store}/ids/{id}' },
  listScopes: { name: 'listScopes', method: 'GET', template: '/v1/stores/{store}/scopes' },
  bulkGet: { name: 'bulkGet', method: 'POST', template: '/v1/stores/{store}/bulk/get' },
  bulkSet: { name: 'bulkSet', method: 'POST', template: '/v1/stores/{store}/bulk/set' },
  bulkDelete: { name: 'bulkDelete', method: 'POST', template: '/v1/stores/{store}/bulk/delete' },
  atomic: { name: 'atomic', method: 'POST', template: '/v1/stores/{store}/atomic' },
  watch: { name: 'watch', method: 'GET', template: '/v1/stores/{store}/watch' },
  createSignedUrl: { name: 'createSignedUrl', method: 'POST', template: '/v1/stores/{store}/signed-urls' },
  rotateSigningSecret: {
    name: 'rotateSigningSecret',
    method: 'POST',
    template: '/v1/stores/{store}/signing-secret',
  },
  enqueue: { name: 'enqueue', method: 'POST', template: '/v1/stores/{store}/queue' },
  queueStats: { name: 'queueStats', method: 'GET', template: '/v1/stores/{store}/queue' },
  leaseMessages: { name: 'leaseMessages', method: 'POST', template: '/v1/stores/{store}/queue/lease' },
  ackMessage: { name: 'ackMessage', method: 'POST', template: '/v1/stores/{store}/queue/{id}/ack' },
  nackMessage: { name: 'nackMessage', method: 'POST', template: '/v1/stores/{store}/queue/{id}/nack' },
  extendLease: { name: 'extendLease', method: 'POST', template: '/v1/stores/{store}/queue/{id}/extend' },
  listTokens: { name: 'listTokens', method: 'GET', template: '/v1/tokens' },
  createToken: { name: 'createToken', method: 'POST', template: '/v1/tokens' },
  revokeToken: { name: 'revokeToken', method: 'DELETE', template: '/v1/tokens/{id}' },
} as const;

/** The name of a route of {@link ROUTES}. */
export type RouteName = keyof typeof ROUTES;

/** The `{param}` names of a template, as a union of string literals. */
export type TemplateParams<T extends string> = T extends `${string}{${infer P}}${infer Rest}`
  ? P | TemplateParams<Rest>
  : never;

/** The parameters {@link buildPath} needs for route `N`: one string per `{param}` of its template. */
export type RouteParams<N extends RouteName> = {
  [P in TemplateParams<(typeof ROUTES)[N]['template']>]: string;
};

/** A path matched to a route of {@link ROUTES}. */
export interface RouteMatch {
  /** The route. */
  route: RouteDef;
  /** Its parameters, percent-decoded (one path segment each). */
  params: Record<string, string>;
}

/** The answer of {@link matchRoute}. */
export type RouteLookup =
  | ({ kind: 'match' } & RouteMatch)
  /** The path names a route, but not for this method: answer 405 with `Allow: allow`. */
  | { kind: 'method_not_allowed'; template: string; allow: HttpMethod[] }
  /** No route has this path: answer 404. */
  | { kind: 'not_found' }
  /** A parameter segment is not valid percent-encoded UTF-8 (`param` names it): answer 400. */
  | { kind: 'bad_encoding'; template: string; param: string };

interface CompiledRoute {
  route: RouteDef;
  /** Literal segments, or `null` where a parameter sits. */
  literals: Array<string | null>;
  /** Parameter names, in segment order. */
  params: string[];
  /** The last parameter takes the rest of the path ({@link RouteDef.greedy}). */
  greedy: boolean;
}

function compileRoute(r: RouteDef): CompiledRoute {
  const segments = r.template.slice(1).split('/');
  const literals: Array<string | null> = [];
  const params: string[] = [];
  for (const segment of segments) {
    if (segment.startsWith('{') && segment.endsWith('}')) {
      literals.push(null);
      params.push(segment.slice(1, -1));
    } else {
      literals.push(segment);
    }
  }
  return { route: r, literals, params, greedy: r.greedy === true };
}

/**
 * A matcher over `routes` (a route table's values), answering as {@link matchRoute} does for them. No two
 * templates of the table may fit one path (each table's test checks it), so the first fit is the only one.
 *
 * @param routes - the routes, in table order (the order of `Allow`)
 * @returns `(method, path) => RouteLookup`
 */
export function createRouteMatcher(
  routes: readonly RouteDef[],
): (method: string, path: string) => RouteLookup {
  /** Routes grouped by template (one group per path shape), in table order. */
  const byTemplate = new Map<string, CompiledRoute[]>();
  for (const c of routes.map(compileRoute)) {
    const group = byTemplate.get(c.route.template);
    if (group) group.push(c);
    else byTemplate.set(c.route.template, [c]);
  }
  // The groups by their template's first segment (every template starts with a literal: `v1`, `client`,
  // `v2`, `healthz`...), so a path is compared only with the templates it could fit; groups whose first
  // segment is a parameter are tried for every path.
  const byFirstSegment = new Map<string, CompiledRoute[][]>();
  const anyFirstSegment: CompiledRoute[][] = [];
  for (const group of byTemplate.values()) {
    const first = (group[0] as CompiledRoute).literals[0];
    if (first === null || first === undefined) anyFirstSegment.push(group);
    else {
      const list = byFirstSegment.get(first);
      if (list) list.push(group);
      else byFirstSegment.set(first, [group]);
    }
  }
  return (method, path) => {
    if (path.length === 0 || path.charCodeAt(0) !== 47 /* / */) return { kind: 'not_found' };
    const segments = path.slice(1).split('/');
    const candidates = byFirstSegment.get(segments[0] as string) ?? NO_GROUPS;
    const shapes = anyFirstSegment.length === 0 ? candidates : [...candidates, ...anyFirstSegment];
    for (const group of shapes) {
      const shape = group[0] as CompiledRoute;
      if (!segmentsFit(shape, segments)) continue;
      return matchIn(group, shape, method, segments);
    }
    return { kind: 'not_found' };
  };
}

/** The answer for a path that fits `group`'s template: the method's route with its parameters, or 405/400. */
function matchIn(
  group: CompiledRoute[],
  shape: CompiledRoute,
  method: string,
  segments: string[],
): RouteLookup {
  const wanted = method === 'HEAD' ? 'GET' : method;
  const hit = group.find((c) => c.route.method === wanted);
  if (!hit) {
    const allow: HttpMethod[] = [];
    for (const c of group) {
      allow.push(c.route.method);
      if (c.route.method === 'GET') allow.push('HEAD');
    }
    return { kind: 'method_not_allowed', template: shape.route.template, allow };
  }
  const params: Record<string, string> = {};
  let p = 0;
  const last = hit.literals.length - 1;
  for (let i = 0; i < hit.literals.length; i++) {
    if (hit.literals[i] !== null) continue;
    const name = hit.params[p++] as string;
    try {
      params[name] =
        hit.greedy && i === last
          ? segments.slice(i).map(decodeURIComponent).join('/')
          : decodeURIComponent(segments[i] as string);
    } catch {
      return { kind: 'bad_encoding', template: hit.route.template, param: name };
    }
  }
  return { kind: 'match', route: hit.route, params };
}

const nativeMatcher = createRouteMatcher(Object.values(ROUTES));

/**
 * Matches a request's method and raw path (no query; as received, still percent-encoded) to a route of
 * {@link ROUTES} (a server also answers the compatibility routes: `matchServerRoute`). `HEAD` matches a
 * `GET` route. No two templates of the table fit one path (the table's test checks it), so the first fit
 * is the only one. Parameter segments are decoded strictly with `decodeURIComponent`; an empty segment
 * never matches a parameter (a greedy last parameter's first segment must not be empty; later ones may
 * be).
 *
 * @param method - the request method, upper case
 * @param path - the raw path, e.g. `/v1/stores/orders/entries/a%2Fb`
 * @returns the route and its decoded parameters, or why there is none (405 with the allowed methods, 404,
 *   or 400 for a segment that is not valid percent-encoding)
 */
export function matchRoute(method: string, path: string): RouteLookup {
  return nativeMatcher(method, path);
}

const NO_GROUPS: CompiledRoute[][] = [];

function segmentsFit(shape: CompiledRoute, segments: string[]): boolean {
  const n = shape.literals.length;
  if (shape.greedy ? segments.length < n : n !== segments.length) return false;
  for (let i = 0; i < n; i++) {
    const literal = shape.literals[i];
    if (literal === null) {
      if ((segments[i] as string).length === 0) return false;
    } else if (literal !== segments[i]) {
      return false;
    }
  }
  return true;
}

/**
 * The path of route `name` with its parameters percent-encoded (`encodeURIComponent`, one segment each).
 *
 * @param name - a route of {@link ROUTES}
 * @param params - one string per `{param}` of its template
 * @returns the path, without origin or query, e.g. `/v1/stores/orders/entries/a%2Fb`
 * @example buildPath('getEntry', { store: 'orders', key: 'a/b' }) // '/v1/stores/orders/entries/a%2Fb'
 */
export function buildPath<N extends RouteName>(name: N, params: RouteParams<N>): string {
  const values = params as Record<string, string>;
  const parts = builders[name];
  let path = parts[0] as string;
  for (let i = 1; i < parts.length; i += 2) {
    path += encodeURIComponent(values[parts[i] as string] as string) + (parts[i + 1] as string);
  }
  return path;
}

/** Each template split into `[literal, param, literal, param, ..., literal]`, for {@link buildPath}. */
const builders = Object.fromEntries(
  Object.values(ROUTES).map((r: RouteDef) => [r.name, r.template.split(/\{([^}]+)\}/)]),
) as Record<RouteName, string[]>;
