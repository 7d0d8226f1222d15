/**
 * The `@kv/node` client against the real server process (the built `dist/main.js` on a temporary SQLite
 * file, the admin token): what only a real server and a real network show (the client's behaviour cases
 * run on this server in `conformance.test.ts`, Node-only cases included): every error class as the client reads it off the wire (401, 403,
 * connection refused, no answer within `timeoutMs`, 412, 413, 400, 404), token management, signed URLs
 * fetched with a plain `fetch` and invalidated by `rotateSigningSecret`, and a streamed upload that is
 * proven to leave the client chunk by chunk.
 */

import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expectKvError, uniqueStoreName as uniqueName } from '@kv/conformance';
import {
  createClient,
  type FetchLike,
  isKvError,
  KeyExistsError,
  NetworkError,
  type NodeKvClient,
  NotFoundError,
  PayloadTooLargeError,
  RevisionMismatchError,
  StoreNotFoundError,
  TimeoutError,
  UnauthenticatedError,
  UnauthorizedError,
  ValidationError,
} from '@kv/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-client-');
let server: ServerProcess | undefined;

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'client.sqlite')]);
});
afterAll(async () => {
  try {
    const exit = await server?.stop();
    if (exit !== undefined && exit.code !== 0) {
      throw new Error(`kv-server exited with ${exit.code ?? exit.signal}: ${server?.stderr()}`);
    }
  } finally {
    tmp.remove();
  }
});

function serverUrl(): string {
  if (server === undefined) throw new Error('server not started');
  return server.url;
}

/** A client of the shared server; `token` defaults to the admin token. */
function client(options: { token?: string; timeoutMs?: number; retry?: false } = {}): NodeKvClient {
  return createClient({ url: serverUrl(), env: {}, token: ADMIN_TOKEN, ...options });
}

/** The error chain of `error` as `name: message` strings, outermost first. */
function causes(error: unknown): string[] {
  const out: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    out.push(
      e instanceof Error ? `${e.name}: ${e.message} ${(e as { code?: string }).code ?? ''}` : String(e),
    );
    e = e instanceof Error ? e.cause : undefined;
  }
  return out;
}

