/**
 * A `KvClient` in Node whose every operation runs in the page, on a real `@kv/browser` client in
 * Chromium (through `page.evaluate` and the page's `rpc`): the conformance suite drives the browser
 * client with it. Values cross as tagged JSON (`page/wire.ts`); errors are rebuilt into the same
 * `@kv/core` classes the page threw. Every `KvClient` method is bridged, `store.watch()` included: a
 * watch runs in the page and pushes what it delivers to Node (`page.exposeFunction`), where an object
 * shaped like the real `WatchSubscription` hands it on.
 */
import * as core from '@kv/core/protocol';
import {
  type AtomicOperation,
  errorFromWire,
  type KvClient,
  KvError,
  type KvErrorOptions,
  type ListenQueueOptions,
  type QueueHandler,
  type StoreHandle,
  type StoresApi,
  type TokensApi,
  validateKey,
  validateKeyPrefix,
  validateStoreName,
  type WatchCallbacks,
  type WatchEvent,
  type WatchSubscription,
  type WatchSubscriptionOptions,
} from '@kv/core/protocol';
import type { Page } from 'playwright-core';
import {
  decodeWire,
  encodeWire,
  type RpcCall,
  type WatchMessage,
  type WatchOpen,
  type WireError,
} from './page/wire.js';

/** The `@kv/core` export named `name`, when it is `KvError` or one of its subclasses. */
function errorClass(name: string | undefined): typeof core.RateLimitedError | undefined {
  const value = name === undefined ? undefined : (core as Record<string, unknown>)[name];
  if (typeof value !== 'function') return undefined;
  if (value !== KvError && !(value.prototype instanceof KvError)) return undefined;
  return value as typeof core.RateLimitedError;
}

/**
 * The error the page threw, as a Node error: a `KvError` becomes an instance of the very `@kv/core`
 * class the page's error was (`className`), with its code, status, request id, details and
 * `retryAfterMs`; without a class name, the class its wire code maps to. Other errors become a plain
 * `Error` carrying their name and message.
 */
function rebuild(error: WireError): Error {
  if (!error.isKvError) return new Error(`${error.name}: ${error.message}`);
  const options: KvErrorOptions & { retryAfterMs?: number | undefined } = {
    status: error.status ?? 0,
    requestId: error.requestId,
    details: error.details,
    retryAfterMs: error.retryAfterMs,
  };
  if (error.code !== undefined) options.code = error.code;
  const Ctor = errorClass(error.className);
  if (Ctor !== undefined) return new Ctor(error.message, options);
  return errorFromWire(
    error.status ?? 0,
    { error: { code: error.code ?? 'internal', message: error.message, details: error.details } },
    { requestId: error.requestId, retryAfterMs: error.retryAfterMs },
  );
}

/** A `WatchEvent` from the page; its own keys whose value is `undefined` (a delete's `value`) stay. */
function decodeEvent<T>(wire: unknown): WatchEvent<T> {
  const event: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(wire as Record<string, unknown>)) event[key] = decodeWire(value);
  return event as unknown as WatchEvent<T>;
}

/** The bridged watches of one page: `kvWatchPush` is exposed once, and routes by subscription id. */
interface PageWatches {
  handlers: Map<string, (message: WatchMessage) => void>;
  /** Settles once `window.kvWatchPush` exists in the page. */
  exposed: Promise<void>;
}
const pageWatches = new WeakMap<Page, PageWatches>();
let watchCount = 0;

function watchesOf(page: Page): PageWatches {
  let watches = pageWatches.get(page);
  if (watches === undefined) {
    const handlers: PageWatches['handlers'] = new Map();
    const exposed = page
      .exposeFunction('kvWatchPush', (message: WatchMessage) => {
        handlers.get(message.id)?.(message);
      })
      .then(() => undefined);
    watches = { handlers, exposed };
    pageWatches.set(page, watches);
  }
  return watches;
}

/** The bridged queue listeners of one page: `kvQueueHandle` is exposed once, and routes by listener id. */
interface PageListeners {
  handlers: Map<string, (value: unknown, info: unknown) => Promise<unknown>>;
  /** Settles once `window.kvQueueHandle` exists in the page. */
  exposed: Promise<void>;
}
const pageListeners = new WeakMap<Page, PageListeners>();
let listenCount = 0;

