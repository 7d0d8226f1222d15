import type * as kv from '@kv/browser';

/** One request seen by the page's counting fetch. */
export interface LoggedRequest {
  method: string;
  url: string;
  ifNoneMatch: string | null;
  ifMatch: string | null;
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
}

declare global {
  interface Window extends PageGlobals {}
}
