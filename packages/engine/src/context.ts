/**
 * Types shared by the engine's modules: the access-control hook and the internal context handed to
 * route handlers.
 *
 * @module
 */
import type { Principal, TokenStore } from './auth.js';
import type { CursorSealer } from './cursor.js';
import type { IdempotencyGuard } from './idempotency.js';
import type { QueueService } from './queue.js';
import type { WindowCounter } from './rate-limit.js';
import type { CommitRequest, CommitResult, StorageReads } from './storage.js';
import type { WatchHub, WatchOptions } from './watch.js';

/**
 * What a request wants to do, in docs/security.md "Capabilities" terms: entry actions (`get`, `exists`,
 * `set`, `set_expiry`, `delete`, `purge`, `list`, `find`, `history`, `watch`, `sign`), queue actions
 * (`enqueue`, `dequeue`), meta actions
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
  | 'enqueue'
  | 'dequeue'
  | 'list_scopes'
  | 'keys'
  | 'id_ops'
  | 'stores'
  | 'tokens';

/**
 * The request as the {@link Authorize} hook sees it: its method, target and headers (a `Request` has
 * this shape too), never its body.
 */
export interface HookRequest {
  /** The method, upper case. */
  method: string;
  /** The request target: path and query as received (no origin). */
  url: string;
  /** Request headers by name (case-insensitive); `null` when absent. */
  headers: { get(name: string): string | null };
}

/** What the {@link Authorize} hook is told about a request, before any work is done. */
export interface AuthorizeContext {
  /** The request: method, target and headers. */
  req: HookRequest;
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
  /** Extra access-control hook; undefined when none was given (everything allowed, nothing to call). */
  authorize: Authorize | undefined;
  /** Tokens, when access control is on (`auth` option); undefined = every request is allowed. */
  tokens: TokenStore | undefined;
  /** Rate-limited tokens' request counts, when the token store does not count them itself. */
  requestCounter: WindowCounter;
  /** Idempotent retries. */
  idempotency: IdempotencyGuard;
  /** Wakes watch streams on writes. */
  watchHub: WatchHub;
  /** Watch tuning. */
  watchOptions: WatchOptions;
  /** The queue rules and long-polls (`queue.ts`): the one way the engine writes queue messages. */
  queue: QueueService;
  /** Seals listing cursors (they may point at an entry the caller cannot read). */
  cursors: CursorSealer;
  /** The public base URL signed URLs are built from (normalized, no trailing `/`). */
  publicUrl: () => string;
}
