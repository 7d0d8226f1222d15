/**
 * The kv server: `@kv/engine` on Node's HTTP server (through the `node:http` transport of
 * `node-transport.ts`: no `Request`/`Response` objects on the way), on `SqliteStorage` (or
 * `MemoryStorage`), with request logs (pino), `/readyz`, Prometheus `/metrics`, CORS, the expiry
 * sweeper and graceful shutdown (docs/architecture.md, apps/server/README.md).
 *
 * Logs: one JSON line per request with its request id (`Kv-Request-Id`), method, path (never the query
 * string, which may carry a URL signature), route, status and duration. No header, token or value is
 * ever logged.
 *
 * Traces: one OpenTelemetry span per request (`tracing.ts`), a no-op unless an SDK is registered
 * (`kv-server --otel` registers an OTLP exporter; an embedder may register their own).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  grantFor,
  HEADERS,
  matchServerRoute,
  ROUTES,
  type RouteLookup,
  UnauthorizedError,
} from '@kv/core/protocol';
import {
  authenticate,
  createEngine,
  type Engine,
  type EngineRequest,
  type EngineResult,
  MemoryStorage,
  MemoryTokenStore,
  requestFromFetch,
  responseFromResult,
  type Storage,
  type TokenStore,
} from '@kv/engine';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { type AdminTokenResult, bootstrapAdminToken, SqliteTokenStore } from './auth.js';
import { RequestAbortedError } from './body.js';
import type { ServerConfig } from './config.js';
import { createConsoleHandler } from './console.js';
import { errorJson } from './error-response.js';
import { createMetrics, routeLabel, type ServerMetrics } from './metrics.js';
import { NodeRequest, writeResult } from './node-transport.js';
import { ADMIN_BOOTSTRAP_LOCK_KEY, PostgresStorage, PostgresTokenStore } from './postgres/index.js';
import { prepareDataFile } from './private-files.js';
import { createResponseBudget } from './response-budget.js';
import { classifyOpenError, DatabaseCorruptError, SqliteStorage } from './sqlite-storage.js';
import { endRequestSpan, startRequestSpan, withRequestSpan } from './tracing.js';

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The Node HTTP server. */
  server: Server;
  /** The engine answering the protocol. */
  engine: Engine;
  /** The storage (SqliteStorage or MemoryStorage). */
  storage: Storage;
  /** The metrics registry and recorder. */
  metrics: ServerMetrics;
  /** Where tokens live: `SqliteTokenStore` in the database, or `MemoryTokenStore` with memory storage. */
  tokens: TokenStore;
  /** What the admin-token bootstrap did (never the secret). */
  adminToken: AdminTokenResult;
  /**
   * Answers one request as the listener does (routing, logs, metrics), without a socket: for tests and
   * embedding. Never rejects.
   */
  fetch(req: Request): Promise<Response>;
  /**
   * Graceful shutdown: `/readyz` turns 503, the listener closes (no new connections), idle keep-alive
   * connections close, in-flight requests get up to `shutdownTimeoutMs` to finish (then their
   * connections are closed), then the sweeper stops and the database closes (WAL checkpoint).
   * Idempotent: later calls return the same promise.
   */
  shutdown(reason: string): Promise<void>;
}

/** Methods a CORS preflight may ask for. */
const CORS_METHODS = 'GET, HEAD, PUT, POST, PATCH, DELETE';
/** Response headers a browser script may read. */
const CORS_EXPOSE = ['etag', 'content-type', 'retry-after', ...Object.values(HEADERS)].join(', ');

