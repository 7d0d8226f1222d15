// The page of kv-namespace.test.ts: a Workers-style module (the one @kv/conformance runs in Node) and
// the Workers KV binding of @kv/browser, driven from Node through `page.evaluate`.
import { createClient, toKVNamespace } from '@kv/browser';
import worker from '@kv/conformance/worker-module';

/** A response as Node reads it back. */
export interface PageResponse {
  status: number;
  text: string;
  headers: Record<string, string>;
}

/** What the page exposes on `window`. */
export interface KvNamespacePage {
  /** Sends one request to the Worker with `env.MY_KV = toKVNamespace(store)`. */
  callWorker(
    target: { url: string; token: string; store: string },
    request: { method: string; path: string; body?: string; headers?: Record<string, string> },
  ): Promise<PageResponse>;
  /** Binding reads in the page: arrayBuffer bytes, stream text and a bulk read. */
  readForms(
    target: { url: string; token: string; store: string },
    key: string,
    bulk: string[],
  ): Promise<{ bytes: number[] | null; streamed: string | null; bulk: Array<[string, string | null]> }>;
}

declare global {
  interface Window {
    kvNamespacePage: KvNamespacePage;
  }
}

const binding = (target: { url: string; token: string; store: string }) =>
  toKVNamespace(createClient({ url: target.url, token: target.token }).store(target.store));

window.kvNamespacePage = {
  async callWorker(target, request) {
    const env = { MY_KV: binding(target) };
    const init: RequestInit = { method: request.method };
    if (request.body !== undefined) init.body = request.body;
    if (request.headers !== undefined) init.headers = request.headers;
    const response = await worker.fetch(new Request(`https://worker.example${request.path}`, init), env);
    return {
      status: response.status,
      text: await response.text(),
      headers: Object.fromEntries(response.headers),
    };
  },
  async readForms(target, key, bulk) {
    const ns = binding(target);
    const buffer = await ns.get(key, 'arrayBuffer');
    const stream = await ns.get(key, { type: 'stream', cacheTtl: 60 });
    const many = await ns.get(bulk);
    return {
      bytes: buffer === null ? null : [...new Uint8Array(buffer)],
      streamed: stream === null ? null : await new Response(stream).text(),
      bulk: [...many],
    };
  },
};

const status = document.getElementById('status');
if (status !== null) status.textContent = 'ready';
