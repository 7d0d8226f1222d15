/**
 * Server configuration from command-line flags and environment variables (a flag wins over its
 * variable, which wins over the default). Every setting, its flag, variable and default is listed in
 * {@link SETTINGS}; `kv-server --help` prints the same table and apps/server/README.md documents it.
 *
 * @module
 */
import { LIMITS } from '@kv/core';

/** Log levels pino accepts, most verbose first, plus `silent`. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The resolved server configuration. */
export interface ServerConfig {
  /** Interface to listen on. @default '127.0.0.1' */
  host: string;
  /** TCP port; 0 picks a free one (the `listening` log line has the URL). @default 8787 */
  port: number;
  /**
   * Storage backend: embedded SQLite (durable, one process), PostgreSQL (durable, several instances on one
   * database) or memory (a throwaway mock server). @default 'sqlite'
   */
  storage: 'sqlite' | 'postgres' | 'memory';
  /**
   * PostgreSQL connection string (libpq URL or `key=value` form) with `storage: 'postgres'`; required
   * then. The database must be UTF-8; the schema is created and migrated at start.
   * @default undefined
   * @example 'postgresql://kv:secret@db.internal:5432/kv'
   */
  postgresUrl: string | undefined;
  /**
   * Most PostgreSQL connections this instance opens. The database's `max_connections` must cover every
   * instance's pool.
   * @default 10
   */
  postgresPoolSize: number;
  /** SQLite database file; its directory is created. @default './data/kv.sqlite' */
  dataFile: string;
  /** SQLite `synchronous`: `normal` (WAL, loses nothing on a process crash) or `full` (fsync per commit). @default 'normal' */
  synchronous: 'normal' | 'full';
  /** Server-wide cap on one value, in bytes. @default 26214400 (25 MiB) */
  maxValueBytes: number;
  /** Largest raw request body (single writes, small JSON routes), in bytes. @default maxValueBytes + 1 MiB */
  maxBodyBytes: number;
  /** Largest JSON body of bulk calls and atomic commits, in bytes. @default 67108864 (64 MiB) */
  maxJsonBodyBytes: number;
  /** Origins allowed by CORS (`*` for any); empty = no CORS headers. @default [] */
  corsOrigins: string[];
  /** pino log level. @default 'info' */
  logLevel: LogLevel;
  /**
   * Share of requests written to the log as one `request` line each at level `info`, from 0 (none) to
   * 1 (all). At `debug` and below every request is logged (at `debug`). Answers of 5xx are always
   * logged (level `warn`), and client aborts (499) at `info`. Metrics count every request either way.
   * A log line per request costs about a fifth of a small request's CPU (docs/performance.md).
   * @default 0
   * @example 0.01
   */
  accessLogSample: number;
  /** Period of the expiry sweeper, in ms. @default 1000 */
  sweepIntervalMs: number;
  /** How long shutdown waits for in-flight requests before closing their connections, in ms. @default 10000 */
  shutdownTimeoutMs: number;
  /** Changes kept per store for watch resume, in revisions. @default 10000 */
  changeLogLimit: number;
  /**
   * File the bootstrap admin token is written to (mode 0600), when `adminToken` is not set. SQLite
   * storage reuses the token in it across restarts while it is live; memory storage writes a new one at
   * each start, and only when this is set. docs/security.md "Tokens".
   * @default `<dataFile>.admin-token` with SQLite storage; none with memory and PostgreSQL storage
   */
  adminTokenFile: string | undefined;
  /**
   * An admin secret chosen by the operator (`KV_ADMIN_TOKEN`, environment only so it never shows in
   * `ps`): registered by hash with capability `*`; no token file is written. 16-512 visible ASCII
   * characters.
   * @default undefined (a generated token in `adminTokenFile`)
   */
  adminToken: string | undefined;
  /**
   * Skip `PRAGMA quick_check` when opening the SQLite file. The check reads the whole file (about
   * 3 s per GB measured; apps/server/README.md) and refuses a damaged file before serving; skip it only
   * for very large files whose startup time matters more.
   * @default false
   */
  skipQuickCheck: boolean;
  /**
   * Serve `/metrics` without a token (for a Prometheus scraper on a private network). Otherwise it needs
   * a bearer token with `kv.admin:stores` (the per-store gauges name every store).
   * @default false
   */
  metricsPublic: boolean;
  /**
   * Do not serve the web console at `/console/` (docs/console.md); its paths then answer 404 like any
   * unknown path. The console holds no secret and uses the normal API with the user's token.
   * @default false (the console is served)
   */
  noConsole: boolean;
  /**
   * Public base URL of the server, the origin (and path prefix, behind a proxy) of the `url` the server
   * returns for signed URLs; never the request's `Host` header (docs/security.md "Signed URLs").
   * @default undefined (`http://<host>:<port>` of the listening address)
   * @example 'https://kv.example.com'
   */
  publicUrl: string | undefined;
  /**
   * Longest time a client may take to send a request's headers, in ms (Node's
   * `server.headersTimeout`): a socket sending partial headers is closed after it (a 408 when it can
   * still be written). docs/security.md "Connections, files and aborts".
   * @default 20000
   */
  headersTimeoutMs: number;
  /**
   * Longest time a client may take to send a whole request, headers and body, in ms (Node's
   * `server.requestTimeout`); 0 = none. Large enough for a 25 MiB upload at 1 Mbit/s (about 210 s).
   * Responses, watch streams included, are not limited by it.
   * @default 300000
   */
  requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open after its last response, in ms (Node's
   * `server.keepAliveTimeout`).
   * @default 5000
   */
  keepAliveTimeoutMs: number;
  /**
   * A connection with no byte read or written for this long is closed, in ms (the socket timeout,
   * Node's `server.timeout`): a client that stops reading a response is dropped and the response's
   * buffer freed. Watch streams write a heartbeat at least every `idleTimeoutMs / 2` (at most every
   * 15 s), so a live watcher never reaches it. Must exceed `keepAliveTimeoutMs` to matter for idle
   * keep-alive connections.
   * @default 60000
   */
  idleTimeoutMs: number;
  /**
   * Most TCP connections served at once (Node's `server.maxConnections`); further connections are
   * closed as soon as they are accepted. An idle watcher costs about 55 KB.
   * @default 4096
   */
  maxConnections: number;
  /**
   * Most bytes of value bodies (single-entry reads of 1 MiB or more) being written to clients at once,
   * in bytes. Each such response holds its whole value in memory until the client has read it (or is
   * dropped after `idleTimeoutMs`); beyond this total a large read gets 503 `unavailable` with
   * `Retry-After: 1` instead, so clients that do not read cannot grow memory without bound. One large
   * response is always admitted when none is in flight.
   * @default 268435456 (256 MiB)
   */
  maxResponseBufferBytes: number;
  /**
   * Export a trace span per request over OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT` (default
   * `http://localhost:4318`); the OpenTelemetry SDK is loaded only then. Without it, spans go through
   * `@opentelemetry/api` to whatever SDK an embedder registered, else nowhere (docs/architecture.md
   * "Tracing"; the `OTEL_*` variables of the OpenTelemetry specification apply).
   * @default false, or true when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
   *   set (and `OTEL_SDK_DISABLED` is not `true`)
   */
  otel: boolean;
}

