// Tagged JSON for values crossing between Node and the page (playwright passes plain JSON): bytes,
// ArrayBuffers, Maps, Dates and `undefined` survive the trip. Used by the page (rpc) and by the Node
// proxy client of the conformance run.

const TAG = '__kvWire';

type Tagged =
  | { [TAG]: 'u8'; b64: string }
  | { [TAG]: 'ab'; b64: string }
  | { [TAG]: 'date'; iso: string }
  | { [TAG]: 'undef' }
  | { [TAG]: 'map'; entries: Array<[unknown, unknown]> };

function toB64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromB64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Encodes `value` as JSON-safe data. */
export function encodeWire(value: unknown): unknown {
  if (value === undefined) return { [TAG]: 'undef' } satisfies Tagged;
  if (value instanceof Uint8Array) return { [TAG]: 'u8', b64: toB64(value) } satisfies Tagged;
  if (value instanceof ArrayBuffer)
    return { [TAG]: 'ab', b64: toB64(new Uint8Array(value)) } satisfies Tagged;
  if (value instanceof Date) return { [TAG]: 'date', iso: value.toISOString() } satisfies Tagged;
  if (value instanceof Map) {
    return {
      [TAG]: 'map',
      entries: [...value].map(([k, v]) => [encodeWire(k), encodeWire(v)]),
    } satisfies Tagged;
  }
  if (Array.isArray(value)) return value.map(encodeWire);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeWire(v);
    return out;
  }
  return value;
}

/** Decodes data made by {@link encodeWire}. Object keys whose value was `undefined` stay present. */
export function decodeWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeWire);
  if (typeof value !== 'object' || value === null) return value;
  const tagged = value as Partial<Record<typeof TAG, string>> & Record<string, unknown>;
  switch (tagged[TAG]) {
    case 'undef':
      return undefined;
    case 'u8':
      return fromB64(tagged.b64 as string);
    case 'ab':
      return fromB64(tagged.b64 as string).buffer;
    case 'date':
      return new Date(tagged.iso as string);
    case 'map':
      return new Map(
        (tagged.entries as Array<[unknown, unknown]>).map(([k, v]) => [decodeWire(k), decodeWire(v)]),
      );
    default: {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(tagged)) {
        const decoded = decodeWire(v);
        // `{ value: undefined }` and `{}` differ for toEqual/toMatchObject only in key presence; keep keys
        // whose value was explicitly undefined out, as structured results never carry them.
        if (decoded !== undefined) out[k] = decoded;
      }
      return out;
    }
  }
}

/** A call from Node to a client in the page. */
export interface RpcCall {
  /** `stores`: client.stores[method]; `tokens`: client.tokens[method]; `store`: client.store(store)[method];
   * `stream`: getStream read whole; `collect`: an async iterator method collected to an array; `atomic`:
   * replay builder ops and commit. */
  kind: 'stores' | 'tokens' | 'store' | 'stream' | 'collect' | 'atomic';
  store?: string;
  method: string;
  /** Encoded argument list. */
  args: unknown;
}

/** The answer of an rpc: an encoded result, or the thrown error's fields. */
export type RpcResult =
  | { ok: unknown }
  | {
      error: {
        name: string;
        isKvError: boolean;
        /** The `@kv/core` export the error is an instance of (its own class, not a base class). */
        className?: string;
        code?: string;
        status?: number;
        message: string;
        details?: Record<string, unknown>;
        requestId?: string;
        retryAfterMs?: number;
      };
    };

/** How a `listenQueue` bridged to Node (`pageClient`) is started in the page. */
export interface ListenOpen {
  /** Listener id, chosen by Node: the page's handler calls `kvQueueHandle` with it. */
  id: string;
  store: string;
  /** Encoded `ListenQueueOptions` without `signal` (Node's signal ends it through `stopListen`). */
  options: unknown;
}

/** How a watch bridged to Node (`pageClient`) is opened in the page. */
export interface WatchOpen {
  /** Subscription id, chosen by Node: the key of every message the page pushes back. */
  id: string;
  store: string;
  /** Encoded `WatchSubscriptionOptions` without `signal` (an `AbortSignal` does not cross). */
  options: unknown;
  /**
   * Node passed `onUpdate`: the page watch uses the callback form (events go to `onUpdate`); otherwise
   * the page iterates the subscription with `for await`, as a Node consumer of the iterator would.
   */
  onUpdate: boolean;
  /** Node passed a `signal`: the page watch gets the signal of its own `AbortController`. */
  signal: boolean;
  /** That signal was already aborted when `watch()` was called. */
  aborted: boolean;
}

/**
 * What a bridged page watch reports to Node, in the order it happened there (`seq` counts from 0 per
 * subscription). `event`: `onUpdate` was called or the page's iterator yielded; `error`: `onError`;
 * `close`: `onClose`; `end`: the page's `for await` finished, with the error it threw if any.
 * `lastRevision` is the page subscription's `lastRevision` when the message was sent.
 */
export type WatchMessage = { id: string; seq: number; lastRevision: number | undefined } & (
  | {
      kind: 'event';
      /** Encoded `WatchEvent`. */
      event: unknown;
      /** Sent after the page watch was told to stop (a bridge delay can't explain it: a client bug). */
      afterStop: boolean;
    }
  | { kind: 'error'; error: WireError; willRetry: boolean }
  | { kind: 'close' }
  | { kind: 'end'; error?: WireError }
);

/** A thrown error's fields, as the page sends them (Node rebuilds the same `@kv/core` class). */
export type WireError = Extract<RpcResult, { error: unknown }>['error'];
