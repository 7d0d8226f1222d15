/**
 * Access control of the engine (docs/security.md): who the caller
 * is (a bearer token or a signed URL), what each request needs, and the scope checks that scoped
 * capabilities (`kv[store:scope]:action`) add after a read.
 *
 * Every route handler calls {@link authorize} before any work. It runs the `authorize` hook, then checks
 * the caller's capabilities and returns the {@link Grant} it has: `{ all: true }` (every entry of the
 * store, or access control off) or the scopes it may reach. Handlers with a scoped grant then filter
 * what they read and check what they write (`writes.ts`).
 *
 * @module
 */
import {
  type CapabilityRequest,
  grantCovers,
  grantFor,
  grantsAnythingOn,
  type KvAction,
  type ParsedCapability,
  parseScopesHeader,
  type ScopeGrant,
  UnauthenticatedError,
  UnauthorizedError,
  unionGrants,
  validateStoreName,
} from '@kv/core/protocol';
import type { Principal } from './auth.js';
import type { EngineAction, EngineContext } from './context.js';
import { bearerToken } from './http.js';
import { hookRequest, type RequestContext } from './pipeline.js';
import { SIGNED_SCOPES_PARAM, verifySignedUrl } from './signing.js';
import type { StorageReads } from './storage.js';

/** A grant that allows something: every entry, or the entries of some scopes. */
export type Grant = Exclude<ScopeGrant, null>;

/** Everything (access control off, or an unscoped capability). */
export const FULL_GRANT: Grant = { all: true };

/**
 * 403 `forbidden`. The message and details name only the action, never the key, its scopes or whether
 * it exists, so "not allowed" and "missing, and you could not have read it anyway" are one answer.
 */
export function forbidden(action: EngineAction): UnauthorizedError {
  return new UnauthorizedError(`Not allowed: ${action}`, { details: { action } });
}

/** What `principal` may do for `request`; everything when there is no principal (access control off). */
export function grantOf(principal: Principal | undefined, request: CapabilityRequest): ScopeGrant {
  return principal === undefined ? FULL_GRANT : grantFor(principal.capabilities, request);
}

/**
 * The grant an action needs on `store`, by the route table of docs/security.md: admin actions need
 * `kv.admin:*`, meta actions `kv.meta:*`, `exists` is allowed by `exists` or `get`, every other entry
 * action by itself.
 */
export function defaultGrant(
  principal: Principal | undefined,
  action: EngineAction,
  store: string | undefined,
): ScopeGrant {
  const s = store ?? '';
  switch (action) {
    case 'stores':
    case 'tokens':
      return grantOf(principal, { kind: 'admin', action });
    case 'list_scopes':
    case 'keys':
    case 'id_ops':
      return grantOf(principal, { kind: 'meta', action, store: s });
    case 'exists':
      return unionGrants(
        grantOf(principal, { kind: 'kv', action: 'exists', store: s }),
        grantOf(principal, { kind: 'kv', action: 'get', store: s }),
      );
    default:
      return grantOf(principal, { kind: 'kv', action: action as KvAction, store: s });
  }
}

/** What a request addresses, as told to the `authorize` hook. */
export interface AccessTarget {
  store?: string;
  key?: string;
  keys?: string[];
  scopes?: string[];
}

/**
 * Runs the `authorize` hook (when the engine has one), then checks the caller's capabilities.
 *
 * @param c - the request context (its request and principal)
 * @param grant - the grant to require instead of {@link defaultGrant} (routes allowed by several
 *   capabilities compute it themselves)
 * @returns the caller's grant for the action (never null)
 * @throws {UnauthorizedError} 403 when the hook returns false or the caller lacks the capability;
 *   whatever the hook throws
 */
export async function authorize(
  ctx: EngineContext,
  c: RequestContext,
  action: EngineAction,
  target: AccessTarget = {},
  grant?: ScopeGrant,
): Promise<Grant> {
  const principal = c.principal;
  if (ctx.authorize !== undefined) {
    const allowed = await ctx.authorize({
      req: hookRequest(c.request),
      token: bearerToken(c.header('authorization')),
      action,
      ...target,
      ...(principal === undefined ? {} : { principal }),
    });
    if (allowed === false) throw forbidden(action);
  }
  const granted = grant === undefined ? defaultGrant(principal, action, target.store) : grant;
  if (granted === null) throw forbidden(action);
  return granted;
}

/** `GET /v1/stores/{store}`: `kv.admin:stores`, or any capability on the store. */
export function storeReadGrant(principal: Principal | undefined, store: string): ScopeGrant {
  if (principal === undefined) return FULL_GRANT;
  return grantsAnythingOn(principal.capabilities, store) ? FULL_GRANT : null;
}