/** The path of a request target (`/path?query`) or absolute URL, without the query. */
function pathOf(url: string): string {
  // Faster than new URL() on the hot path.
  const start = url.startsWith('/') ? 0 : url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  const q = url.indexOf('?', start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/** A JSON result (the server's own answers). */
function jsonBody(body: unknown, status: number): EngineResult {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * Opens the configured storage: SQLite (with `PRAGMA quick_check` unless `config.skipQuickCheck`) or
 * memory.
 *
 * @param config - see {@link ServerConfig}
 * @param onCorruption - called once when a statement finds the SQLite file corrupt while serving
 * @throws DatabaseOpenError when the SQLite file is unusable (the message names it)
 */
export function openStorage(
  config: ServerConfig,
  onCorruption?: (error: DatabaseCorruptError) => void,
): Storage {
  if (config.storage === 'memory') return new MemoryStorage({ changeLogLimit: config.changeLogLimit });
  return SqliteStorage.open({
    path: config.dataFile,
    synchronous: config.synchronous,
    changeLogLimit: config.changeLogLimit,
    quickCheck: !config.skipQuickCheck,
    ...(onCorruption === undefined ? {} : { onCorruption }),
  });
}

/** Whether `error` came from SQLite (a better-sqlite3 error code) or is the storage's corruption error. */
function isDatabaseError(error: unknown): boolean {
  if (error instanceof DatabaseCorruptError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/**
 * Opens the storage, starts the engine, its sweeper and the HTTP listener. Resolves once listening.
 *
 * @param config - see {@link ServerConfig}
 * @param logger - pino logger for request and lifecycle logs
 * @throws DatabaseOpenError when the database file is read-only, corrupt or cannot be opened, also when
 *   that shows only in the admin-token bootstrap (every SQLite error before listening names the file)
 * @throws Error (`EADDRINUSE`, `EACCES`) when the port cannot be bound
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  if (config.storage === 'sqlite') {
    for (const change of prepareDataFile(config.dataFile)) {
      const mode = `0${change.fromMode.toString(8)}`;
      logger.warn(
        { file: change.file, mode },
        change.tightened
          ? `${change.file} was readable by other users (mode ${mode}): made it 0${change.toMode.toString(8)}`
          : `${change.file} is readable by other users (mode ${mode}) and owned by another user: chmod 600 it`,
      );
    }
  }
  const storage =
    config.storage === 'postgres'
      ? await PostgresStorage.open({
          url: config.postgresUrl ?? '',
          poolSize: config.postgresPoolSize,
          changeLogLimit: config.changeLogLimit,
        })
      : openStorage(config, (error) => {
          // Logged once, naming the file; clients get a 500 without the path, /readyz turns 503, writes stop.
          logger.fatal(
            { file: error.path, err: error.cause },
            `database file ${error.path} is corrupt: refusing writes; /readyz answers 503. Stop the server and restore a backup (kv-server restore <backup>)`,
          );
        });
  let tokens: TokenStore;
  let adminToken: AdminTokenResult;
  try {
    tokens =
      storage instanceof SqliteStorage
        ? new SqliteTokenStore(storage.db, storage)
        : storage instanceof PostgresStorage
          ? new PostgresTokenStore(storage.pool)
          : new MemoryTokenStore();
    const bootstrap = (): Promise<AdminTokenResult> =>
      bootstrapAdminToken({
        tokens,
        secret: config.adminToken,
        file: config.adminTokenFile,
        reuse: !(storage instanceof MemoryStorage),
        nowMs: Date.now(),
      });
    // Instances starting at once on one PostgreSQL database bootstrap one after the other.
    adminToken =
      storage instanceof PostgresStorage
        ? await storage.withAdvisoryLock(ADMIN_BOOTSTRAP_LOCK_KEY, bootstrap)
        : await bootstrap();
  } catch (error) {
    await storage.close();
    if (storage instanceof SqliteStorage && isDatabaseError(error)) {
      throw classifyOpenError(
        storage.path,
        error instanceof DatabaseCorruptError ? (error.cause ?? error) : error,
      );
    }
    throw error;
  }
  logAdminToken(logger, adminToken);
  // Set once listening (port 0 picks one); until then, the configured host and port.
  let listenUrl = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const engine = createEngine({
    storage,
    auth: { tokens },
    maxValueBytes: config.maxValueBytes,
    maxBodyBytes: config.maxBodyBytes,
    maxJsonBodyBytes: config.maxJsonBodyBytes,
    // Signed URLs are on the configured public URL, else on the address the server listens on.
    publicUrl: () => config.publicUrl ?? listenUrl,
    // A heartbeat well within the idle timeout, so the socket timeout never ends a live watch stream.
    watch: { heartbeatMs: watchHeartbeatMs(config.idleTimeoutMs) },
    // A lease long-poll answers (empty) well before the socket idle timeout would drop it.
    queue: { maxWaitMs: Math.min(30_000, Math.floor(config.idleTimeoutMs / 2)) },
    onError: (error, req) => {
      // The client went away mid-body: not a server fault; its request line says 499 (see handle).
      if (error instanceof RequestAbortedError) return;
      const reqId = req?.header(HEADERS.requestId);
      logger.error(
        {
          err: error,
          reqId,
          path: req ? pathOf(req.url) : undefined,
          ...(error instanceof DatabaseCorruptError ? { file: error.path } : {}),
        },
        error instanceof DatabaseCorruptError ? 'database corrupt' : 'internal error',
      );
    },
  });
  const metrics = createMetrics(storage, { storage: config.storage });
  const budget = createResponseBudget(config.maxResponseBufferBytes);
  new Gauge({
    name: 'kv_http_response_buffer_bytes',
    help: 'Bytes of large value responses being written to clients (capped by --max-response-buffer-bytes).',
    registers: [metrics.registry],
    collect() {
      this.set(budget.inFlightBytes);
    },
  });
  // The web console's static files at /console/ (docs/console.md), unless --no-console.
  const consolePage = config.noConsole ? undefined : createConsoleHandler();
  const cors = config.corsOrigins;
  const anyOrigin = cors.includes('*');
  // Aborted at shutdown: ends open watch streams, which clients then resume elsewhere or after restart.
  const ending = new AbortController();
  let shuttingDown = false;

  const corsHeaders = (req: EngineRequest): Record<string, string> | undefined => {
    if (cors.length === 0) return undefined;
    const origin = req.header('origin');
    if (origin === undefined || !(anyOrigin || cors.includes(origin))) return undefined;
    return { 'access-control-allow-origin': anyOrigin ? '*' : origin, vary: 'Origin' };
  };

  const route = async (req: EngineRequest, path: string): Promise<EngineResult> => {
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      const ok = !shuttingDown && (await storage.ping().catch(() => false));
      return jsonBody(
        ok ? { ok: true } : { ok: false, reason: shuttingDown ? 'shutting down' : 'database unreachable' },
        ok ? 200 : 503,
      );
    }
    if (path === '/metrics' && req.method === 'GET') {
      if (!config.metricsPublic) {
        // Store names, sizes and revisions are not public: the same token check as the engine's routes.
        try {
          const principal = await authenticate(tokens, req.header('authorization') ?? null, Date.now());
          if (grantFor(principal.capabilities, { kind: 'admin', action: 'stores' }) === null) {
            throw new UnauthorizedError('Not allowed: stores', { details: { action: 'stores' } });
          }
        } catch (error) {
          return errorJson(error);
        }
      }
      return {
        status: 200,
        headers: { 'content-type': metrics.registry.contentType },
        body: await metrics.registry.metrics(),
      };
    }
    const page = consolePage?.(req, path);
    if (page !== undefined) return page;
    const allowed = corsHeaders(req);
    if (allowed && req.method === 'OPTIONS' && req.header('access-control-request-method') !== undefined) {
      return {
        status: 204,
        headers: {
          ...allowed,
          'access-control-allow-methods': CORS_METHODS,
          'access-control-allow-headers': req.header('access-control-request-headers') ?? '',
          'access-control-max-age': '600',
        },
      };
    }
    const result = await engine.handle(req);
    if (allowed) Object.assign(result.headers, allowed, { 'access-control-expose-headers': CORS_EXPOSE });
    return result;
  };

  // Access log (docs/performance.md "Server hot path"): a 5xx is always logged (warn; its cause, if
  // internal, at error by onError), a client abort at info;
  // the rest at debug, or a sampled share at info with --access-log-sample.
  const debugAll = logger.isLevelEnabled('debug');
  const sample = config.accessLogSample;
  const accessLogLevel = (status: number): 'warn' | 'info' | 'debug' | undefined => {
    if (status >= 500) return 'warn';
    if (status === 499) return 'info';
    if (debugAll) return 'debug';
    return sample > 0 && (sample >= 1 || Math.random() < sample) ? 'info' : undefined;
  };

  /**
   * Answers one request (routing, budget, metrics, trace span, access log). `req.route` is the lookup of `path`,
   * made once for the metric label, the watch check and the engine.
   */
  const handle = async (
    req: EngineRequest,
    path: string,
    lookup: RouteLookup,
    incoming?: IncomingMessage,
    outgoing?: ServerResponse,
  ): Promise<EngineResult> => {
    const started = performance.now();
    // One span per request (tracing.ts): a no-op unless an OpenTelemetry SDK is registered.
    const span = startRequestSpan(req, lookup, path);
    let res: EngineResult;
    try {
      res = await withRequestSpan(span, () => route(req, path));
    } catch (error) {
      // The engine never rejects; this guards /metrics and /readyz.
      logger.error({ err: error, path }, 'internal error');
      res = jsonBody({ error: { code: 'internal', message: 'Internal server error' } }, 500);
    }
    // Large values stay in memory until the client has read them: their total is capped.
    if (outgoing !== undefined && req.method === 'GET') res = budget.admit(res, outgoing);
    const seconds = (performance.now() - started) / 1000;
    const routeName = routeLabel(lookup, path);
    // A client that closed its connection before its request ended gets no answer: logged and counted as
    // 499 (nginx's "client closed request"), not as the 500 the unfinished body read turned into.
    const status = res.status >= 500 && incoming !== undefined && clientAborted(incoming) ? 499 : res.status;
    metrics.observe(req.method, routeName, status, seconds);
    endRequestSpan(span, status, res.headers);
    const level = accessLogLevel(status);
    if (level !== undefined && logger.isLevelEnabled(level)) {
      logger[level](
        {
          reqId: res.headers[HEADERS.requestId],
          method: req.method,
          path,
          route: routeName,
          status,
          ms: Math.round(seconds * 100_000) / 100,
        },
        'request',
      );
    }
    return res;
  };

  /**
   * Whether a lookup is a request that waits for news: a watch stream or a lease long-poll. Both also end
   * at shutdown (the stream closes, the long-poll answers `messages: []`), and their clients reconnect.
   */
  const endsAtShutdown = (lookup: RouteLookup): boolean =>
    lookup.kind === 'match' && (lookup.route === ROUTES.watch || lookup.route === ROUTES.leaseMessages);

  const server = createServer(connectionOptions(config), (incoming, outgoing) => {
    const method = incoming.method ?? 'GET';
    const path = pathOf(incoming.url ?? '/');
    // Matched once against the protocol's route table: for the engine, the watch check and the label.
    const lookup = matchServerRoute(method, path);
    const req = new NodeRequest(
      incoming,
      outgoing,
      lookup,
      endsAtShutdown(lookup) ? ending.signal : undefined,
    );
    handle(req, path, lookup, incoming, outgoing)
      .then((result) => writeResult(incoming, outgoing, result))
      .catch((error: unknown) => {
        logger.error({ err: error, path }, 'internal error');
        outgoing.destroy();
      });
  });

  /** {@link RunningServer.fetch}: the same answer through the Web transport. */
  const fetchHandler = async (request: Request): Promise<Response> => {
    const path = pathOf(request.url);
    const lookup = matchServerRoute(request.method, path);
    const base = requestFromFetch(request, lookup);
    // A watch stream never finishes by itself, nor a long-poll soon: they also end at shutdown.
    const req = endsAtShutdown(lookup)
      ? { ...base, signal: AbortSignal.any([request.signal, ending.signal]) }
      : base;
    return responseFromResult(await handle(req, path, lookup));
  };
  applyConnectionLimits(server, config);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed HTTP (bad Content-Length, bad headers): answer 400 and keep serving others. A request
    // whose headers or body took longer than --headers-timeout-ms / --request-timeout-ms: 408.
    logger.debug({ code: err.code }, 'client error');
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await engine.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  listenUrl = url;
  engine.startSweeper(config.sweepIntervalMs);

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      logger.info({ reason }, 'shutting down');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Watch streams never finish by themselves: end them (clients reconnect and resume).
      ending.abort();
      // Keep closing connections that finish their request; force the rest after the timeout.
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const force = setTimeout(() => {
        logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timeout: closing open connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      await closed;
      clearInterval(idle);
      clearTimeout(force);
      await engine.close();
      logger.info('stopped');
    })();
    return closing;
  };

  logger.info(
    {
      url,
      storage: config.storage,
      ...(storage instanceof SqliteStorage
        ? { dataFile: storage.path, synchronous: config.synchronous }
        : {}),
      ...(storage instanceof PostgresStorage ? { postgres: storage.displayUrl } : {}),
      ...(adminToken.file === undefined ? {} : { adminTokenFile: adminToken.file }),
    },
    'listening',
  );
  return { url, server, engine, storage, metrics, tokens, adminToken, shutdown, fetch: fetchHandler };
}

/**
 * The watch heartbeat period for an idle timeout: half of it, at most the engine's 15 s default, so a
 * watch stream writes a byte at least twice per idle period and the socket timeout never closes it.
 *
 * @param idleTimeoutMs - the socket idle timeout, in ms
 * @returns the heartbeat period, in ms
 */
export function watchHeartbeatMs(idleTimeoutMs: number): number {
  return Math.max(50, Math.min(15_000, Math.floor(idleTimeoutMs / 2)));
}

/**
 * The `node:http` server options for `config`: `connectionsCheckingInterval` (how often Node checks the
 * headers and request timeouts; its 30 s default would let a slow-headers socket live up to 30 s past
 * `headersTimeoutMs`) set to a quarter of the shortest of them, between 50 ms and 1 s.
 */
function connectionOptions(config: ServerConfig): { connectionsCheckingInterval: number } {
  const shortest = Math.min(
    config.headersTimeoutMs,
    config.requestTimeoutMs === 0 ? Number.POSITIVE_INFINITY : config.requestTimeoutMs,
  );
  return { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(shortest / 4))) };
}

/**
 * Applies the connection limits of `config` to `server` (docs/security.md "Connections, files and
 * aborts"): Node's `headersTimeout`, `requestTimeout` (which must not be below `headersTimeout`),
 * `keepAliveTimeout`, the socket idle timeout (`server.timeout`: with no `'timeout'` listener Node
 * destroys the socket, freeing whatever response it was still writing) and `maxConnections` (Node
 * closes connections accepted beyond it).
 */
function applyConnectionLimits(server: Server, config: ServerConfig): void {
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout =
    config.requestTimeoutMs === 0 ? 0 : Math.max(config.requestTimeoutMs, config.headersTimeoutMs);
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.timeout = config.idleTimeoutMs;
  server.maxConnections = config.maxConnections;
}

/**
 * Whether the client closed its connection before its request (headers and body) was fully received:
 * the request got no answer, whatever the engine made of the cut body.
 */
function clientAborted(incoming: IncomingMessage): boolean {
  return !incoming.complete && (incoming.destroyed || incoming.socket?.destroyed === true);
}

/** Logs the admin-token bootstrap: the file and the token id, never the token. */
function logAdminToken(logger: Logger, admin: AdminTokenResult): void {
  const fields = {
    source: admin.source,
    tokenId: admin.tokenId,
    created: admin.created,
    ...(admin.file === undefined ? {} : { file: admin.file }),
    ...(admin.revoked.length > 0 ? { revoked: admin.revoked } : {}),
  };
  if (admin.source === 'none') {
    logger.warn(
      'no admin token: set KV_ADMIN_TOKEN (or --admin-token-file) to be able to authenticate with --storage memory',
    );
  } else if (admin.unusable === true) {
    logger.warn(fields, 'the KV_ADMIN_TOKEN token was revoked or has expired: it cannot authenticate');
  } else {
    logger.info(
      fields,
      admin.source === 'file' ? `admin token in ${admin.file}` : 'admin token from KV_ADMIN_TOKEN',
    );
  }
}