/** One configurable setting: its flag, environment variable, default (as text) and meaning. */
export interface SettingInfo {
  /** Property of {@link ServerConfig}. */
  key: keyof ServerConfig;
  /** Command-line flag. */
  flag: string;
  /** Environment variable. */
  env: string;
  /** Default, as documented. */
  default: string;
  /** What it does. */
  description: string;
  /**
   * A switch: the flag alone turns it on (`--flag=false` off); the variable takes `1`/`0`/`true`/`false`.
   * @default false (the flag takes a value)
   */
  boolean?: boolean;
}

/** Every setting, in the order `--help` and the README list them. */
export const SETTINGS: readonly SettingInfo[] = [
  {
    key: 'host',
    flag: '--host',
    env: 'KV_HOST',
    default: '127.0.0.1',
    description: 'interface to listen on',
  },
  {
    key: 'port',
    flag: '--port',
    env: 'KV_PORT',
    default: '8787',
    description: 'TCP port (0 = any free port; the "listening" log line has the URL)',
  },
  {
    key: 'storage',
    flag: '--storage',
    env: 'KV_STORAGE',
    default: 'sqlite',
    description:
      '`sqlite` (embedded, durable), `postgres` (several instances on one database) or `memory` (throwaway, for tests)',
  },
  {
    key: 'postgresUrl',
    flag: '--postgres-url',
    env: 'KV_POSTGRES_URL',
    default: '(none)',
    description:
      'PostgreSQL connection string (libpq URL) for --storage postgres; prefer the variable (ps shows flags)',
  },
  {
    key: 'postgresPoolSize',
    flag: '--postgres-pool-size',
    env: 'KV_POSTGRES_POOL_SIZE',
    default: '10',
    description: 'most PostgreSQL connections per instance',
  },
  {
    key: 'dataFile',
    flag: '--data',
    env: 'KV_DATA_FILE',
    default: './data/kv.sqlite',
    description: 'SQLite database file (its directory is created)',
  },
  {
    key: 'synchronous',
    flag: '--synchronous',
    env: 'KV_SYNCHRONOUS',
    default: 'normal',
    description:
      '`normal` (WAL; a process crash loses nothing) or `full` (fsync every commit; survives power loss)',
  },
  {
    key: 'maxValueBytes',
    flag: '--max-value-bytes',
    env: 'KV_MAX_VALUE_BYTES',
    default: String(LIMITS.defaultMaxValueBytes),
    description: 'largest value, in bytes (caps every store setting)',
  },
  {
    key: 'maxBodyBytes',
    flag: '--max-body-bytes',
    env: 'KV_MAX_BODY_BYTES',
    default: 'max value + 1048576',
    description: 'largest raw request body, in bytes (413 beyond, without buffering it)',
  },
  {
    key: 'maxJsonBodyBytes',
    flag: '--max-json-body-bytes',
    env: 'KV_MAX_JSON_BODY_BYTES',
    default: '67108864',
    description: 'largest bulk/atomic JSON body, in bytes',
  },
  {
    key: 'corsOrigins',
    flag: '--cors-origins',
    env: 'KV_CORS_ORIGINS',
    default: '(none)',
    description: 'comma-separated origins allowed by CORS, or `*`',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'KV_LOG_LEVEL',
    default: 'info',
    description: 'trace, debug, info, warn, error, fatal or silent',
  },
  {
    key: 'accessLogSample',
    flag: '--access-log-sample',
    env: 'KV_ACCESS_LOG_SAMPLE',
    default: '0',
    description: 'share of requests logged at info, 0-1 (every one at debug; 5xx always)',
  },
  {
    key: 'sweepIntervalMs',
    flag: '--sweep-interval-ms',
    env: 'KV_SWEEP_INTERVAL_MS',
    default: '1000',
    description: 'period of the expiry sweeper, in ms',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout-ms',
    env: 'KV_SHUTDOWN_TIMEOUT_MS',
    default: '10000',
    description: 'on SIGINT/SIGTERM, how long in-flight requests may finish, in ms',
  },
  {
    key: 'changeLogLimit',
    flag: '--change-log-limit',
    env: 'KV_CHANGE_LOG_LIMIT',
    default: '10000',
    description: 'changes kept per store for watch resume',
  },
  {
    key: 'adminTokenFile',
    flag: '--admin-token-file',
    env: 'KV_ADMIN_TOKEN_FILE',
    default: '<data file>.admin-token',
    description:
      'where the generated admin token is written (mode 0600); with --storage memory: none unless given',
  },
  {
    key: 'skipQuickCheck',
    flag: '--skip-quick-check',
    env: 'KV_SKIP_QUICK_CHECK',
    default: 'false',
    description:
      'do not run PRAGMA quick_check on the database file at startup (it reads the whole file: ~3 s per GB)',
    boolean: true,
  },
  {
    key: 'metricsPublic',
    flag: '--metrics-public',
    env: 'KV_METRICS_PUBLIC',
    default: 'false',
    description: 'serve /metrics without a token (else it needs a kv.admin:stores token)',
    boolean: true,
  },
  {
    key: 'noConsole',
    flag: '--no-console',
    env: 'KV_NO_CONSOLE',
    default: 'false',
    description: 'do not serve the web console at /console/',
    boolean: true,
  },
  {
    key: 'publicUrl',
    flag: '--public-url',
    env: 'KV_PUBLIC_URL',
    default: 'http://<host>:<port>',
    description: 'public base URL of returned signed URLs (never the request Host header)',
  },
  {
    key: 'headersTimeoutMs',
    flag: '--headers-timeout-ms',
    env: 'KV_HEADERS_TIMEOUT_MS',
    default: '20000',
    description: 'time a client has to send request headers, in ms (then the socket is closed)',
  },
  {
    key: 'requestTimeoutMs',
    flag: '--request-timeout-ms',
    env: 'KV_REQUEST_TIMEOUT_MS',
    default: '300000',
    description: 'time a client has to send a whole request (headers and body), in ms; 0 = none',
  },
  {
    key: 'keepAliveTimeoutMs',
    flag: '--keep-alive-timeout-ms',
    env: 'KV_KEEP_ALIVE_TIMEOUT_MS',
    default: '5000',
    description: 'how long an idle keep-alive connection stays open, in ms',
  },
  {
    key: 'idleTimeoutMs',
    flag: '--idle-timeout-ms',
    env: 'KV_IDLE_TIMEOUT_MS',
    default: '60000',
    description: 'a connection with no byte read or written for this long is closed, in ms',
  },
  {
    key: 'maxConnections',
    flag: '--max-connections',
    env: 'KV_MAX_CONNECTIONS',
    default: '4096',
    description: 'most connections at once; more are closed when accepted',
  },
  {
    key: 'maxResponseBufferBytes',
    flag: '--max-response-buffer-bytes',
    env: 'KV_MAX_RESPONSE_BUFFER_BYTES',
    default: '268435456',
    description: 'most bytes of large values being sent at once; beyond, a large read gets 503 + Retry-After',
  },
  {
    key: 'otel',
    flag: '--otel',
    env: 'KV_OTEL',
    default: 'OTLP endpoint set',
    description:
      'export a trace span per request over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318)',
    boolean: true,
  },
];