function listenersOf(page: Page): PageListeners {
  let listeners = pageListeners.get(page);
  if (listeners === undefined) {
    const handlers: PageListeners['handlers'] = new Map();
    const exposed = page
      .exposeFunction('kvQueueHandle', async (id: string, args: unknown) => {
        const [value, info] = decodeWire(args) as [unknown, unknown];
        try {
          await handlers.get(id)?.(value, info);
          return undefined;
        } catch (error) {
          return { name: 'Error', isKvError: false, message: String((error as Error)?.message ?? error) };
        }
      })
      .then(() => undefined);
    listeners = { handlers, exposed };
    pageListeners.set(page, listeners);
  }
  return listeners;
}

/**
 * `store.listenQueue()` of the page client `clientName`: the page runs the real `listenQueue`; its
 * handler calls Node's `handler` (`kvQueueHandle`) and throws when Node's throws, so acks and nacks are
 * the page client's. Aborting `options.signal` aborts the page's signal; the promise settles as the
 * page's does (its error rebuilt as the same `@kv/core` class).
 */
async function bridgeListen(
  page: Page,
  clientName: string,
  store: string,
  handler: QueueHandler<unknown>,
  options: ListenQueueOptions = {},
): Promise<void> {
  const { handlers, exposed } = listenersOf(page);
  listenCount += 1;
  const id = `${clientName}/listen/${listenCount}`;
  const { signal, ...rest } = options;
  handlers.set(id, async (value, info) => {
    await handler(value as never, info as never);
  });
  const stop = (): void => {
    void page.evaluate((listenId) => window.stopListen(listenId), id).catch(() => undefined);
  };
  try {
    await exposed;
    if (signal?.aborted === true) return;
    signal?.addEventListener('abort', stop, { once: true });
    const result = await page.evaluate(({ name, open }) => window.listenQueue(name, open), {
      name: clientName,
      open: { id, store, options: encodeWire(rest) },
    });
    if ('error' in result) throw rebuild(result.error);
  } finally {
    signal?.removeEventListener('abort', stop);
    handlers.delete(id);
  }
}

/**
 * `store.watch()` of the page client `clientName`, as a Node `WatchSubscription`. The page opens the
 * same watch, in the iterator form (its `for await` feeds this iterator) or, when `callbacks.onUpdate`
 * is given, the callback form; `onError`, `onClose`, the iterator's end and the error it throws are
 * the page's, in its order, errors rebuilt as the same `@kv/core` classes. `stop()`, leaving a `for
 * await` and aborting `options.signal` end the page watch (its own `stop()`, or the abort of the signal
 * it was given).
 *
 * Where a bridge can't be synchronous: `watch()` throws for a bad key or prefix at once (checked here
 * with the same `@kv/core` rules; were the page to throw anyway, the watch fails with its error through
 * `onError`, `onClose` and the iterator). Events the page delivered before it learnt of `stop()` and
 * that reach Node after it are dropped (a real `stop()` ends delivery at once); one the page delivers
 * after its own `stop()` is passed on, as it is a client bug. `lastRevision` is the page's at its last
 * message. The page reads its iterator as fast as events come, so `bufferSize` never holds the stream.
 */
