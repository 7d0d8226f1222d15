/**
 * Capabilities: what a token may do, as strings in AntiRaid's form (seed 000, docs/security.md):
 *
 * | capability | grants |
 * | --- | --- |
 * | `kv:<action>` | the action on every store |
 * | `kv[<store>]:<action>` | the action on one store |
 * | `kv[<store>:<scope>]:<action>` | the action on the entries of `store` in `scope` (never `enqueue`/`dequeue`) |
 * | `kv.meta:<meta>` / `kv.meta[<store>]:<meta>` | `list_scopes`, `keys`, `id_ops` |
 * | `kv.meta[<store>:<scope>]:keys` | listing the keys of one scope (AntiRaid `kv.meta[scope]:keys`) |
 * | `kv.admin:<admin>` | `stores` (create/update/delete/list stores), `tokens` |
 *
 * `*` stands for any store, any scope or any action (`kv:*`, `kv[*:billing]:get`, `kv.admin:*`), and `*`
 * alone grants everything (the admin token). Parsing is strict: anything else is a `ValidationError`.
 *
 * @module
 */
import { ValidationError } from './errors.js';

/**
 * Actions on entries, and on a store's queue (`enqueue`, `dequeue`; docs/security.md "Capabilities").
 * A scoped grant (`kv[store:scope]:...`, `kv[store:*]:*`) never grants the queue actions: messages have
 * no scope.
 */
export const KV_ACTIONS = [
  'get',
  'exists',
  'set',
  'set_expiry',
  'delete',
  'purge',
  'list',
  'find',
  'history',
  'watch',
  'sign',
  'enqueue',
  'dequeue',
] as const;
/** An entry action. */
export type KvAction = (typeof KV_ACTIONS)[number];
/** Meta actions (`kv.meta:*`). */
export const META_ACTIONS = ['list_scopes', 'keys', 'id_ops'] as const;
/** A meta action. */
export type MetaAction = (typeof META_ACTIONS)[number];
/** Admin actions (`kv.admin:*`). */
export const ADMIN_ACTIONS = ['stores', 'tokens'] as const;
/** An admin action. */
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** A parsed capability. `'*'` fields are wildcards; `scope: undefined` means "every scope and unscoped entries". */
export interface ParsedCapability {
  /** The namespace: entry actions, meta actions or admin actions; `all` for the bare `*`. */
  kind: 'kv' | 'meta' | 'admin' | 'all';
  /** Store name or `*`. */
  store: string;
  /** Scope, `*` (any scope, not unscoped entries), or undefined (no scope restriction). */
  scope: string | undefined;
  /** Action or `*`. */
  action: string;
  /** The original string. */
  source: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
// Scopes in capabilities: any scope but one with whitespace, control characters or `[ ] \ :` (those
// cannot be written inside `kv[store:scope]`; `kv[store:*]` still reaches them).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects.
const SCOPE = /^[^\s\]\\[:\u0000-\u001f\u007f-\u009f]{1,64}$/u;

/**
 * Parses one capability string.
 *
 * @throws {ValidationError} `details.capability` names the bad string: unknown namespace or action, a
 *   store name outside `a-z A-Z 0-9 - _`, a scope on `kv.admin` or on a `kv.meta` action other than
 *   `keys`, or stray characters.
 */
export function parseCapability(text: string): ParsedCapability {
  const fail = (why: string): never => {
    throw new ValidationError(`Invalid capability "${text}": ${why}`, {
      details: { field: 'capabilities', capability: text },
    });
  };
  if (typeof text !== 'string' || text.length === 0 || text.length > 200) fail('must be a non-empty string');
  if (text === '*') return { kind: 'all', store: '*', scope: undefined, action: '*', source: text };
  const m = /^(kv|kv\.meta|kv\.admin)(?:\[([^\]]*)\])?:([a-z_*]+)$/.exec(text);
  if (!m)
    return fail(
      'expected kv:<action>, kv[<store>]:<action>, kv[<store>:<scope>]:<action>, kv.meta:<action> or kv.admin:<action>',
    );
  const [, ns, target, action] = m as unknown as [string, string, string | undefined, string];
  const kind = ns === 'kv' ? 'kv' : ns === 'kv.meta' ? 'meta' : 'admin';
  const allowed: readonly string[] =
    kind === 'kv' ? KV_ACTIONS : kind === 'meta' ? META_ACTIONS : ADMIN_ACTIONS;
  if (action !== '*' && !allowed.includes(action))
    fail(`unknown action "${action}" (expected one of ${allowed.join(', ')} or *)`);
  let store = '*';
  let scope: string | undefined;
  if (target !== undefined) {
    if (kind === 'admin') fail('kv.admin capabilities apply to the whole server and take no [store]');
    const colon = target.indexOf(':');
    store = colon === -1 ? target : target.slice(0, colon);
    if (store !== '*' && !NAME.test(store)) fail(`bad store name "${store}"`);
    if (colon !== -1) {
      if (kind === 'meta' && action !== 'keys')
        fail('only kv and kv.meta[...]:keys capabilities take a scope');
      if (action === 'enqueue' || action === 'dequeue')
        fail(`queue actions take no scope (queue messages have none): use kv[<store>]:${action}`);
      scope = target.slice(colon + 1);
      if (scope !== '*' && !SCOPE.test(scope)) fail(`bad scope "${scope}"`);
    }
  }
  return { kind, store, scope, action, source: text };
}

