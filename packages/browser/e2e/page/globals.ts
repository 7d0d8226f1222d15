import type * as kv from '@kv/browser';
import type { ListenOpen, RpcCall, RpcResult, WatchMessage, WatchOpen, WireError } from './wire.js';

/** One request seen by the page's counting fetch. */
export interface LoggedRequest {
  method: string;
  url: string;
  ifNoneMatch: string | null;
  ifMatch: string | null;
}

/** What a watch opened by a test saw, as plain data. */
export interface WatchLog {
  /** Events in the order delivered. */
  events: Array<{ revision: number; key: string; type: string; value: unknown }>;
  /** Transient errors (`willRetry: true`): each is a reconnect. */
  retries: number;
  /** Codes of fatal errors (`willRetry: false`) or the error the iterator threw. */
  errors: string[];
  /** True once the watch ended (iteration finished, or `onClose` called). */
  ended: boolean;
  /** Ends the watch the way the test chose (`stop()` or aborting its signal). */
  stop?: () => void;
}

/** What the e2e page puts on `window`. */
export interface PageGlobals {
  /** The @kv/browser module. */
  kv: typeof kv;
  /** Requests made through `countingFetch`. */
  net: { requests: LoggedRequest[] };
  /** A fetch that logs each request to `net`. */
  countingFetch: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
  /** Conflicts reported by clients' `onConflict`, as plain data. */
  conflicts: Array<{ store: string; key: string; code: string; current: unknown; base: unknown }>;
  /** Clients created by tests, by name. */
  clients: Record<string, kv.BrowserClient>;
  /** Watches opened by tests, by name. */
  watches: Record<string, WatchLog>;
  /** Calls a method of `clients[clientName]` with wire-encoded arguments (the conformance bridge). */
  rpc: (clientName: string, call: RpcCall) => Promise<RpcResult>;
  /**
   * Opens `clients[clientName].store(open.store).watch()` for Node (the conformance bridge): what it
   * delivers goes to `kvWatchPush`, one message at a time, in order. Returns the error `watch()` threw
   * synchronously, if it did (no watch is then running).
   */
  openWatch: (clientName: string, open: WatchOpen) => WireError | undefined;
  /** Ends the bridged watch `id` by its `stop()` or by aborting its signal; no-op once it closed. */
  closeWatch: (id: string, how: 'stop' | 'abort') => void;
  /**
   * Runs `clients[clientName].store(open.store).listenQueue()` for Node (the conformance bridge): each
   * message goes to `kvQueueHandle` (Node's handler); resolves when the page's `listenQueue` settles.
   */
  listenQueue: (clientName: string, open: ListenOpen) => Promise<RpcResult>;
  /** Aborts the signal of the bridged `listenQueue` `id`. */
  stopListen: (id: string) => void;
  /**
   * Set by Node (`page.exposeFunction`) before the first `listenQueue`: runs Node's handler on an
   * encoded `[value, info]`; answers the error it threw, if any.
   */
  kvQueueHandle?: (id: string, args: unknown) => Promise<WireError | undefined>;
  /** Set by Node (`page.exposeFunction`) before the first `openWatch`: receives its messages. */
  kvWatchPush?: (message: WatchMessage) => Promise<void>;
}

declare global {
  interface Window extends PageGlobals {}
}
