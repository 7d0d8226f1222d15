/**
 * Types shared by the engine's modules: the hono environment, the access-control hook and the internal
 * context handed to route handlers.
 *
 * @module
 */
import type { Context } from 'hono';
import type { Principal, TokenStore } from './auth.js';
import type { CursorSealer } from './cursor.js';
import type { IdempotencyGuard } from './idempotency.js';
import type { CommitRequest, CommitResult, StorageReads } from './storage.js';
import type { WatchHub, WatchOptions } from './watch.js';

/**
 * What a request wants to do, in PRODUCT.md "Access control" terms: entry actions (`get`, `exists`,
 * `set`, `set_expiry`, `delete`, `purge`, `list`, `find`, `history`, `watch`, `sign`), meta actions
 * (`list_scopes`, `keys`, `id_ops`) and admin actions (`stores`, `tokens`).
 */
export type EngineAction =
  | 'get'
  | 'exists'
  | 'set'
  | 'set_expiry'
  | 'delete'
  | 'purge'
  | 'list'
  | 'find'
  | 'history'
  | 'watch'
  | 'sign'
  | 'list_scopes'
  | 'keys'
  | 'id_ops'
  | 'stores'
  | 'tokens';

/** What the {@link Authorize} hook is told about a request, before any work is done. */
export interface AuthorizeContext {
  /** The request. Its body may already be consumed; read headers only. */
  req: Request;
  /** The bearer token of `Authorization: Bearer <token>`, or undefined when absent. */
  token: string | undefined;
  /** The action asked for. */
  action: EngineAction;
  /** The store addressed, when the route names one. */
  store?: string;
  /** The key addressed, for single-entry routes. */
  key?: string;
  /** Keys addressed by bulk and atomic calls. */
  keys?: string[];
  /** Scopes named by the request (`Kv-Scopes` of a write, `scope` of a listing). */
  scopes?: string[];
  /**
   * Who is calling, when the engine checks tokens (`auth` option) or the request is a signed URL. The
   * engine's own capability checks run after this hook; the hook can only refuse more.
   */
  principal?: Principal;
}

/**
 * Extra access-control hook, run before the engine's own token capability checks (`auth` option; issue
 * 7). Resolve (or return `true`) to allow; return `false` to answer 403 `forbidden`; throw a `KvError`
 * (e.g. `UnauthenticatedError`) to answer with it. The default allows everything.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: hooks written as `async () => {}` return Promise<void>.
export type Authorize = (ctx: AuthorizeContext) => void | boolean | Promise<void | boolean>;

/** Hono environment of the engine app: per-request variables. */
export interface EngineEnv {
  Variables: {
    /** The request id echoed in `Kv-Request-Id`. */
    requestId: string;
    /** The request body, read within limits by the JSON body middleware. */
    bodyBytes: Uint8Array;
    /** The authenticated caller; unset when access control is off and the request is not signed. */
    principal: Principal | undefined;
  };
}

/** The hono context of an engine route. */
export type Ctx = Context<EngineEnv>;

/** Resolved options and services, shared by every handler. */
export interface EngineContext {
  /**
   * The storage, for reads and bookkeeping. Writes of entries go through {@link EngineContext.commit},
   * never `storage.transaction` (the type leaves it out), so every write follows the commit rules and
   * wakes the watchers.
   */
  storage: StorageReads;
  /**
   * Applies a commit (the engine's rules, `applyCommit` in `commit.ts`) in one storage transaction and,
   * when it applied, wakes the watch streams of its store: the one way the engine writes
   * (docs/architecture.md "Decisions").
   */
  commit: (store: string, request: CommitRequest) => Promise<CommitResult>;
  /** "Now", epoch ms. */
  clock: () => number;
  /** Server-wide cap on value size, bytes. */
  maxValueBytes: number;
  /** Cap on raw and small JSON request bodies, bytes. */
  maxBodyBytes: number;
  /** Cap on bulk and atomic JSON bodies, bytes. */
  maxJsonBodyBytes: number;
  /** New entry ids. */
  generateId: () => string;
  /** Extra access-control hook. */
  authorize: Authorize;
  /** Tokens, when access control is on (`auth` option); undefined = every request is allowed. */
  tokens: TokenStore | undefined;
  /** Idempotent retries. */
  idempotency: IdempotencyGuard;
  /** Wakes watch streams on writes. */
  watchHub: WatchHub;
  /** Watch tuning. */
  watchOptions: WatchOptions;
  /** Seals listing cursors (they may point at an entry the caller cannot read). */
  cursors: CursorSealer;
  /** The public base URL signed URLs are built from (normalized, no trailing `/`). */
  publicUrl: () => string;
}