describe('error classes through @kv/node against kv-server', () => {
  it('a wrong or missing token is UnauthenticatedError (401) with the server request id', async () => {
    for (const kv of [
      createClient({ url: serverUrl(), env: {}, token: 'kv_not-a-real-token' }),
      createClient({ url: serverUrl(), env: {} }),
    ]) {
      const error = await expectKvError(kv.stores.list(), UnauthenticatedError, 'unauthenticated');
      expect(error.status).toBe(401);
      expect(error.requestId).toMatch(/\S/);
      await expectKvError(kv.store('anything').get('k'), UnauthenticatedError);
    }
  });

  it('a token from tokens.create lacking the capability is UnauthorizedError (403); list and revoke', async () => {
    const admin = client();
    const name = uniqueName('scoped');
    await admin.stores.create(name);
    await admin.store(name).set('k', 'v');
    const created = await admin.tokens.create({
      capabilities: [`kv[${name}]:get`],
      description: 'read-only test token',
    });
    expect(created).toMatchObject({ capabilities: [`kv[${name}]:get`], description: 'read-only test token' });
    expect(created.token).toMatch(/^kv_/);

    const reader = client({ token: created.token });
    expect(await reader.store(name).get('k')).toBe('v');
    const denied = await expectKvError(reader.store(name).set('k', 'w'), UnauthorizedError, 'forbidden');
    expect(denied.status).toBe(403);
    expect(denied.requestId).toMatch(/\S/);
    await expectKvError(reader.store(name).delete('k'), UnauthorizedError);
    await expectKvError(reader.stores.create(uniqueName('nope')), UnauthorizedError);
    await expectKvError(reader.tokens.list(), UnauthorizedError);
    expect(await admin.store(name).get('k')).toBe('v');

    const listed = (await admin.tokens.list()).find((t) => t.id === created.id);
    expect(listed).toMatchObject({ id: created.id, capabilities: [`kv[${name}]:get`], revokedAt: null });
    expect(listed).not.toHaveProperty('token');

    expect(await admin.tokens.revoke(created.id)).toBe(true);
    await expectKvError(reader.store(name).get('k'), UnauthenticatedError);
    expect(await admin.tokens.revoke(created.id)).toBe(false);
    expect((await admin.tokens.list()).find((t) => t.id === created.id)?.revokedAt).toMatch(/^\d{4}-/);
  });

  it('412, 413, 400 and 404 answers become KeyExists/RevisionMismatch/PayloadTooLarge/Validation/NotFound errors', async () => {
    const kv = client();
    const name = uniqueName('errors');
    await kv.stores.create(name, { maxValueBytes: 8 });
    const store = kv.store(name);
    const first = await store.create('k', 'v');

    const exists = await expectKvError(store.create('k', 'w'), KeyExistsError, 'key_exists');
    const mismatch = await expectKvError(
      store.update('k', 'w', first.revision + 1),
      RevisionMismatchError,
      'revision_mismatch',
    );
    const tooLarge = await expectKvError(
      store.set('big', '123456789'),
      PayloadTooLargeError,
      'payload_too_large',
    );
    // Not checked by the client (it does not know the limit): the server's 400.
    const invalid = await expectKvError(
      kv.tokens.create({ capabilities: ['kv:get'], description: 'x'.repeat(300) }),
      ValidationError,
      'validation_error',
    );
    const missing = await expectKvError(
      kv.store(uniqueName('gone')).get('k'),
      NotFoundError,
      'store_not_found',
    );
    expect(missing).toBeInstanceOf(StoreNotFoundError);

    for (const [error, status] of [
      [exists, 412],
      [mismatch, 412],
      [tooLarge, 413],
      [invalid, 400],
      [missing, 404],
    ] as const) {
      expect(error.status).toBe(status);
      expect(error.requestId, `${error.name} came from the server`).toMatch(/\S/);
      expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: error.name, code: error.code, status });
    }
    expect(await store.get('k')).toBe('v');
    expect(await store.exists('big')).toBe(false);
  });
});

describe('no answer: NetworkError and TimeoutError from a real server process', () => {
  it('a stopped (SIGSTOP) server is TimeoutError; once it is gone, NetworkError with the connection error as cause', async () => {
    const other = await startServer(['--storage', 'memory']);
    try {
      const kv = createClient({ url: other.url, env: {}, token: ADMIN_TOKEN, timeoutMs: 300 });
      await kv.stores.create('s');
      // A stopped process runs no more code: the kernel accepts the connection, nobody answers.
      other.proc.kill('SIGSTOP');
      try {
        const plain = createClient({
          url: other.url,
          env: {},
          token: ADMIN_TOKEN,
          timeoutMs: 300,
          retry: false,
        });
        const timeout = await expectKvError(plain.store('s').get('k'), TimeoutError, 'timeout');
        expect(timeout.status).toBe(0);
        expect(timeout.cause).toBeInstanceOf(Error);
        // With retries: every attempt times out, the last one is reported.
        await expectKvError(kv.stores.list(), TimeoutError);
      } finally {
        other.proc.kill('SIGCONT');
      }
      // Running again, it answers (with the default timeout: a resumed process may be slow at first).
      const patient = createClient({ url: other.url, env: {}, token: ADMIN_TOKEN });
      expect(await patient.store('s').get('k')).toBeUndefined();
    } finally {
      const exit = await other.stop();
      expect(exit.code).toBe(0);
    }
    const kv = createClient({ url: other.url, env: {}, token: ADMIN_TOKEN, retry: false });
    const error = await expectKvError(kv.stores.list(), NetworkError, 'network_error');
    expect(error.status).toBe(0);
    expect(error.requestId).toBeUndefined();
    expect(error.cause).toBeInstanceOf(Error);
    expect(causes(error).join('\n')).toContain('ECONNREFUSED');
    // Retried reads end the same way.
    const retried = createClient({
      url: other.url,
      env: {},
      token: ADMIN_TOKEN,
      retry: { limit: 2, backoffMs: 10 },
    });
    await expectKvError(retried.store('s').get('k'), NetworkError);
  });

  it('an upload whose body never ends is TimeoutError: the server holds the request, waiting for the body', async () => {
    const kv = client();
    const name = uniqueName('held');
    await kv.stores.create(name);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('a first chunk, and then nothing'));
      },
    });
    const slow = client({ timeoutMs: 300 });
    const error = await expectKvError(slow.store(name).set('k', body), TimeoutError, 'timeout');
    expect(error.message).toContain('300 ms');
    // The server dropped the half-written value.
    expect(await kv.store(name).exists('k')).toBe(false);
    expect((await kv.stores.get(name))?.revision).toBe(0);
  });
});

