/**
 * Watch: live changes of a store as Server-Sent Events (Ironflow watch, NATS KV watch,
 * AntiRaid KeyExpiry/KeyResume). The store's change log (`Storage.changes`) is the single source of
 * truth: a watcher is a cursor over it, so every write after the resume point is delivered once, in
 * revision order, with no gap, on every storage and across server instances.
 *
 * The SSE body is a pull-based `ReadableStream`: the watcher reads the change log only when its consumer
 * has taken the previous chunk, so a slow consumer holds at most one batch in server memory. A watcher
 * that falls behind the change log's floor (the log is bounded) gets an `error` event with code
 * `revision_compacted` and the stream ends; the client re-lists and watches again.
 *
 * @module
 */
import {
  bytesToBase64,
  compileNatsPattern,
  formatEtag,
  isKvError,
  type KeyMatcher,
  RevisionCompactedError,
  ValidationError,
  validateKey,
} from '@kv/core/protocol';
import { iso, isoOrNull } from './http.js';
import type { ChangeRecord, StorageReads, StoredEntry } from './storage.js';

/** Tuning of watch streams. */
export interface WatchOptions {
  /** Interval of the comment line that keeps idle connections open through proxies, in ms. @default 15000 */
  heartbeatMs?: number;
  /**
   * How often a store with watchers is polled for writes made by other server instances (PostgreSQL
   * scale-out), in ms. Writes through this engine wake watchers at once. @default 1000
   */
  pollIntervalMs?: number;
  /** Changes read from the log per pull. @default 256 */
  batchSize?: number;
}

/**
 * Wakes watchers when a store changes. One poll timer per watched store (not per watcher), so a
 * thousand idle watchers cost one cheap query per poll interval. When the storage offers change hints
 * (`Storage.onChange`, e.g. PostgreSQL's `LISTEN/NOTIFY` across instances), the hub listens from the
 * first watch until it closes and wakes a store's watchers on each hint for it.
 */
export class WatchHub {
  readonly #storage: StorageReads;
  readonly #pollIntervalMs: number;
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #polls = new Map<string, { timer: ReturnType<typeof setInterval>; revision: number }>();
  /** Ends the subscription to the storage's change hints (`Storage.onChange`), held from the first watch to close. */
  #unsubscribe: (() => void) | undefined;
  /** How many times each store's watchers were woken (see {@link WatchHub.generation}). */
  readonly #generations = new Map<string, number>();

  /** @param storage - the engine's storage; @param pollIntervalMs - see {@link WatchOptions.pollIntervalMs} */
  constructor(storage: StorageReads, pollIntervalMs = 1000) {
    this.#storage = storage;
    this.#pollIntervalMs = pollIntervalMs;
  }