/** A bad flag or variable value: the message says which and what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The result of {@link parseArgs}: a subcommand, its positional arguments and the configuration. */
export interface ParsedArgs {
  /** `serve` (default), `backup`, `restore`, `export`, `import`, or `help`. */
  command: 'serve' | 'backup' | 'restore' | 'export' | 'import' | 'help';
  /** Positional arguments after the subcommand. */
  args: string[];
  /** The configuration. */
  config: ServerConfig;
}

const COMMANDS = new Set(['serve', 'backup', 'restore', 'export', 'import', 'help']);

/**
 * Parses `argv` (without `node` and the script) and the environment.
 *
 * @example parseArgs(['--port', '0', '--storage', 'memory'], process.env)
 * @throws ConfigError for an unknown flag, a missing flag value or an invalid value
 */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): ParsedArgs {
  const flags = new Map<string, string>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg : arg.slice(0, eq);
      const setting = SETTINGS.find((s) => s.flag === name);
      if (setting === undefined) throw new ConfigError(`unknown flag ${name} (see --help)`);
      const value = eq === -1 ? (setting.boolean === true ? 'true' : argv[++i]) : arg.slice(eq + 1);
      if (value === undefined) throw new ConfigError(`flag ${name} needs a value`);
      flags.set(name, value);
      continue;
    }
    positionals.push(arg);
  }
  const raw = (key: keyof ServerConfig): string | undefined => {
    const s = SETTINGS.find((x) => x.key === key)!;
    return flags.get(s.flag) ?? (env[s.env] === '' ? undefined : env[s.env]);
  };
  const name = (key: keyof ServerConfig): string => {
    const s = SETTINGS.find((x) => x.key === key)!;
    return flags.has(s.flag) ? s.flag : s.env;
  };
  const int = (key: keyof ServerConfig, fallback: number, min: number, max: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name(key)} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return n;
  };
  const oneOf = <T extends string>(key: keyof ServerConfig, allowed: readonly T[], fallback: T): T => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const v = text.trim().toLowerCase() as T;
    if (!allowed.includes(v))
      throw new ConfigError(`${name(key)} must be one of ${allowed.join(', ')}, got "${text}"`);
    return v;
  };

  const fraction = (key: keyof ServerConfig): number => {
    const text = raw(key);
    if (text === undefined) return 0;
    const n = Number(text);
    if (!/^(?:0|1|0?\.\d+|1\.0*)$/.test(text.trim()) || !(n >= 0 && n <= 1)) {
      throw new ConfigError(`${name(key)} must be a number from 0 to 1, got "${text}"`);
    }
    return n;
  };

  const bool = (key: keyof ServerConfig): boolean => {
    const text = raw(key);
    if (text === undefined) return false;
    const v = text.trim().toLowerCase();
    if (v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false') return false;
    throw new ConfigError(`${name(key)} must be true, false, 1 or 0, got "${text}"`);
  };

  const maxValueBytes = int('maxValueBytes', LIMITS.defaultMaxValueBytes, 1, 1024 * 1024 * 1024);
  const config: ServerConfig = {
    host: raw('host') ?? '127.0.0.1',
    port: int('port', 8787, 0, 65535),
    storage: oneOf('storage', ['sqlite', 'postgres', 'memory'] as const, 'sqlite'),
    postgresUrl: raw('postgresUrl'),
    postgresPoolSize: int('postgresPoolSize', 10, 1, 1000),
    dataFile: raw('dataFile') ?? './data/kv.sqlite',
    synchronous: oneOf('synchronous', ['normal', 'full'] as const, 'normal'),
    maxValueBytes,
    maxBodyBytes: int('maxBodyBytes', maxValueBytes + 1024 * 1024, 1, 2 * 1024 * 1024 * 1024),
    maxJsonBodyBytes: int('maxJsonBodyBytes', 64 * 1024 * 1024, 1, 2 * 1024 * 1024 * 1024),
    corsOrigins: (raw('corsOrigins') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    logLevel: oneOf('logLevel', LOG_LEVELS, 'info'),
    accessLogSample: fraction('accessLogSample'),
    sweepIntervalMs: int('sweepIntervalMs', 1000, 10, 24 * 3600 * 1000),
    shutdownTimeoutMs: int('shutdownTimeoutMs', 10_000, 0, 3600 * 1000),
    changeLogLimit: int('changeLogLimit', 10_000, 1, 100_000_000),
    adminTokenFile: undefined,
    adminToken: env.KV_ADMIN_TOKEN === '' ? undefined : env.KV_ADMIN_TOKEN,
    skipQuickCheck: bool('skipQuickCheck'),
    metricsPublic: bool('metricsPublic'),
    noConsole: bool('noConsole'),
    publicUrl: publicUrl(raw('publicUrl'), name('publicUrl')),
    headersTimeoutMs: int('headersTimeoutMs', 20_000, 100, 3600 * 1000),
    requestTimeoutMs: int('requestTimeoutMs', 300_000, 0, 24 * 3600 * 1000),
    keepAliveTimeoutMs: int('keepAliveTimeoutMs', 5_000, 100, 3600 * 1000),
    idleTimeoutMs: int('idleTimeoutMs', 60_000, 100, 24 * 3600 * 1000),
    maxConnections: int('maxConnections', 4096, 1, 1_000_000),
    maxResponseBufferBytes: int('maxResponseBufferBytes', 256 * 1024 * 1024, 1, 64 * 1024 * 1024 * 1024),
    otel: raw('otel') === undefined ? otlpEndpointSet(env) : bool('otel'),
  };
  if (config.adminToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(config.adminToken)) {
    throw new ConfigError('KV_ADMIN_TOKEN must be 16-512 visible ASCII characters (no spaces)');
  }
  if (config.storage === 'postgres' && config.postgresUrl === undefined) {
    throw new ConfigError(
      '--storage postgres needs --postgres-url or KV_POSTGRES_URL (a libpq connection string)',
    );
  }
  config.adminTokenFile =
    raw('adminTokenFile') ?? (config.storage === 'sqlite' ? `${config.dataFile}.admin-token` : undefined);

  const first = positionals[0];
  let command: ParsedArgs['command'] = 'serve';
  let args = positionals;
  if (first !== undefined) {
    if (!COMMANDS.has(first)) throw new ConfigError(`unknown command "${first}" (see --help)`);
    command = first as ParsedArgs['command'];
    args = positionals.slice(1);
  }
  if (help) command = 'help';
  return { command, args, config };
}

/**
 * Whether the environment names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and does not disable the SDK (`OTEL_SDK_DISABLED=true`), as the
 * OpenTelemetry SDK environment variables specify.
 */
function otlpEndpointSet(env: Record<string, string | undefined>): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return [env.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT].some(
    (v) => v !== undefined && v.trim() !== '',
  );
}