/**
 * Parses a list of capabilities strictly (token creation).
 *
 * @throws {ValidationError} on the first malformed string, or an empty or over-long (256) list.
 */
export function parseCapabilities(list: unknown): ParsedCapability[] {
  if (!Array.isArray(list) || list.length === 0 || list.length > 256) {
    throw new ValidationError('capabilities must be a non-empty array of at most 256 strings', {
      details: { field: 'capabilities' },
    });
  }
  return list.map((c) => parseCapability(c as string));
}

/** What an operation needs. */
export type CapabilityRequest =
  | { kind: 'kv'; action: KvAction; store: string }
  | { kind: 'meta'; action: MetaAction; store: string }
  | { kind: 'admin'; action: AdminAction };

/** Access a token has to one store for one entry action: none, all entries, or the entries of some scopes. */
export type ScopeGrant = { all: true } | { all: false; scopes: Set<string>; anyScope: boolean } | null;

function storeMatches(cap: ParsedCapability, store: string): boolean {
  return cap.store === '*' || cap.store === store;
}

/**
 * What `capabilities` grant for `request`:
 * - admin requests, and meta requests but `keys`: `{ all: true }` or `null`;
 * - `kv.meta:keys`: as entry actions (`kv.meta[store:scope]:keys` is scoped);
 * - entry actions: `{ all: true }` (unscoped grant), `{ all: false, scopes, anyScope }` (only entries in
 *   those scopes; `anyScope` for `kv[store:*]`), or `null`.
 */
export function grantFor(capabilities: readonly ParsedCapability[], request: CapabilityRequest): ScopeGrant {
  const scopes = new Set<string>();
  let anyScope = false;
  for (const cap of capabilities) {
    if (cap.kind === 'all') return { all: true };
    if (cap.kind !== request.kind) continue;
    if (cap.action !== '*' && cap.action !== request.action) continue;
    if (request.kind === 'admin') return { all: true };
    if (!storeMatches(cap, request.store)) continue;
    if (cap.scope === undefined) return { all: true };
    if (cap.scope === '*') anyScope = true;
    else scopes.add(cap.scope);
  }
  if (scopes.size > 0 || anyScope) return { all: false, scopes, anyScope };
  return null;
}

/**
 * Whether a grant covers an entry with these scopes. Reads need ONE allowed scope (AntiRaid: "a scope the
 * key is in"); writes need ALL of the entry's scopes allowed, and an unscoped entry only under
 * an unscoped grant.
 */
export function grantCovers(
  grant: ScopeGrant,
  entryScopes: readonly string[],
  mode: 'read' | 'write',
): boolean {
  if (grant === null) return false;
  if (grant.all) return true;
  if (entryScopes.length === 0) return false;
  const ok = (s: string): boolean => grant.anyScope || grant.scopes.has(s);
  return mode === 'read' ? entryScopes.some(ok) : entryScopes.every(ok);
}

/**
 * The union of grants: what a request may reach when any of several capabilities allows it (e.g. `HEAD`,
 * which `exists` or `get` allows; a scope listing, which `list` or `kv.meta:keys` allows).
 *
 * @returns `{ all: true }` when any grant is unscoped, the union of the scoped ones, or `null` when none
 *   grants anything
 */
export function unionGrants(...grants: readonly ScopeGrant[]): ScopeGrant {
  const scopes = new Set<string>();
  let anyScope = false;
  let some = false;
  for (const grant of grants) {
    if (grant === null) continue;
    if (grant.all) return { all: true };
    some = true;
    anyScope ||= grant.anyScope;
    for (const s of grant.scopes) scopes.add(s);
  }
  return some ? { all: false, scopes, anyScope } : null;
}

/**
 * Whether `capabilities` grant anything at all on `store`: any entry or meta action, in any scope, or
 * `kv.admin:stores` (reading a store's settings and stats is allowed to every token that may use it).
 */
export function grantsAnythingOn(capabilities: readonly ParsedCapability[], store: string): boolean {
  return capabilities.some(
    (cap) =>
      cap.kind === 'all' ||
      (cap.kind === 'admin' && (cap.action === '*' || cap.action === 'stores')) ||
      ((cap.kind === 'kv' || cap.kind === 'meta') && storeMatches(cap, store)),
  );
}
