/**
 * Hostile and slow clients against the real server process on a real SQLite file, with short limits
 * passed by flag (docs/security.md "Connections, files and aborts"): a socket sending partial headers,
 * a silent socket and an idle keep-alive socket are closed; connections beyond `--max-connections` are
 * closed while the open ones keep working; a watch stream outlives the idle timeout (heartbeats); a
 * client that stops reading a 25 MiB response is dropped after the idle timeout while `/healthz` answers;
 * large values being sent at once are capped by `--max-response-buffer-bytes` (503 + `Retry-After`).
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-connections-');
afterAll(() => tmp.remove());

/** A raw TCP connection to `url` that records what it receives and when it closes. */
interface RawConnection {
  socket: Socket;
  /** Everything received so far. */
  received: () => Buffer;
  /** Resolves when the server closed the connection (or it errored); `false` after `withinMs`. */
  closed: (withinMs: number) => Promise<boolean>;
}

async function open(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const chunks: Buffer[] = [];
  let isClosed = false;
  const onClosed: Array<() => void> = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  socket.on('close', () => {
    isClosed = true;
    for (const f of onClosed) f();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => Buffer.concat(chunks),
    closed: (withinMs) =>
      isClosed
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), withinMs);
            onClosed.push(() => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
  };
}

/** `GET /healthz` on a new connection of its own (another client): its status, 0 if it failed. */
function healthz(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Sends one keep-alive request on `conn` and resolves with the status line once the whole response is in. */
async function roundTrip(conn: RawConnection, path: string): Promise<string> {
  const before = conn.received().length;
  conn.socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n`);
  await expect
    .poll(() => {
      const text = conn.received().subarray(before).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return false;
      const length = /content-length: (\d+)/i.exec(text.slice(0, end));
      return length !== null && text.length >= end + 4 + Number(length[1]);
    })
    .toBe(true);
  return conn.received().subarray(before).toString('latin1').split('\r\n')[0]!;
}

describe('connection timeouts', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer([
      '--data',
      join(tmp.dir, 'timeouts.sqlite'),
      '--headers-timeout-ms',
      '500',
      '--request-timeout-ms',
      '10000',
      '--keep-alive-timeout-ms',
      '300',
      '--idle-timeout-ms',
      '1000',
    ]);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('closes a socket that sends partial headers after the headers timeout (408)', async () => {
    const conn = await open(server.url);
    conn.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ');
    const dribble = setInterval(() => conn.socket.writable && conn.socket.write('a'), 100);
    try {
      // Node's defaults (60 s, checked every 30 s) would keep it open far longer than this.
      expect(await conn.closed(5000)).toBe(true);
    } finally {
      clearInterval(dribble);
      conn.socket.destroy();
    }
    expect(conn.received().toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a silent socket that never sends a byte', async () => {
    const conn = await open(server.url);
    try {
      expect(await conn.closed(5000)).toBe(true);
    } finally {
      conn.socket.destroy();
    }
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const conn = await open(server.url);
    try {
      expect(await roundTrip(conn, '/healthz')).toBe('HTTP/1.1 200 OK');
      // Node's default keep-alive timeout is 5 s.
      expect(await conn.closed(3000)).toBe(true);
    } finally {
      conn.socket.destroy();
    }
  });

  it('keeps a watch stream open past the idle timeout (heartbeats) and delivers events on it', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${server.url}/v1/stores/s/watch`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    let ended = false;
    const reading = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
      } catch {
        // aborted below
      }
      ended = true;
    })();
    try {
      // Three idle timeouts with no write: only heartbeats keep the socket busy.
      await new Promise((r) => setTimeout(r, 3000));
      expect(ended).toBe(false);
      expect(text).toContain(': heartbeat');
      expect(
        (await call(`${server.url}/v1/stores/s/entries/late`, { method: 'PUT', body: 'x' })).status,
      ).toBe(201);
      await expect.poll(() => text.includes('"key":"late"')).toBe(true);
    } finally {
      ctrl.abort();
      await reading;
    }
  });
});

