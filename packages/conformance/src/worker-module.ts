/**
 * A Workers-style module as it would be deployed on Cloudflare: `export default { fetch(request, env) }`
 * over a KV binding `env.MY_KV`, knowing nothing of kv. The suite runs it unchanged with
 * `env.MY_KV = toKVNamespace(store)` (docs/compat.md "Workers KVNamespace"). Routes:
 *
 * - `PUT /notes/{name}` stores the body with `expirationTtl` from `?ttl=` and metadata `{ author }` from
 *   the `x-author` header; `201`.
 * - `GET /notes/{name}` answers the text with `x-author`, or `404`.
 * - `GET /notes?prefix=` lists names (all pages) as JSON `[{ name, author, expiration }]`.
 * - `GET /counter` increments a JSON counter and answers its new value.
 * - `POST /bulk` answers `{ key: value }` for the JSON array of keys in the body (bulk `get`).
 * - `DELETE /notes/{name}` deletes; `204`.
 *
 * @module
 */
import type { KVNamespace } from '@kv/core';

/** The Worker's bindings, as declared in its `wrangler.toml`. */
export interface WorkerEnv {
  /** The KV namespace binding. */
  MY_KV: KVNamespace;
}

/** Metadata the Worker keeps with each note. */
interface NoteMeta {
  author: string;
}

/** The Worker: a default export with a `fetch` handler, as Cloudflare's module syntax has it. */
const worker: { fetch(request: Request, env: WorkerEnv): Promise<Response> } = {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    const url = new URL(request.url);
    const name = url.pathname.startsWith('/notes/') ? decodeURIComponent(url.pathname.slice(7)) : '';

    if (request.method === 'PUT' && name !== '') {
      const ttl = url.searchParams.get('ttl');
      await env.MY_KV.put(`note:${name}`, await request.text(), {
        metadata: { author: request.headers.get('x-author') ?? 'anonymous' },
        ...(ttl === null ? {} : { expirationTtl: Number(ttl) }),
      });
      return new Response(null, { status: 201 });
    }
    if (request.method === 'DELETE' && name !== '') {
      await env.MY_KV.delete(`note:${name}`);
      return new Response(null, { status: 204 });
    }
    if (request.method === 'GET' && name !== '') {
      const { value, metadata } = await env.MY_KV.getWithMetadata<NoteMeta>(`note:${name}`);
      if (value === null) return new Response('not found', { status: 404 });
      return new Response(value, { headers: { 'x-author': metadata?.author ?? '' } });
    }
    if (request.method === 'GET' && url.pathname === '/notes') {
      const notes: Array<{ name: string; author: string | null; expiration: number | null }> = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await env.MY_KV.list<NoteMeta>({
          prefix: `note:${url.searchParams.get('prefix') ?? ''}`,
          limit: 2,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const key of page.keys) {
          notes.push({
            name: key.name.slice(5),
            author: key.metadata?.author ?? null,
            expiration: key.expiration ?? null,
          });
        }
        if (page.list_complete) break;
        cursor = page.cursor;
      }
      return Response.json(notes);
    }
    if (request.method === 'GET' && url.pathname === '/counter') {
      const count = ((await env.MY_KV.get<number>('counter', 'json')) ?? 0) + 1;
      await env.MY_KV.put('counter', JSON.stringify(count));
      return Response.json(count);
    }
    if (request.method === 'POST' && url.pathname === '/bulk') {
      const keys = (await request.json()) as string[];
      const values = await env.MY_KV.get(keys);
      return Response.json(Object.fromEntries(values));
    }
    return new Response('no route', { status: 404 });
  },
};

export default worker;
