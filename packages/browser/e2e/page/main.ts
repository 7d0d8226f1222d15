// The page the e2e tests drive: it exposes @kv/browser and a fetch that logs every request on
// `window`, then tests call them through `page.evaluate`.
import * as kv from '@kv/browser';
import type { PageGlobals } from './globals.js';
import { decodeWire, encodeWire, type RpcCall, type RpcResult } from './wire.js';

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
      const e = error as kv.KvError & { retryAfterMs?: number };
      const out: Extract<RpcResult, { error: unknown }>['error'] = {
        name: e?.name ?? 'Error',
        isKvError: kv.isKvError(error),
        message: e?.message ?? String(error),
      };
      if (kv.isKvError(error)) {
        // The export of @kv/browser (hence @kv/core) the error is an instance of, exactly: Node rebuilds
        // that class, not one guessed from the code. Bundlers may rename classes, so not `e.name`.
        const className = Object.entries(kv).find(([, value]) => value === e.constructor)?.[0];
        if (className !== undefined) out.className = className;
        out.code = e.code;
        out.status = e.status;
        if (e.requestId !== undefined) out.requestId = e.requestId;
        if (e.details !== undefined) out.details = e.details;
        if (e.retryAfterMs !== undefined) out.retryAfterMs = e.retryAfterMs;
      }
      return { error: out };
    }
  },
};
Object.assign(window, page);
document.getElementById('status')!.textContent = 'ready';