function bridgeWatch<T>(
  page: Page,
  clientName: string,
  store: string,
  options: WatchSubscriptionOptions = {},
  callbacks: WatchCallbacks<T> = {},
): WatchSubscription<T> {
  if (options.key !== undefined) validateKey(options.key);
  if (options.prefix !== undefined) validateKeyPrefix(options.prefix);
  const { handlers, exposed } = watchesOf(page);
  watchCount += 1;
  const id = `${clientName}/${watchCount}`;
  const { signal, ...rest } = options;
  const iterate = callbacks.onUpdate === undefined;
  const queue: WatchEvent<T>[] = [];
  let lastRevision = options.fromRevision;
  let stopped = false;
  /** Nothing more comes to the iterator: the page's iterator ended, or (callback form) the watch closed. */
  let ended = false;
  let failure: Error | undefined;
  /** The fatal error of the callback form (the real iterator then throws it). */
  let fatal: KvError | undefined;
  let wakeConsumer: (() => void) | undefined;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const finish = (error?: Error): void => {
    if (ended) return;
    ended = true;
    failure = error;
    handlers.delete(id);
    signal?.removeEventListener('abort', onAbort);
    wakeConsumer?.();
    wakeConsumer = undefined;
  };
  const close = (how: 'stop' | 'abort'): void => {
    if (stopped) return;
    stopped = true;
    void opened
      .then(() => page.evaluate(({ id, how }) => window.closeWatch(id, how), { id, how }))
      .catch(() => undefined);
  };
  const onAbort = (): void => close('abort');

  let expected = 0;
  handlers.set(id, (message) => {
    if (message.seq !== expected) {
      finish(new Error(`watch bridge: message ${message.seq} of ${id} came when ${expected} was due`));
      return;
    }
    expected += 1;
    lastRevision = message.lastRevision;
    switch (message.kind) {
      case 'event': {
        if (stopped && !message.afterStop) return;
        const event = decodeEvent<T>(message.event);
        if (iterate) {
          queue.push(event);
          wakeConsumer?.();
          wakeConsumer = undefined;
        } else callbacks.onUpdate?.(event);
        return;
      }
      case 'error': {
        const error = rebuild(message.error) as KvError;
        if (!message.willRetry) fatal = error;
        callbacks.onError?.(error, { willRetry: message.willRetry });
        return;
      }
      case 'close':
        callbacks.onClose?.();
        resolveClosed();
        if (!iterate) finish(fatal);
        return;
      case 'end':
        finish(message.error === undefined ? undefined : rebuild(message.error));
        return;
    }
  });

  signal?.addEventListener('abort', onAbort, { once: true });
  const open: WatchOpen = {
    id,
    store,
    options: encodeWire(rest),
    onUpdate: !iterate,
    signal: signal !== undefined,
    aborted: signal?.aborted ?? false,
  };
  const opened = exposed
    .then(() => page.evaluate(({ name, open }) => window.openWatch(name, open), { name: clientName, open }))
    .then((thrown) => {
      if (thrown === undefined) return;
      const error = rebuild(thrown) as KvError;
      callbacks.onError?.(error, { willRetry: false });
      callbacks.onClose?.();
      resolveClosed();
      finish(error);
    })
    .catch((cause: unknown) => {
      resolveClosed();
      finish(new Error('watch bridge: could not open the watch in the page', { cause }));
    });

  return {
    stop: () => close('stop'),
    get lastRevision() {
      return lastRevision;
    },
    closed,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (ended) {
            if (failure !== undefined) throw failure;
            return;
          }
          await new Promise<void>((resolve) => {
            wakeConsumer = resolve;
          });
        }
      } finally {
        close('stop');
      }
    },
  };
}

/**
 * How each `StoreHandle` method crosses to the page (a `Record` over every key, so a method added to
 * `StoreHandle` does not compile here until it is bridged): `call` awaits the page method and returns
 * its result; `stream` reads the stream whole in the page; `collect` drains an async iterator in the
 * page; `atomic` replays the builder's steps and commits there; `watch` runs the watch in the page and
 * pushes what it delivers back (`bridgeWatch`); `listen` runs `listenQueue` in the page with Node's
 * handler (`bridgeListen`).
 */
const STORE_METHODS: Record<
  Exclude<keyof StoreHandle, 'name'>,
  'call' | 'stream' | 'collect' | 'atomic' | 'watch' | 'listen'
