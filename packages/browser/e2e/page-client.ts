/**
 * A `KvClient` in Node whose every operation runs in the page, on a real `@kv/browser` client in
 * Chromium (through `page.evaluate` and the page's `rpc`): the conformance suite drives the browser
 * client with it. Values cross as tagged JSON (`page/wire.ts`); errors are rebuilt into the same
 * `@kv/core` classes the page threw. Every `KvClient` method is bridged but `watch`.
 */
import * as core from '@kv/core';
import {
  type AtomicOperation,
  errorFromWire,
  type KvClient,
  KvError,
  type KvErrorOptions,
  type StoreHandle,
  type StoresApi,
  type TokensApi,
  validateStoreName,
} from '@kv/core';
import type { Page } from 'playwright-core';
import { decodeWire, encodeWire, type RpcCall, type RpcResult } from './page/wire.js';

type WireError = Extract<RpcResult, { error: unknown }>['error'];

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

/**
 * How each `StoreHandle` method crosses to the page (a `Record` over every key, so a method added to
 * `StoreHandle` does not compile here until it is bridged): `call` awaits the page method and returns
 * its result; `stream` reads the stream whole in the page; `collect` drains an async iterator in the
 * page; `atomic` replays the builder's steps and commits there; `unbridged` throws (watch: the bridge
 * carries calls, not streams; e2e/browser.test.ts and e2e/watch.test.ts cover it).
 */
const STORE_METHODS: Record<
  Exclude<keyof StoreHandle, 'name'>,
  'call' | 'stream' | 'collect' | 'atomic' | 'unbridged'
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
  watch: 'unbridged',
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
              commit: () =>
                call({ kind: 'atomic', store: name, method: 'commit' }, [steps]) as ReturnType<
                  AtomicOperation['commit']
                >,
            };
            return op;
          };
          break;
        case 'unbridged':
          handle[method] = () => {
            throw new Error(`${method} is not bridged to the page by this proxy`);
          };
          break;
      }
    }
    handles.set(name, handle as unknown as StoreHandle);
    return handle as unknown as StoreHandle;
  };

  return { url, stores, tokens, store };
}