/** `--public-url`: an absolute http(s) URL without query or fragment, kept without a trailing `/`. */
function publicUrl(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text.trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`${name} must be an absolute http(s) URL without query or fragment, got "${text}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** The `--help` text: usage, subcommands and the settings table. */
export function helpText(): string {
  const rows = SETTINGS.map(
    (s) =>
      `  ${(s.boolean === true ? s.flag : `${s.flag} <value>`).padEnd(28)}${s.env.padEnd(24)}${s.default.padEnd(22)}${s.description}`,
  );
  return `kv-server: the kv reference server (the engine on Node, embedded SQLite by default)

Usage:
  kv-server [serve] [flags]             serve HTTP (SIGINT/SIGTERM: graceful shutdown)
  kv-server backup <file> [--data F]    online backup of the database (safe while serving)
  kv-server restore <file> [--data F]   replace the database with a backup
  kv-server export <store> [file]       write a store as JSON Lines (stdout without a file)
  kv-server import <store> <file>       write JSON Lines into a store (created if missing)

Settings (flag, environment variable, default):
${rows.join('\n')}

Environment only:
  KV_ADMIN_TOKEN                        an admin token secret to register (16-512 visible ASCII characters)
                                        instead of generating one into the admin token file
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_*
                                        OpenTelemetry settings of the --otel exporter (an endpoint turns it on)

Every /v1 request needs "Authorization: Bearer <token>" (docs/security.md); the admin token is in
<data file>.admin-token (mode 0600) unless KV_ADMIN_TOKEN is set.

Endpoints besides the protocol: /healthz (process up), /readyz (database readable and intact),
/metrics (Prometheus; a kv.admin:stores token unless --metrics-public), /console/ (the web console,
unless --no-console; sign in with a token).
`;
}
