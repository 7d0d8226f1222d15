/**
 * A `KvClient` in Node whose every operation runs in the page, on a real `@kv/browser` client in
 * Chromium (through `page.evaluate` and the page's `rpc`): the conformance suite drives the browser
 * client with it. Values cross as tagged JSON (`page/wire.ts`); errors are rebuilt into the same
 * `@kv/core` classes from their wire code.
 */
import {
  type AtomicOperation,
  errorFromWire,
  type KvClient,
  KvError,
  type StoreHandle,
  type StoresApi,
  validateStoreName,
} from '@kv/core';
import type { Page } from 'playwright-core';
import { decodeWire, encodeWire, type RpcCall, type RpcResult } from './page/wire.js';

function rebuild(error: Extract<RpcResult, { error: unknown }>['error']): Error {
  if (!error.isKvError) return new Error(`${error.name}: ${error.message}`);
  const rebuilt = errorFromWire(
    error.status ?? 0,
    { error: { code: error.code ?? 'internal', message: error.message, details: error.details } },
    { retryAfterMs: error.retryAfterMs },
  );
  if (error.status === 0 && !(rebuilt instanceof KvError)) return new KvError(error.message);
  return rebuilt;
}

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

  const storeMethod =
    (store: string, method: string) =>
    (...args: unknown[]) =>
      call({ kind: 'store', store, method }, args);

  const stores = Object.fromEntries(
    ['create', 'get', 'list', 'update', 'delete'].map((method) => [
      method,
      (...args: unknown[]) => call({ kind: 'stores', method }, args),
    ]),
  ) as unknown as StoresApi;

  const handles = new Map<string, StoreHandle>();
  const store = (name: string): StoreHandle => {
    validateStoreName(name);
    const cached = handles.get(name);
    if (cached !== undefined) return cached;
    const plain = [
      'get',
      'getText',
      'getJson',
      'getBytes',
      'getEntry',
      'getById',
      'getEntryById',
      'exists',
      'set',
      'create',
      'update',
      'setExpiry',
      'delete',
      'purge',
      'history',
      'list',
      'listScopes',
      'getMany',
      'setMany',
      'deleteMany',
    ];
    const handle: Record<string, unknown> = { name };
    for (const method of plain) handle[method] = storeMethod(name, method);
    handle.getStream = async (key: string) => {
      const bytes = (await call({ kind: 'stream', store: name, method: 'getStream' }, [key])) as
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
    for (const method of ['keys', 'entries']) {
      handle[method] = async function* (...args: unknown[]) {
        const items = (await call({ kind: 'collect', store: name, method }, args)) as unknown[];
        yield* items;
      };
    }
    handle.atomic = (): AtomicOperation => {
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
    handle.watch = () => {
      throw new Error('watch is not bridged to the page by this proxy');
    };
    handles.set(name, handle as unknown as StoreHandle);
    return handle as unknown as StoreHandle;
  };

  const notBridged = (): never => {
    throw new Error('tokens are not bridged to the page by this proxy');
  };
  const tokens: KvClient['tokens'] = { create: notBridged, list: notBridged, revoke: notBridged };

  return { url, stores, tokens, store };
}