/** The read filter of a grant: undefined when it reaches every entry. */
export function readFilter(grant: Grant): ((entry: { scopes: string[] }) => boolean) | undefined {
  if (grant.all) return undefined;
  return (entry) => grantCovers(grant, entry.scopes, 'read');
}

/** Whether `grant` lets the caller read an entry with these scopes. */
export function canRead(grant: Grant, scopes: readonly string[]): boolean {
  return grantCovers(grant, scopes, 'read');
}

/** Whether `grant` lets the caller write (or remove) an entry with these scopes: every scope allowed. */
export function canWrite(grant: Grant, scopes: readonly string[]): boolean {
  return grantCovers(grant, scopes, 'write');
}

/**
 * What two grants both allow: the reach of a signed URL is what its signer may `sign` AND read (`get`
 * for a record, `list` for a keys listing; docs/security.md "Signed URLs"). A scope is in the result
 * when both grants reach it (`anyScope` reaches every scope, never unscoped entries).
 *
 * @returns the smaller grant, or null when they share nothing
 */
export function intersectGrants(a: ScopeGrant, b: ScopeGrant): ScopeGrant {
  if (a === null || b === null) return null;
  if (a.all) return b;
  if (b.all) return a;
  if (a.anyScope && b.anyScope)
    return { all: false, scopes: new Set([...a.scopes, ...b.scopes]), anyScope: true };
  const scopes = new Set<string>();
  for (const s of a.scopes) if (b.anyScope || b.scopes.has(s)) scopes.add(s);
  for (const s of b.scopes) if (a.anyScope) scopes.add(s);
  return scopes.size > 0 ? { all: false, scopes, anyScope: false } : null;
}

/** The scopes a scoped grant reaches, as the `signedScopes` parameter of a signed URL (`*`: any scope). */
export function grantScopesParam(grant: Grant): string | undefined {
  if (grant.all) return undefined;
  if (grant.anyScope) return '*';
  return [...grant.scopes]
    .sort()
    .map((s) => encodeURIComponent(s))
    .join(',');
}

const SIGNED_PATH = /^\/v1\/stores\/([^/]+)\/entries(?:\/([^/]+))?$/;

/** The one answer for a signature that does not verify, whatever the reason (the store may not exist). */
function badSignature(): UnauthenticatedError {
  return new UnauthenticatedError('Invalid signature', { details: { reason: 'signature_invalid' } });
}

/**
 * Authenticates a request carrying `signature` (a signed public URL; Apify `getRecordPublicUrl` /
 * `createKeysPublicUrl`): it must be a `GET`/`HEAD` of an entry or of the entry listing, signed with the
 * current secret of the store in its path, and not expired. The principal it yields may read that
 * record (`get`, `exists`) or list that store (`list`), in the scopes of `signedScopes` when the URL
 * carries it; the signature fixes everything else (key, query, page size).
 *
 * @throws {UnauthenticatedError} 401 `unauthenticated` for a write, another route, an unknown store, a
 *   bad signature (any byte changed, another store, a rotated secret) or an expired URL
 */
export async function signedUrlPrincipal(
  storage: StorageReads,
  method: string,
  url: URL,
  nowMs: number,
): Promise<Principal> {
  if (method !== 'GET' && method !== 'HEAD') {
    throw new UnauthenticatedError('Signed URLs are read-only', { details: { reason: 'signature_invalid' } });
  }
  const m = SIGNED_PATH.exec(url.pathname);
  if (m === null) throw badSignature();
  let store: string;
  try {
    store = validateStoreName(decodeURIComponent(m[1] as string));
  } catch {
    throw badSignature();
  }
  const record = await storage.getStore(store);
  if (record === undefined) throw badSignature();
  await verifySignedUrl(method, url, record.signingSecret, nowMs);
  const param = url.searchParams.get(SIGNED_SCOPES_PARAM);
  let scopes: Array<string | undefined> = [undefined];
  if (param !== null) {
    try {
      scopes = param === '*' ? ['*'] : parseScopesHeader(param);
    } catch {
      throw badSignature();
    }
  }
  const actions: KvAction[] = m[2] === undefined ? ['list'] : ['get', 'exists'];
  const capabilities: ParsedCapability[] = [];
  for (const action of actions) {
    for (const scope of scopes) {
      capabilities.push({ kind: 'kv', store, scope, action, source: 'signed-url' });
    }
  }
  return { via: 'signed-url', tokenId: undefined, capabilities };
}