// Its own server: the test is about the idle timeout, and the short headers timeout above could answer
// the 25 MiB read with a 408 when a loaded machine holds the server's event loop (the large write
// before it) for longer than 500 ms.
describe('a client that stops reading', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(['--data', join(tmp.dir, 'stalled.sqlite'), '--idle-timeout-ms', '1000']);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('drops a client that stops reading a 25 MiB response after the idle timeout, serving others meanwhile', async () => {
    const size = 25 * 1024 * 1024;
    const put = await call(`${server.url}/v1/stores/s/entries/big`, {
      method: 'PUT',
      body: new Uint8Array(size).fill(7),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);
    const conn = await open(server.url);
    conn.socket.pause();
    conn.socket.write(
      `GET /v1/stores/s/entries/big HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
    );
    try {
      // While the response is stuck in the socket, others are answered.
      for (let i = 0; i < 5; i++) {
        expect(await healthz(server.url)).toBe(200);
        await new Promise((r) => setTimeout(r, 400));
      }
      // Well past the 1 s idle timeout: read what the server wrote before it gave up.
      await new Promise((r) => setTimeout(r, 1000));
      conn.socket.resume();
      expect(await conn.closed(10_000)).toBe(true);
    } finally {
      conn.socket.destroy();
    }
    const received = conn.received();
    expect(received.toString('latin1', 0, 20)).toMatch(/^HTTP\/1\.1 200 /);
    // Only what fitted in the socket buffers arrived: the server closed the connection.
    expect(received.length).toBeLessThan(size);
    expect(await healthz(server.url)).toBe(200);
  });
});

describe('--max-connections', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer([
      '--data',
      join(tmp.dir, 'max-connections.sqlite'),
      '--max-connections',
      '3',
      '--keep-alive-timeout-ms',
      '20000',
      '--idle-timeout-ms',
      '30000',
    ]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('closes connections beyond the cap at once, while the open ones keep working', async () => {
    const held = await Promise.all([open(server.url), open(server.url), open(server.url)]);
    try {
      for (const conn of held) expect(await roundTrip(conn, '/healthz')).toBe('HTTP/1.1 200 OK');
      const extra = await open(server.url);
      extra.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      expect(await extra.closed(5000)).toBe(true);
      expect(extra.received().length).toBe(0);
      // The three held connections are still served.
      for (const conn of held) expect(await roundTrip(conn, '/healthz')).toBe('HTTP/1.1 200 OK');
    } finally {
      for (const conn of held) conn.socket.destroy();
    }
    // Once they are gone, new connections are served again.
    await expect.poll(() => healthz(server.url)).toBe(200);
  });
});

describe('--max-response-buffer-bytes', () => {
  let server: ServerProcess;
  const size = 25 * 1024 * 1024;

  beforeAll(async () => {
    server = await startServer([
      '--data',
      join(tmp.dir, 'budget.sqlite'),
      '--max-response-buffer-bytes',
      String(30 * 1024 * 1024),
      '--idle-timeout-ms',
      '1000',
      // The test waits for the stalled request's log line.
      '--access-log-sample',
      '1',
    ]);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'b' } })).status).toBe(201);
    for (const key of ['big', 'small']) {
      const put = await call(`${server.url}/v1/stores/b/entries/${key}`, {
        method: 'PUT',
        body: new Uint8Array(key === 'big' ? size : 1000).fill(1),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(put.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 503 + Retry-After to a large read while a stalled reader holds the budget, small reads 200', async () => {
    const stalled = await open(server.url);
    stalled.socket.pause();
    stalled.socket.write(
      `GET /v1/stores/b/entries/big HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
    );
    try {
      await expect
        .poll(() =>
          server.lines.some(
            (l) => l.includes('"path":"/v1/stores/b/entries/big"') && l.includes('"method":"GET"'),
          ),
        )
        .toBe(true);
      const refused = await call(`${server.url}/v1/stores/b/entries/big`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body).toMatchObject({ error: { code: 'unavailable' } });
      expect((await call(`${server.url}/v1/stores/b/entries/small`)).status).toBe(200);
      const metrics = await call(`${server.url}/metrics`);
      expect(metrics.text).toMatch(new RegExp(`kv_http_response_buffer_bytes ${size}\\b`));
      // Dropped after the idle timeout, the stalled reader frees the budget: large reads work again.
      await expect
        .poll(async () => (await call(`${server.url}/v1/stores/b/entries/big`)).status, { timeout: 10_000 })
        .toBe(200);
    } finally {
      stalled.socket.destroy();
    }
  });
});