> = {
  get: 'call',
  getText: 'call',
  getJson: 'call',
  getBytes: 'call',
  getStream: 'stream',
  getEntry: 'call',
  getById: 'call',
  getEntryById: 'call',
  exists: 'call',
  set: 'call',
  create: 'call',
  update: 'call',
  setExpiry: 'call',
  increment: 'call',
  enqueue: 'call',
  listenQueue: 'listen',
  queueStats: 'call',
  delete: 'call',
  purge: 'call',
  history: 'call',
  list: 'call',
  keys: 'collect',
  entries: 'collect',
  listScopes: 'call',
  getMany: 'call',
  setMany: 'call',
  deleteMany: 'call',
  atomic: 'atomic',
  watch: 'watch',
  createRecordUrl: 'call',
  createKeysUrl: 'call',
  rotateSigningSecret: 'call',
};
const STORES_METHODS: Record<keyof StoresApi, true> = {
  create: true,
  get: true,
  list: true,
  update: true,
  delete: true,
};
const TOKENS_METHODS: Record<keyof TokensApi, true> = { create: true, list: true, revoke: true };

/**
 * Wraps `window.clients[clientName]` of `page` as a Node `KvClient`.
 * @param url - the server URL the page client talks to (reported as `client.url`)
 */
export function pageClient(page: Page, clientName: string, url: string): KvClient {
  const call = async (rpc: Omit<RpcCall, 'args'>, args: unknown[]): Promise<unknown> => {
    const result = await page.evaluate(({ name, call }) => window.rpc(name, call), {
      name: clientName,
      call: { ...rpc, args: encodeWire(args) },
    });
    if ('error' in result) throw rebuild(result.error);
    return decodeWire(result.ok);
  };

  const api = <T>(kind: 'stores' | 'tokens', methods: Record<string, true>): T =>
    Object.fromEntries(
      Object.keys(methods).map((method) => [method, (...args: unknown[]) => call({ kind, method }, args)]),
    ) as T;
  const stores = api<StoresApi>('stores', STORES_METHODS);
  const tokens = api<TokensApi>('tokens', TOKENS_METHODS);

  const handles = new Map<string, StoreHandle>();
  const store = (name: string): StoreHandle => {
    validateStoreName(name);
    const cached = handles.get(name);
    if (cached !== undefined) return cached;
    const handle: Record<string, unknown> = { name };
    for (const [method, how] of Object.entries(STORE_METHODS)) {
      switch (how) {
        case 'call':
          handle[method] = (...args: unknown[]) => call({ kind: 'store', store: name, method }, args);
          break;
        case 'stream':
          handle[method] = async (...args: unknown[]) => {
            const bytes = (await call({ kind: 'stream', store: name, method }, args)) as
              | Uint8Array
              | undefined;
            if (bytes === undefined) return undefined;
            return new ReadableStream<Uint8Array>({
              start(controller) {
                if (bytes.byteLength > 0) controller.enqueue(bytes);
                controller.close();
              },
            });
          };
          break;
        case 'collect':
          handle[method] = async function* (...args: unknown[]) {
            const items = (await call({ kind: 'collect', store: name, method }, args)) as unknown[];
            yield* items;
          };
          break;
        case 'atomic':
          handle[method] = (): AtomicOperation => {
            const steps: Array<{ op: string; args: unknown[] }> = [];
            const op: AtomicOperation = {
              check: (...args) => {
                steps.push({ op: 'check', args });
                return op;
              },
              set: (...args) => {
                steps.push({ op: 'set', args });
                return op;
              },
              delete: (...args) => {
                steps.push({ op: 'delete', args });
                return op;
              },
              sum: (...args) => {
                steps.push({ op: 'sum', args });
                return op;
              },
              min: (...args) => {
                steps.push({ op: 'min', args });
                return op;
              },
              max: (...args) => {
                steps.push({ op: 'max', args });
                return op;
              },
              commit: () =>
                call({ kind: 'atomic', store: name, method: 'commit' }, [steps]) as ReturnType<
                  AtomicOperation['commit']
                >,
            };
            return op;
          };
          break;
        case 'watch':
          handle[method] = (options?: WatchSubscriptionOptions, callbacks?: WatchCallbacks<unknown>) =>
            bridgeWatch(page, clientName, name, options, callbacks);
          break;
        case 'listen':
          handle[method] = (handler: QueueHandler<unknown>, options?: ListenQueueOptions) =>
            bridgeListen(page, clientName, name, handler, options);
          break;
      }
    }
    handles.set(name, handle as unknown as StoreHandle);
    return handle as unknown as StoreHandle;
  };

  return { url, stores, tokens, store };
}
