/**
 * Test harness for the engine tests: an engine on `MemoryStorage` with a fake clock, and small request
 * helpers. Everything goes through `engine.fetch(new Request(...))`: no HTTP server.
 */
import type { WireError } from '@kv/core';
import { expect } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../src/engine.js';
import { MemoryStorage } from '../src/memory-storage.js';

/** A request body (the lib has no DOM `BodyInit`). */
export type RequestBody = NonNullable<RequestInit['body']>;

/** Origin of every test request. */
export const ORIGIN = 'http://kv.test';

/** Start time of the fake clock: 2030-01-01T00:00:00Z. */
export const T0 = Date.UTC(2030, 0, 1);

/** Options of a request made with {@link Harness.call}. */
export interface CallInit {
  /** JSON body (sets `Content-Type: application/json`). */
  json?: unknown;
  /** Raw body. */
  body?: RequestBody;
  /** Headers. */
  headers?: Record<string, string>;
  /** Aborts the request (e.g. to end a watch stream). */
  signal?: AbortSignal;
}

/** An engine with a fake clock and request helpers. */
export interface Harness {
  engine: Engine;
  storage: MemoryStorage;
  /** Current fake time, epoch ms. */
  now(): number;
  /** Moves the fake clock forward. */
  advance(ms: number): void;
  /** Sends one request. */
  call(method: string, path: string, init?: CallInit): Promise<Response>;
  /** Sends one request and parses the JSON response, asserting the status. */
  json<T = Record<string, unknown>>(
    method: string,
    path: string,
    status: number,
    init?: CallInit,
  ): Promise<T>;
  /** Asserts an error response: status, code; returns the body. */
  error(method: string, path: string, status: number, code: string, init?: CallInit): Promise<WireError>;
  /** Creates a store (asserting 201). */
  createStore(name: string, settings?: Record<string, unknown>): Promise<void>;
  /** Writes a text value with PUT, asserting 200/201; returns the SetResult. */
  put(
    store: string,
    key: string,
    value: string | Uint8Array,
    headers?: Record<string, string>,
  ): Promise<{ id: string; revision: number; created: boolean }>;
}

/** Path of an entry, with the key encoded as the protocol asks (`encodeURIComponent`). */
export function entryPath(store: string, key: string): string {
  return `/v1/stores/${encodeURIComponent(store)}/entries/${encodeURIComponent(key)}`;
}

/** Creates a harness. */
export function setup(options: Partial<EngineOptions> = {}): Harness {
  let now = T0;
  const storage = new MemoryStorage();
  const engine = createEngine({ storage, clock: () => now, ...options });
  const call = async (method: string, path: string, init: CallInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    let body: RequestBody | undefined = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const reqInit: RequestInit & { duplex?: 'half' } = { method, headers };
    if (init.signal) reqInit.signal = init.signal;
    if (body !== undefined) {
      reqInit.body = body;
      if (body instanceof ReadableStream) reqInit.duplex = 'half';
    }
    return engine.fetch(new Request(`${ORIGIN}${path}`, reqInit));
  };
  const h: Harness = {
    engine,
    storage,
    now: () => now,
    advance(ms) {
      now += ms;
    },
    call,
    async json<T>(method: string, path: string, status: number, init?: CallInit): Promise<T> {
      const res = await call(method, path, init);
      const text = await res.text();
      expect(res.status, `${method} ${path}: ${text}`).toBe(status);
      return JSON.parse(text) as T;
    },
    async error(method, path, status, code, init) {
      const res = await call(method, path, init);
      const text = await res.text();
      expect(res.status, `${method} ${path}: ${text}`).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.headers.get('kv-request-id')).toBeTruthy();
      const body = JSON.parse(text) as WireError;
      expect(body.error.code).toBe(code);
      expect(res.headers.get('kv-error-code')).toBe(code);
      expect(typeof body.error.message).toBe('string');
      return body;
    },
    async createStore(name, settings = {}) {
      await h.json('POST', '/v1/stores', 201, { json: { name, ...settings } });
    },
    async put(store, key, value, headers = {}) {
      const res = await call('PUT', entryPath(store, key), {
        body: value as RequestBody,
        headers: { 'content-type': 'text/plain', ...headers },
      });
      const text = await res.text();
      expect([200, 201], `PUT ${key}: ${text}`).toContain(res.status);
      return JSON.parse(text) as { id: string; revision: number; created: boolean };
    },
  };
  return h;
}

/** base64 of a UTF-8 string. */
export function b64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** UTF-8 text of base64. */
export function unb64(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}