describe('signed URLs against kv-server', () => {
  it('createRecordUrl and createKeysUrl work with a plain fetch and no token; rotateSigningSecret ends them', async () => {
    const kv = client();
    const name = uniqueName('signed');
    await kv.stores.create(name);
    const store = kv.store(name);
    await store.set('docs/report.txt', 'the report');
    await store.set('docs/other.txt', 'other');
    await store.set('private', 'secret');

    const record = await store.createRecordUrl('docs/report.txt', { expiresInSecs: 600 });
    const keys = await store.createKeysUrl({ prefix: 'docs/', limit: 10, expiresInSecs: 600 });
    expect(Date.parse(record.expiresAt)).toBeGreaterThan(Date.now());
    expect(record.url.startsWith(serverUrl())).toBe(true);

    const got = await fetch(record.url);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('the report');
    const listed = await fetch(keys.url);
    expect(listed.status).toBe(200);
    const page = (await listed.json()) as { items: Array<{ key: string; value?: unknown }> };
    expect(page.items.map((i) => i.key)).toEqual(['docs/other.txt', 'docs/report.txt']);
    expect(page.items.every((i) => i.value === undefined)).toBe(true);

    // The URL is for that record only: another key with the same signature is refused.
    const forged = record.url.replace(encodeURIComponent('docs/report.txt'), 'private');
    expect(forged).not.toBe(record.url);
    expect((await fetch(forged)).status).toBe(401);

    await store.rotateSigningSecret();
    for (const url of [record.url, keys.url]) {
      const refused = await fetch(url);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({
        error: { code: 'unauthenticated', details: { reason: 'signature_invalid' } },
      });
    }
    const fresh = await store.createRecordUrl('docs/report.txt', { expiresInSecs: 600 });
    expect(await (await fetch(fresh.url)).text()).toBe('the report');

    // Rotating needs kv.admin:stores; signing needs `sign`.
    const reader = await kv.tokens.create({ capabilities: [`kv[${name}]:get`] });
    const limited = client({ token: reader.token });
    await expectKvError(limited.store(name).rotateSigningSecret(), UnauthorizedError);
    await expectKvError(
      limited.store(name).createRecordUrl('private', { expiresInSecs: 60 }),
      UnauthorizedError,
    );
    expect(await (await fetch(fresh.url)).text()).toBe('the report');
  });
});

/**
 * A `node:http` proxy in front of the server that forwards request bodies chunk by chunk and reports, for
 * every chunk, when the proxy has handed it to the server's socket.
 */