  /** Number of watchers currently waiting for a change. */
  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }

  /**
   * How many times `store`'s watchers were woken so far. A watcher reads it before reading the change log
   * and passes it to {@link WatchHub.wait}, so a wake-up that came meanwhile is not missed.
   */
  generation(store: string): number {
    return this.#generations.get(store) ?? 0;
  }

  /** Wakes every watcher of `store` (called after each commit through this engine). */
  notify(store: string): void {
    this.#generations.set(store, this.generation(store) + 1);
    const set = this.#waiters.get(store);
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Wakes every watcher of every store (after an expiry sweep). */
  notifyAll(): void {
    for (const store of [...this.#waiters.keys()]) this.notify(store);
  }

  /**
   * Resolves on the next change of `store`, after `timeoutMs`, or when `signal` aborts; at once when
   * `since` is given and the store's {@link WatchHub.generation} has moved past it.
   */
  wait(store: string, timeoutMs: number, signal: AbortSignal, since?: number): Promise<void> {
    if (since !== undefined && this.generation(store) !== since) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.#waiters.get(store);
      if (!set) {
        set = new Set();
        this.#waiters.set(store, set);
        this.#startPoll(store);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const s = this.#waiters.get(store);
        if (s) {
          s.delete(done);
          if (s.size === 0) {
            this.#waiters.delete(store);
            this.#stopPoll(store);
          }
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      unref(timer);
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Stops all poll timers and the change hints, and wakes all waiters. */
  close(): void {
    this.notifyAll();
    for (const store of [...this.#polls.keys()]) this.#stopPoll(store);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #startPoll(store: string): void {
    const state = { timer: setInterval(() => void check(), this.#pollIntervalMs), revision: -1 };
    unref(state.timer);
    this.#polls.set(store, state);
    // A storage shared by several instances may hint at their commits: wake the store's watchers at once
    // instead of at the next poll (the poll stays, for hints that never arrive). Subscribed from the
    // first watch until close, so hints keep counting while a watcher is between two waits.
    if (this.#unsubscribe === undefined && this.#storage.onChange !== undefined) {
      this.#unsubscribe = this.#storage.onChange((changed) => this.notify(changed));
    }
    const check = async (): Promise<void> => {
      const record = await this.#storage.getStore(store).catch(() => undefined);
      const revision = record?.revision ?? -1;
      if (state.revision !== -1 && revision !== state.revision) this.notify(store);
      state.revision = revision;
    };
    void check();
  }

  #stopPoll(store: string): void {
    const state = this.#polls.get(store);
    if (state) clearInterval(state.timer);
    this.#polls.delete(store);
  }
}

function unref(timer: unknown): void {
  const t = timer as { unref?: () => void };
  if (typeof t.unref === 'function') t.unref();
}

/** Parsed query of `GET /v1/stores/{store}/watch` (docs/protocol.md "Watch"). */
export interface WatchQuery {
  /** NATS wildcard filter. */
  match?: string;
  /** Key prefix filter. */
  prefix?: string;
  /** Single-key filter. */
  key?: string;
  /** Resume point: deliver every write with a higher revision. `Last-Event-ID` sets it too. */
  fromRevision?: number;
  /** First deliver every revision still in each matching key's history (oldest first). */
  includeHistory?: boolean;
  /** Deliver only writes made after the watch starts. */
  updatesOnly?: boolean;
  /** First deliver every live entry marked `resume` as a `resume` event (AntiRaid KeyResume). */
  resume?: boolean;
}

/**
 * Reads the watch options from a URL's query and the `Last-Event-ID` header.
 *
 * @throws {ValidationError} for a bad revision, an invalid key or NATS pattern, or conflicting options.
 */
export function parseWatchQuery(url: URL, lastEventId: string | null): WatchQuery {
  const q = url.searchParams;
  const out: WatchQuery = {};
  const flag = (name: string): boolean | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (v === 'true' || v === '1' || v === '') return true;
    if (v === 'false' || v === '0') return false;
    throw new ValidationError(`${name} must be true or false`, { details: { field: name } });
  };
  const match = q.get('match');
  if (match !== null) out.match = match;
  const prefix = q.get('prefix');
  if (prefix !== null) out.prefix = prefix;
  const key = q.get('key');
  if (key !== null) out.key = validateKey(key);
  const from = lastEventId?.trim() || q.get('fromRevision');
  if (from !== null && from !== undefined && from !== '') {
    if (!/^\d{1,15}$/.test(from)) {
      throw new ValidationError('fromRevision / Last-Event-ID must be a revision number', {
        details: { field: 'fromRevision' },
      });
    }
    out.fromRevision = Number(from);
  }
  const includeHistory = flag('includeHistory');
  if (includeHistory !== undefined) out.includeHistory = includeHistory;
  const updatesOnly = flag('updatesOnly');
  if (updatesOnly !== undefined) out.updatesOnly = updatesOnly;
  const resume = flag('resume');
  if (resume !== undefined) out.resume = resume;
  if (out.includeHistory && out.updatesOnly) {
    throw new ValidationError('includeHistory and updatesOnly exclude each other', {
      details: { field: 'updatesOnly' },
    });
  }
  return out;
}

interface Filter {
  test(key: string): boolean;
  scanPrefix: string;
}

function compileFilter(query: WatchQuery): Filter {
  const matcher: KeyMatcher | undefined =
    query.match !== undefined ? compileNatsPattern(query.match) : undefined;
  const prefix = query.prefix ?? '';
  const key = query.key;
  const candidates = [prefix, matcher?.literalPrefix ?? '', key ?? ''];
  const scanPrefix = candidates.reduce((a, b) => (b.length > a.length ? b : a), '');
  return {
    scanPrefix,
    test: (k) =>
      (key === undefined || k === key) && k.startsWith(prefix) && (matcher === undefined || matcher.test(k)),
  };
}

/** The JSON `data:` of a watch event: the entry's wire fields plus `type`, `store` and base64 `value` for puts. */
function eventData(store: string, type: string, e: StoredEntry, withValue: boolean): string {
  const data: Record<string, unknown> = {
    type,
    store,
    key: e.key,
    id: e.id,
    revision: e.revision,
    contentType: e.contentType,
    metadata: e.metadata,
    scopes: e.scopes,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
    expiresAt: isoOrNull(e.expiresAt),
    resume: e.resume,
    size: e.size,
  };
  if (withValue) data.value = bytesToBase64(e.value);
  return JSON.stringify(data);
}

function sse(fields: { id?: number; event: string; data: string }): string {
  return `${fields.id !== undefined ? `id: ${fields.id}\n` : ''}event: ${fields.event}\ndata: ${fields.data}\n\n`;
}

/** Everything a watch stream needs. */
export interface WatchStreamInput {
  /** Storage to read the change log and snapshots from. */
  storage: StorageReads;
  /** Hub that wakes the stream on writes. */
  hub: WatchHub;
  /** Store name (must exist). */
  store: string;
  /** Parsed options. */
  query: WatchQuery;
  /** Aborts the stream (client gone, server shutting down). */
  signal: AbortSignal;
  /** Engine clock, epoch ms. */
  now: () => number;
  /** Optional per-entry read check (access control): entries it rejects are not delivered. */
  canRead?: (entry: StoredEntry) => boolean;
  /**
   * Optional re-authentication (access control): called before each read of the change log; when it
   * throws a `KvError` (the token was revoked or expired), the stream sends that error as an `error`
   * event and ends, so a revoked token stops receiving changes on its next wake-up.
   */
  revalidate?: () => Promise<void>;
  /** Tuning. */
  options?: WatchOptions;
}

/**
 * Opens a watch: checks the resume point first (so a compacted one is a plain HTTP 410 error), then
 * returns the SSE body. Events: `put`/`delete`/`purge`/`expire` with `id:` = revision; initial values
 * (`put`, no id) and `resume` events; one `ready` event with `id:` = the revision the live phase starts
 * after; `error` (then end of stream) when the watcher falls behind the change log.
 *
 * @throws {RevisionCompactedError} when `fromRevision` is below the store's change-log floor.
 */
export async function openWatchStream(input: WatchStreamInput): Promise<ReadableStream<Uint8Array>> {
  const { storage, hub, store, query, now } = input;
  // Ends on the request's abort (client gone) or on the stream's cancel, whichever comes first.
  const stop = new AbortController();
  const signal = stop.signal;
  if (input.signal.aborted) stop.abort();
  else input.signal.addEventListener('abort', () => stop.abort(), { once: true });
  const heartbeatMs = input.options?.heartbeatMs ?? 15_000;
  const batchSize = input.options?.batchSize ?? 256;
  const canRead = input.canRead ?? (() => true);
  const filter = compileFilter(query);
  const encoder = new TextEncoder();

  if (query.fromRevision !== undefined) {
    const floor = await storage.changeLogFloor(store);
    if (query.fromRevision < floor) {
      throw new RevisionCompactedError(
        `Revision ${query.fromRevision} is older than the change log (floor ${floor}); list the store again, then watch from its revision`,
        { details: { fromRevision: query.fromRevision, floor } },
      );
    }
  }

  // The snapshot phase yields chunks lazily too, so a huge store is streamed, not buffered.
  async function* initial(): AsyncGenerator<string, number> {
    const record = await storage.getStore(store);
    const startRevision = record?.revision ?? 0;
    if (query.resume) {
      for await (const e of scanAll(storage, store, filter, now())) {
        if (e.resume && e.revision <= startRevision && canRead(e)) {
          yield sse({ event: 'resume', data: eventData(store, 'resume', e, true) });
        }
      }
    }
    if (query.fromRevision !== undefined) return query.fromRevision;
    if (!query.updatesOnly) {
      for await (const e of scanAll(storage, store, filter, now())) {
        if (!canRead(e)) continue;
        if (query.includeHistory) {
          const history = (await storage.history(store, e.key)).filter((h) => h.revision <= startRevision);
          for (const h of history.reverse()) {
            yield sse({ event: h.operation, data: eventData(store, h.operation, h, h.operation === 'put') });
          }
        } else if (e.revision <= startRevision) {
          yield sse({ event: 'put', data: eventData(store, 'put', e, true) });
        }
      }
    }
    yield sse({ id: startRevision, event: 'ready', data: JSON.stringify({ revision: startRevision }) });
    return startRevision;
  }

  const snapshot = initial();
  let position = -1;
  // Heartbeats run on wall-clock time, not the engine clock (tests may freeze the engine clock).
  let lastSentAt = Date.now();

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (position < 0) {
            const step = await snapshot.next();
            if (!step.done) {
              controller.enqueue(encoder.encode(step.value));
              return;
            }
            position = step.value;
            if (query.fromRevision !== undefined) {
              controller.enqueue(encoder.encode(`: watching ${store} after revision ${position}\n\n`));
              return;
            }
          }
          for (;;) {
            if (signal.aborted) {
              controller.close();
              return;
            }
            if (input.revalidate !== undefined) {
              try {
                await input.revalidate();
              } catch (error) {
                if (!isKvError(error)) throw error;
                const body = { error: { code: error.code, message: error.message } };
                controller.enqueue(encoder.encode(sse({ event: 'error', data: JSON.stringify(body) })));
                controller.close();
                return;
              }
            }
            const floor = await storage.changeLogFloor(store);
            if (position < floor) {
              const error = {
                code: 'revision_compacted',
                message: `Watcher fell behind: revision ${position} is older than the change log (floor ${floor}); resume is impossible, list the store again`,
                details: { position, floor },
              };
              controller.enqueue(encoder.encode(sse({ event: 'error', data: JSON.stringify({ error }) })));
              controller.close();
              return;
            }
            // Wake-ups that come while the log is being read are not lost: wait() returns at once for them.
            const generation = hub.generation(store);
            const changes: ChangeRecord[] = await storage.changes(store, position, batchSize);
            let out = '';
            for (const c of changes) {
              position = c.revision;
              if (!filter.test(c.key) || !canRead(c)) continue;
              out += sse({
                id: c.revision,
                event: c.operation,
                data: eventData(store, c.operation, c, c.operation === 'put'),
              });
            }
            if (out) {
              lastSentAt = Date.now();
              controller.enqueue(encoder.encode(out));
              return;
            }
            if (changes.length > 0) continue;
            const idleMs = Date.now() - lastSentAt;
            if (idleMs >= heartbeatMs) {
              lastSentAt = Date.now();
              controller.enqueue(encoder.encode(`: heartbeat ${formatEtag(position)}\n\n`));
              return;
            }
            await hub.wait(store, heartbeatMs - idleMs, signal, generation);
          }
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        stop.abort();
        await snapshot.return(0);
      },
    },
    { highWaterMark: 0 },
  );
}

async function* scanAll(
  storage: StorageReads,
  store: string,
  filter: Filter,
  nowMs: number,
): AsyncGenerator<StoredEntry> {
  let after: string | undefined;
  for (;;) {
    const query: Parameters<StorageReads['scan']>[1] = {
      prefix: filter.scanPrefix,
      limit: 256,
      values: true,
      nowMs,
    };
    if (after !== undefined) query.after = after;
    const page = await storage.scan(store, query);
    for (const e of page) if (filter.test(e.key)) yield e;
    if (page.length < 256) return;
    after = page[page.length - 1]!.key;
  }
}
