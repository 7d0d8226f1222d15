// The page the e2e tests drive: it exposes @kv/browser and a fetch that logs every request on
// `window`, then tests call them through `page.evaluate`.
import * as kv from '@kv/browser';
import type { PageGlobals } from './globals.js';
import {
  decodeWire,
  encodeWire,
  type ListenOpen,
  type RpcCall,
  type RpcResult,
  type WatchMessage,
  type WatchOpen,
  type WireError,
} from './wire.js';

/**
 * A thrown error's fields for Node: for a `KvError`, the exact export of @kv/browser (hence @kv/core)
 * it is an instance of, so Node rebuilds that class, not one guessed from the code (bundlers may rename
 * classes, so not `e.name`), with its code, status, request id, details and `retryAfterMs`.
 */
function errorToWire(error: unknown): WireError {
  const e = error as kv.KvError & { retryAfterMs?: number };
  const out: WireError = {
    name: e?.name ?? 'Error',
    isKvError: kv.isKvError(error),
    message: e?.message ?? String(error),
  };
  if (kv.isKvError(error)) {
    const className = Object.entries(kv).find(([, value]) => value === e.constructor)?.[0];
    if (className !== undefined) out.className = className;
    out.code = e.code;
    out.status = e.status;
    if (e.requestId !== undefined) out.requestId = e.requestId;
    if (e.details !== undefined) out.details = e.details;
    if (e.retryAfterMs !== undefined) out.retryAfterMs = e.retryAfterMs;
  }
  return out;
}

/** Queue listeners started for Node by `listenQueue`, by id: how `stopListen` ends each. */
const listeners = new Map<string, AbortController>();

/** Watches opened for Node by `openWatch`, by subscription id: how `closeWatch` ends each. */
const bridged = new Map<string, { stopped: boolean; stop: () => void; abort: () => void }>();

/** `Omit` applied to each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const net: PageGlobals['net'] = { requests: [] };

const page: PageGlobals = {
  kv,
  net,
  countingFetch: (input, init) => {
    const request = new Request(input, init);
    net.requests.push({
      method: request.method,
      url: request.url,
      ifNoneMatch: request.headers.get('if-none-match'),
      ifMatch: request.headers.get('if-match'),
    });
    return fetch(request);
  },
  conflicts: [],
  clients: {},
  watches: {},
  rpc: async (clientName: string, call: RpcCall): Promise<RpcResult> => {
    try {
      const client = page.clients[clientName];
      if (client === undefined) throw new Error(`no client ${clientName}`);
      const args = decodeWire(call.args) as unknown[];
      // biome-ignore lint/suspicious/noExplicitAny: the bridge calls methods by name.
      const target: any =
        call.kind === 'stores'
          ? client.stores
          : call.kind === 'tokens'
            ? client.tokens
            : client.store(call.store as string);
      let result: unknown;
      if (call.kind === 'stores' || call.kind === 'tokens' || call.kind === 'store') {
        result = await target[call.method](...args);
      } else if (call.kind === 'stream') {
        const stream = (await target.getStream(...args)) as ReadableStream<Uint8Array> | undefined;
        result = stream === undefined ? undefined : new Uint8Array(await new Response(stream).arrayBuffer());
      } else if (call.kind === 'collect') {
        const items: unknown[] = [];
        for await (const item of target[call.method](...args)) items.push(item);
        result = items;
      } else {
        let op = target.atomic();
        for (const step of args[0] as Array<{ op: string; args: unknown[] }>) op = op[step.op](...step.args);
        result = await op.commit();
      }
      return { ok: encodeWire(result) };
    } catch (error) {
      return { error: errorToWire(error) };
    }
  },
  openWatch: (clientName: string, open: WatchOpen): WireError | undefined => {
    const client = page.clients[clientName];
    if (client === undefined) throw new Error(`no client ${clientName}`);
    const controller = new AbortController();
    if (open.aborted) controller.abort();
    const options = decodeWire(open.options) as kv.WatchSubscriptionOptions;
    if (open.signal) options.signal = controller.signal;
    // Each message waits for Node to take the previous one: Node sees them in the page's order.
    let seq = 0;
    let sent: Promise<void> = Promise.resolve();
    const push = (message: DistributiveOmit<WatchMessage, 'id' | 'seq' | 'lastRevision'>): void => {
      const full = {
        ...message,
        id: open.id,
        seq: seq++,
        lastRevision: subscription?.lastRevision,
      } as WatchMessage;
      sent = sent.then(() => window.kvWatchPush?.(full)).catch(() => undefined);
    };
    const entry = { stopped: false, stop: () => subscription?.stop(), abort: () => controller.abort() };
    const event = (e: kv.WatchEvent): void =>
      push({ kind: 'event', event: encodeWire(e), afterStop: entry.stopped });
    let subscription: kv.WatchSubscription | undefined;
    // Set before `watch()`: with an aborted signal, `onClose` runs within the call and removes it.
    bridged.set(open.id, entry);
    try {
      subscription = client.store(open.store).watch(options, {
        ...(open.onUpdate ? { onUpdate: event } : {}),
        onError: (error, { willRetry }) => push({ kind: 'error', error: errorToWire(error), willRetry }),
        onClose: () => {
          push({ kind: 'close' });
          bridged.delete(open.id);
        },
      });
    } catch (error) {
      // `watch()` threw synchronously (a bad key or prefix): Node rebuilds the error.
      bridged.delete(open.id);
      return errorToWire(error);
    }
    if (!open.onUpdate) {
      const iterable = subscription;
      void (async () => {
        try {
          for await (const e of iterable) event(e);
          push({ kind: 'end' });
        } catch (error) {
          push({ kind: 'end', error: errorToWire(error) });
        }
      })();
    }
    return undefined;
  },
  listenQueue: async (clientName: string, open: ListenOpen): Promise<RpcResult> => {
    const controller = new AbortController();
    listeners.set(open.id, controller);
    try {
      const client = page.clients[clientName];
      if (client === undefined) throw new Error(`no client ${clientName}`);
      const options = decodeWire(open.options) as kv.ListenQueueOptions;
      await client.store(open.store).listenQueue(
        async (value, info) => {
          const error = await window.kvQueueHandle?.(open.id, encodeWire([value, info]));
          if (error !== undefined) throw new Error(error.message);
        },
        { ...options, signal: controller.signal },
      );
      return { ok: encodeWire(undefined) };
    } catch (error) {
      return { error: errorToWire(error) };
    } finally {
      listeners.delete(open.id);
    }
  },
  stopListen: (id: string): void => {
    listeners.get(id)?.abort();
  },
  closeWatch: (id: string, how: 'stop' | 'abort'): void => {
    const entry = bridged.get(id);
    if (entry === undefined) return;
    entry.stopped = true;
    if (how === 'stop') entry.stop();
    else entry.abort();
  },
};
Object.assign(window, page);
document.getElementById('status')!.textContent = 'ready';