async function countingProxy(target: string): Promise<{
  url: string;
  /** Body bytes of the current upload written to the server so far. */
  forwarded: () => number;
  /** Resolves once `bytes` body bytes have been written to the server. */
  waitForwarded: (bytes: number, failAfterMs: number) => Promise<void>;
  close: () => Promise<void>;
}> {
  const upstream = new URL(target);
  let forwarded = 0;
  const waiters = new Set<{ bytes: number; resolve: () => void }>();
  const proxy: Server = createServer((req, res) => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.flushHeaders();
    req.on('data', (chunk: Buffer) => {
      out.write(chunk, () => {
        forwarded += chunk.length;
        for (const w of [...waiters]) {
          if (forwarded >= w.bytes) {
            waiters.delete(w);
            w.resolve();
          }
        }
      });
    });
    req.on('end', () => out.end());
    req.on('error', () => out.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    waitForwarded: (bytes, failAfterMs) =>
      new Promise<void>((resolve, reject) => {
        if (forwarded >= bytes) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `the proxy never received byte ${bytes} (got ${forwarded}): the client held the body back`,
            ),
          );
        }, failAfterMs);
        const waiter = {
          bytes,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.add(waiter);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

/**
 * A body of `chunks` chunks of `size` bytes in which chunk n+1 is produced only after the proxy has
 * forwarded chunk n to the server. A client that buffered the body before sending would never see the
 * second chunk: the stream errors (after `failAfterMs`, a bound for the failure, not a timing assertion).
 */
function gatedBody(
  proxy: Awaited<ReturnType<typeof countingProxy>>,
  chunks: number,
  size: number,
  failAfterMs: number,
): { body: ReadableStream<Uint8Array>; expected: Uint8Array } {
  const expected = new Uint8Array(chunks * size);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + Math.floor(i / size)) % 256;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (sent > 0) {
          try {
            await proxy.waitForwarded(sent * size, failAfterMs);
          } catch (error) {
            controller.error(error);
            return;
          }
        }
        if (sent === chunks) {
          controller.close();
          return;
        }
        controller.enqueue(expected.slice(sent * size, (sent + 1) * size));
        sent += 1;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, expected };
}

describe('a streamed upload leaves the client chunk by chunk', () => {
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  beforeAll(async () => {
    proxy = await countingProxy(serverUrl());
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('each chunk of a web ReadableStream is produced only after the server side received the previous one', async () => {
    if (proxy === undefined) throw new Error('no proxy');
    const kv = createClient({ url: proxy.url, env: {}, token: ADMIN_TOKEN });
    const name = uniqueName('gated');
    await kv.stores.create(name);
    const before = proxy.forwarded();
    const size = 64 * 1024;
    const chunks = 5;
    const { body, expected } = gatedBody(
      { ...proxy, waitForwarded: (bytes, ms) => proxy!.waitForwarded(before + bytes, ms) },
      chunks,
      size,
      30_000,
    );
    const result = await kv.store(name).set('streamed', body, { contentType: 'application/octet-stream' });
    expect(result.created).toBe(true);
    expect(proxy.forwarded() - before).toBe(chunks * size);
    const back = await client().store(name).getBytes('streamed');
    expect(back?.length).toBe(expected.length);
    expect(Buffer.from(back ?? []).equals(Buffer.from(expected))).toBe(true);
  });

  it('control: the same body through a fetch that buffers it first fails (so the test above can fail)', async () => {
    if (proxy === undefined) throw new Error('no proxy');
    const bufferingFetch: FetchLike = async (input, init) => {
      const request = new Request(input as Request | string, init as RequestInit);
      const whole = request.body === null ? null : await new Response(request.body).arrayBuffer();
      return fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(whole === null ? {} : { body: whole }),
      });
    };
    const name = uniqueName('buffered');
    await client().stores.create(name);
    const kv = createClient({ url: proxy.url, env: {}, token: ADMIN_TOKEN, fetch: bufferingFetch });
    const before = proxy.forwarded();
    const { body } = gatedBody(
      { ...proxy, waitForwarded: (bytes, ms) => proxy!.waitForwarded(before + bytes, ms) },
      3,
      1024,
      1_000,
    );
    let caught: unknown;
    try {
      await kv.store(name).set('streamed', body);
    } catch (error) {
      caught = error;
    }
    expect(caught, 'a buffered upload must not succeed').toBeDefined();
    expect(causes(caught).join('\n')).toContain('held the body back');
    expect(isKvError(caught) || caught instanceof Error).toBe(true);
    expect(proxy.forwarded()).toBe(before);
    expect(await client().store(name).exists('streamed')).toBe(false);
  });
});
