/**
 * Type check of `toKVNamespace` in a Workers project: compiled with `@cloudflare/workers-types` as the
 * global types (no `@types/node`), as a Worker is, the binding is assignable to the Workers `KVNamespace`
 * and a Worker's `Env` accepts it.
 */
import { type StoreHandle, toKVNamespace } from '@kv/core';

interface Env {
  MY_KV: KVNamespace;
}

declare const store: StoreHandle;

export const env: Env = { MY_KV: toKVNamespace(store) };

const worker: ExportedHandler<Env> = {
  async fetch(_request: Request, e: Env): Promise<Response> {
    const text: string | null = await e.MY_KV.get('k');
    const stream: ReadableStream | null = await e.MY_KV.get('k', 'stream');
    const many: Map<string, string | null> = await e.MY_KV.get(['a', 'b']);
    await e.MY_KV.put('k', new Uint8Array([1]), { expirationTtl: 60, metadata: { a: 1 } });
    const page = await e.MY_KV.list({ prefix: 'a' });
    return new Response(JSON.stringify({ text, stream: stream !== null, many: [...many], page }));
  },
};

export default worker;
