// What the page reports to the test, as plain data (it crosses `page.evaluate`). Types only.

/** A thrown error as the page saw it. */
export interface ErrorReport {
  /** `error.constructor.name`, e.g. `RevisionMismatchError`. */
  className: string;
  /** `error instanceof RevisionMismatchError`, with the class the page imported from `@kv/browser`. */
  isRevisionMismatch: boolean;
  /** `isKvError(error)`. */
  isKvError: boolean;
  code: string | undefined;
  status: number | undefined;
}

/** Results of one run of the scenario with one client. */
export interface ScenarioReport {
  storeName: string;
  /** `stores.get(name)?.name` after `stores.create(name)`. */
  createdStore: string | undefined;
  /** The seeded entry of the mock (`seed` option), read through the client. */
  seeded: unknown;
  json: unknown;
  jsonContentType: string | undefined;
  text: string | undefined;
  textContentType: string | undefined;
  /** `getBytes` of the bytes written, as numbers. */
  bytes: number[] | undefined;
  bytesContentType: string | undefined;
  /** `set` with `ifRevision` equal to the current revision. */
  casOk: { revision: number; created: boolean };
  /** `set` with the stale revision: the error it threw, or null if it did not throw. */
  casConflict: ErrorReport | null;
  /** The value after the conflict (must be the one the successful CAS wrote). */
  afterConflict: unknown;
  /** `list({ prefix: 'user.' })` keys. */
  listed: string[];
  bulkSet: { successfulKeyCount: number; unsuccessfulKeys: string[] };
  /** `getMany` of two bulk keys and a missing one, as `[key, entry?.value]`. */
  bulkGet: Array<[string, unknown]>;
  bulkDelete: { successfulKeyCount: number };
  atomicOk: { ok: boolean; failedKeys?: string[] };
  atomicValues: unknown[];
  /** An atomic commit whose check is stale: nothing written. */
  atomicConflict: { ok: boolean; failedKeys?: string[] };
  atomicConflictValue: unknown;
  /** A missing key reads as undefined (reported as null). */
  missing: null | 'defined';
  /** Requests msw answered with a mock response while this scenario ran. */
  mockedRequests: number;
  /** `client.cacheCounters` at the end, when the client has a cache. */
  cacheCounters?: { hits: number; misses: number; revalidations: number; notModified: number };
  /** With a fresh cache: requests msw answered for a second `getJson` of a key just read. */
  cachedReadRequests?: number;
  /**
   * With the cache (`live: true`): after another client changed `doc`, what the cached client read (within
   * 3 s), the requests msw answered meanwhile, and how long it took.
   */
  liveUpdate?: { value: unknown; requests: number; ms: number };
}

/** What a short watch saw. */
export interface WatchReport {
  /** Events received, in order. */
  events: Array<{ type: string; key: string; value: unknown; revision: number }>;
  /** Whether the watch's `ready` arrived (its `lastRevision` was set) before the put. */
  connected: boolean;
  /** An error the watch raised, if any. */
  error: string | null;
  /** Milliseconds from the put to the event. */
  latencyMs: number | null;
}

/** What the page puts on `window`. */
export interface MockPage {
  /** The base URL the mock handles. */
  baseUrl: string;
  /**
   * Runs the scenario against `store` with a fresh client; with `cacheName`, the client has an IndexedDB
   * cache of that name (`maxAgeMs: 60_000`, `live: true`).
   */
  run(options: { store: string; cacheName?: string }): Promise<ScenarioReport>;
  /** Opens a watch on `store`, writes one key once it is connected, and reports the events within `timeoutMs`. */
  watchOnce(options: { store: string; timeoutMs: number }): Promise<WatchReport>;
  /** Every request msw answered with a mock response since the page loaded. */
  mocked(): Array<{ method: string; url: string }>;
  /** Requests msw found no handler for (`onUnhandledRequest`). */
  unhandled(): string[];
}

declare global {
  interface Window {
    kvMock: MockPage;
  }
}
