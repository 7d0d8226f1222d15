#!/usr/bin/env node
/**
 * The `kv` command line: store management, reads, writes, listings, history, expiry, watch, and JSON
 * Lines import/export, on the Node client. Tables on a TTY (fitted to its width, 80 columns when
 * unknown), tab-separated text otherwise, JSON with `--json`. With no `--url` and no `KV_URL` it talks to
 * `http://127.0.0.1:8787`, the default of `kv-server`. Exit codes scripts can rely on: {@link EXIT}.
 *
 * Run `kv --help` for usage. The exported {@link main} runs one command in-process (tests use it).
 *
 * @module
 */

import { createReadStream, createWriteStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  bytesToBase64,
  type EnqueueOptions,
  type EntryMeta,
  type FetchLike,
  formatJsonLine,
  isKvError,
  type JsonObject,
  type KvEntry,
  type KvError,
  type KvValue,
  type ListOptions,
  NotFoundError,
  parseJsonLine,
  type SetManyItem,
  type SetOptions,
  type StoreInfo,
  UnauthenticatedError,
  utf8ByteLength,
  ValidationError,
  type WatchEvent,
  type WatchSubscriptionOptions,
} from '@kv/core/protocol';
import { SingleBar } from 'cli-progress';
import { type ClientOptions, createClient, type NodeKvClient } from './client.js';

/** Exit codes of `kv`. */
export const EXIT: { readonly ok: 0; readonly notFound: 1; readonly usage: 2; readonly error: 3 } = {
  /** Success; for `get`/`exists`/`rm`/`expire`/`history`: the key was found. */
  ok: 0,
  /** The key, id or store does not exist (`get`, `exists`, `rm`, `expire`, `history`, `stores rm`). */
  notFound: 1,
  /** Bad command line or rejected input (`ValidationError`, 400). */
  usage: 2,
  /** Any other failure: server error, network, timeout, auth, conflict (412), partial import, configuration. */
  error: 3,
} as const;

/** Where the CLI reads and writes; {@link main}'s second argument. Every field defaults to the process's. */
export interface CliIo {
  /** Standard output (values, listings, JSON). `isTTY` selects tables, fitted to `columns` (default 80). */
  stdout: Writable & { isTTY?: boolean; columns?: number };
  /** Standard error (messages, progress bars). `isTTY` enables progress bars. */
  stderr: Writable & { isTTY?: boolean };
  /** Standard input (`kv set` without a value, `kv import` without a file). */
  stdin: Readable & { isTTY?: boolean };
  /**
   * Environment (`KV_URL`, `KV_TOKEN`, `KV_TOKEN_FILE`, `KV_ADMIN_TOKEN`, `KV_ADMIN_TOKEN_FILE`,
   * `KV_DATA_FILE`).
   */
  env: Readonly<Record<string, string | undefined>>;
  /** `fetch` for the client (tests route it to an in-process engine). */
  fetch?: FetchLike;
  /** Ends a running `kv watch` (exit 0). The process's `kv` aborts it on SIGINT and SIGTERM. */
  signal?: AbortSignal;
}

/** The server `kv` talks to when neither `--url` nor `KV_URL` is given: `kv-server`'s default address. */
export const DEFAULT_URL = 'http://127.0.0.1:8787';

const USAGE = `kv — command line for the kv key-value platform

Usage: kv [global options] <command> [arguments] [options]

Stores:
  stores ls                        list stores
  stores create <store>            [--history N] [--default-ttl-ms MS]
                                   [--max-value-bytes N]
  stores rm <store>                delete a store and all its data

Entries:
  get <store> <key>                print the value (raw bytes); --entry or
                                   --json for the whole entry
  set <store> <key> [value]        write a value (the argument, --file PATH or
                                   stdin); --content-type T --ttl-ms MS
                                   --expires-at ISO --metadata JSON --scope S
                                   (repeatable) --resume --if-not-exists
                                   --if-revision N
  rm <store> <key>                 delete (tombstone); --purge drops the
                                   history too; --if-revision N
  exists <store> <key>             exit 0 when the key exists, 1 when not
  ls <store>                       keys; --prefix P --match M --like L
                                   --scope S --start-after K --limit N
                                   --cursor C --reverse --all
  history <store> <key>            past revisions, newest first
  expire <store> <key> <when>      set (ISO time, or --ttl-ms MS) or clear
                                   (never) a key's expiry
  watch <store>                    print changes until Ctrl-C: first the
                                   current values, unless --updates-only or
                                   --from-revision N; --prefix P | --match M |
                                   --key K, --count N; --json: JSON Lines

Queues:
  enqueue <store> <value>          add a message (text; --content-type T, e.g.
                                   application/json); --delay-ms MS
                                   --keys-if-undelivered k1,k2
                                   --backoff-schedule-ms 100,1000; prints its id
  queue stats <store>              ready, delayed and in-flight counts

JSON Lines:
  import <store> [file.jsonl]      write entries (stdin without a file)
  export <store> [file.jsonl]      --prefix P --match M --like L --scope S

Access:
  url <store> [key]                a signed public URL of a record, or (no
                                   key) of a key listing; --expires-in-secs N
                                   --prefix P --limit N
  tokens ls                        list tokens (never their secrets)
  tokens create --capability C     create a token (repeat --capability);
                                   --expires-at ISO --description D
                                   --rate-limit N/SECS (or N/s, N/m, N/h,
                                   N/d: at most N requests per window);
                                   prints its secret once
  tokens revoke <id>               revoke a token

Global options:
  --url URL          server URL (default: $KV_URL, else http://127.0.0.1:8787)
  --token TOKEN      bearer token; without it the first of: --token-file,
                     $KV_TOKEN, the file named by $KV_TOKEN_FILE,
                     $KV_ADMIN_TOKEN, the file named by $KV_ADMIN_TOKEN_FILE,
                     the server's admin token file ($KV_DATA_FILE.admin-token,
                     default ./data/kv.sqlite.admin-token)
  --token-file PATH  read the bearer token from this file
  --timeout-ms MS    per-request timeout (default 30000)
  --json             print JSON instead of tables/text
  -h, --help         show this help

Exit codes: 0 ok/found, 1 not found, 2 usage or invalid input, 3 server,
network, auth or configuration error.
JSON Lines (import/export), one object per line:
  {"key":"k","value":<JSON|text|base64>,"encoding":"json"|"text"|"base64",
   "contentType":"...","metadata":{...},"scopes":[...],
   "expiresAt":"ISO"|null,"resume":false}
`;

/** A command-line mistake: printed with a hint, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  capability: { type: 'string', multiple: true },
  description: { type: 'string' },
  'rate-limit': { type: 'string' },
  'expires-in-secs': { type: 'string' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  entry: { type: 'boolean' },
  history: { type: 'string' },
  'default-ttl-ms': { type: 'string' },
  'max-value-bytes': { type: 'string' },
  'content-type': { type: 'string' },
  'ttl-ms': { type: 'string' },
  'expires-at': { type: 'string' },
  metadata: { type: 'string' },
  scope: { type: 'string', multiple: true },
  resume: { type: 'boolean' },
  'if-not-exists': { type: 'boolean' },
  'if-revision': { type: 'string' },
  file: { type: 'string' },
  purge: { type: 'boolean' },
  prefix: { type: 'string' },
  match: { type: 'string' },
  like: { type: 'string' },
  'start-after': { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  reverse: { type: 'boolean' },
  all: { type: 'boolean' },
  'batch-size': { type: 'string' },
  key: { type: 'string' },
  'from-revision': { type: 'string' },
  'updates-only': { type: 'boolean' },
  count: { type: 'string' },
  'delay-ms': { type: 'string' },
  'keys-if-undelivered': { type: 'string' },
  'backoff-schedule-ms': { type: 'string' },
} as const;

type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

interface Context {
  io: CliIo;
  flags: Flags;
  args: string[];
  client: () => NodeKvClient;
  /** Where the token came from, or every place that was tried; printed with a 401. */
  tokenSource: () => string;
}

/**
 * Runs one `kv` command and resolves its exit code ({@link EXIT}); never throws and never calls
 * `process.exit`, so tests can run it in-process with captured output.
 *
 * @param argv - the arguments after `kv`, e.g. `['get', 'orders', 'order:1']`
 * @param io - streams, environment and `fetch`; defaults to the process's
 * @returns the exit code
 * @example
 * ```ts
 * const code = await main(['stores', 'ls', '--json'], { stdout, env: { KV_URL: 'http://127.0.0.1:8787' } });
 * ```
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  };
  let flags: Flags;
  let args: string[];
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    flags = parsed.values as Flags;
    args = parsed.positionals;
  } catch (error) {
    full.stderr.write(`kv: ${(error as Error).message}\nRun 'kv --help' for usage.\n`);
    return EXIT.usage;
  }
  if (flags.help === true || args.length === 0) {
    (args.length === 0 && flags.help !== true ? full.stderr : full.stdout).write(USAGE);
    return args.length === 0 && flags.help !== true ? EXIT.usage : EXIT.ok;
  }
  let client: NodeKvClient | undefined;
  const token = findToken(flags, full.env);
  const ctx: Context = {
    io: full,
    flags,
    args,
    client: () => {
      if (client === undefined) {
        // `env: {}`: the URL and the token are resolved here, in the order the help text gives.
        const options: ClientOptions = {
          env: {},
          // A command line has no active span: loading @opentelemetry/api would only cost startup time.
          traceContext: false,
          url: flags.url ?? nonEmpty(full.env.KV_URL) ?? DEFAULT_URL,
        };
        if (token.token !== undefined) options.token = token.token;
        if (token.tokenFile !== undefined) options.tokenFile = token.tokenFile;
        if (flags['timeout-ms'] !== undefined)
          options.timeoutMs = intFlag(flags['timeout-ms'], '--timeout-ms');
        if (full.fetch !== undefined) options.fetch = full.fetch;
        client = createClient(options);
      }
      return client;
    },
    tokenSource: () => token.source,
  };
  try {
    return await dispatch(ctx);
  } catch (error) {
    return reportError(ctx, error);
  }
}

function reportError(ctx: Context, error: unknown): number {
  const io = ctx.io;
  if (error instanceof UsageError) {
    io.stderr.write(`kv: ${error.message}\nRun 'kv --help' for usage.\n`);
    return EXIT.usage;
  }
  if (isKvError(error)) {
    const id = error.requestId === undefined ? '' : ` (request ${error.requestId})`;
    io.stderr.write(`kv: ${error.message} [${error.code}${error.status ? ` ${error.status}` : ''}]${id}\n`);
    if (error instanceof UnauthenticatedError) io.stderr.write(`kv: ${ctx.tokenSource()}\n`);
    if (error instanceof NotFoundError) return EXIT.notFound;
    if (error instanceof ValidationError) return EXIT.usage;
    return EXIT.error;
  }
  io.stderr.write(`kv: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT.error;
}

async function dispatch(ctx: Context): Promise<number> {
  const [command, ...rest] = ctx.args;
  ctx.args = rest;
  switch (command) {
    case 'stores':
      return storesCommand(ctx);
    case 'get':
      return getCommand(ctx);
    case 'set':
      return setCommand(ctx);
    case 'rm':
    case 'delete':
      return rmCommand(ctx);
    case 'exists':
      return existsCommand(ctx);
    case 'ls':
    case 'list':
      return lsCommand(ctx);
    case 'history':
      return historyCommand(ctx);
    case 'watch':
      return watchCommand(ctx);
    case 'expire':
      return expireCommand(ctx);
    case 'import':
      return importCommand(ctx);
    case 'export':
      return exportCommand(ctx);
    case 'url':
      return urlCommand(ctx);
    case 'tokens':
      return tokensCommand(ctx);
    case 'enqueue':
      return enqueueCommand(ctx);
    case 'queue':
      return queueCommand(ctx);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

// ---------------------------------------------------------------------------------------------- helpers

/**
 * Where the server writes its bootstrap admin token: `KV_ADMIN_TOKEN_FILE` when set, else beside its
 * database (`<data file>.admin-token`, the data file from `KV_DATA_FILE` as the server reads it, or the
 * older `KV_DATA`, default `./data/kv.sqlite`).
 */
export function adminTokenFile(env: Readonly<Record<string, string | undefined>>): string {
  const explicit = env.KV_ADMIN_TOKEN_FILE?.trim();
  if (explicit) return explicit;
  const data = env.KV_DATA_FILE?.trim() || env.KV_DATA?.trim();
  return `${data === undefined || data === '' ? './data/kv.sqlite' : data}.admin-token`;
}

/**
 * The token file to use when no token is given (`--token`, `--token-file`, `KV_TOKEN`, `KV_TOKEN_FILE`):
 * the server's admin token file when it exists, so `kv` works on the server's machine with no setup.
 */
export function defaultTokenFile(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.KV_TOKEN?.trim() || env.KV_TOKEN_FILE?.trim()) return undefined;
  const file = adminTokenFile(env);
  return existsSync(file) ? file : undefined;
}

/**
 * The token to use when none is given (`--token`, `--token-file`, `KV_TOKEN`, `KV_TOKEN_FILE`, which
 * `createClient` reads): `KV_ADMIN_TOKEN`, the admin token a server started with it registers (the demo
 * honours it too), else the server's admin token file when it exists ({@link defaultTokenFile}).
 */
export function defaultToken(
  env: Readonly<Record<string, string | undefined>>,
): { token: string } | { tokenFile: string } | undefined {
  if (env.KV_TOKEN?.trim() || env.KV_TOKEN_FILE?.trim()) return undefined;
  const admin = env.KV_ADMIN_TOKEN?.trim();
  if (admin) return { token: admin };
  const file = defaultTokenFile(env);
  return file === undefined ? undefined : { tokenFile: file };
}

/** The token `kv` sends, and a sentence naming where it came from or every place tried. */
interface FoundToken {
  token?: string;
  tokenFile?: string;
  source: string;
}

/**
 * Finds the token in the order of `kv --help`: `--token`, `--token-file`, `KV_TOKEN`, `KV_TOKEN_FILE`,
 * `KV_ADMIN_TOKEN`, `KV_ADMIN_TOKEN_FILE`, then the admin token file of the server's data file
 * (`$KV_DATA_FILE.admin-token`, default `./data/kv.sqlite.admin-token`) when it exists.
 */
function findToken(flags: Flags, env: Readonly<Record<string, string | undefined>>): FoundToken {
  if (flags.token !== undefined) return { token: flags.token, source: 'the token came from --token' };
  if (flags['token-file'] !== undefined) {
    return {
      tokenFile: flags['token-file'],
      source: `the token came from --token-file ${flags['token-file']}`,
    };
  }
  const fromEnv = nonEmpty(env.KV_TOKEN);
  if (fromEnv !== undefined) return { token: fromEnv, source: 'the token came from KV_TOKEN' };
  const tokenFile = nonEmpty(env.KV_TOKEN_FILE);
  if (tokenFile !== undefined) {
    return { tokenFile, source: `the token came from KV_TOKEN_FILE (${tokenFile})` };
  }
  const admin = nonEmpty(env.KV_ADMIN_TOKEN);
  if (admin !== undefined) return { token: admin, source: 'the token came from KV_ADMIN_TOKEN' };
  const adminFile = adminTokenFile(env);
  const named = nonEmpty(env.KV_ADMIN_TOKEN_FILE) === undefined ? '' : 'KV_ADMIN_TOKEN_FILE ';
  if (existsSync(adminFile)) {
    return { tokenFile: adminFile, source: `the token came from the admin token file ${named}${adminFile}` };
  }
  return {
    source:
      'no token was sent: tried --token, --token-file, KV_TOKEN, KV_TOKEN_FILE, KV_ADMIN_TOKEN, and the ' +
      `admin token file ${named}${adminFile} (not found; run kv beside the server's data, or pass --token)`,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function positionals(ctx: Context, names: string[], optional: string[] = []): string[] {
  const { args } = ctx;
  if (args.length < names.length) throw new UsageError(`missing <${names[args.length]}>`);
  if (args.length > names.length + optional.length) {
    throw new UsageError(`unexpected argument '${args[names.length + optional.length]}'`);
  }
  return args;
}

function intFlag(value: string, name: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${name} must be a non-negative integer, got '${value}'`);
  }
  return Number(value);
}

/** Seconds of the unit letters of `--rate-limit N/<unit>`. */
const RATE_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `--rate-limit N/SECS` (`100/60`) or `N/<unit>` (`100/m`; `s`, `m`, `h`, `d`): the token's
 * `rateLimit`. The ranges are checked by the client (a `ValidationError`, exit 2).
 */
function rateLimitFlag(value: string): { requests: number; perSeconds: number } {
  const m = /^(\d+)\/(\d+|[smhd])$/.exec(value.trim());
  if (!m) {
    throw new UsageError(
      `--rate-limit takes REQUESTS/SECONDS or REQUESTS/s|m|h|d, e.g. 100/60 or 100/m, got '${value}'`,
    );
  }
  const per = m[2] as string;
  return { requests: Number(m[1]), perSeconds: RATE_UNITS[per] ?? Number(per) };
}

function out(ctx: Context, text: string): void {
  ctx.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function printJson(ctx: Context, value: unknown): void {
  out(ctx, JSON.stringify(value, jsonReplacer, ctx.io.stdout.isTTY === true ? 2 : undefined));
}

/** Bytes in JSON output: `{ "base64": "..." }`. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { base64: bytesToBase64(value) } : value;
}

/** Terminal width tables fit when the stream does not say (`columns`): the classic 80. */
const DEFAULT_COLUMNS = 80;
/** Two spaces between table columns. */
const COLUMN_GAP = 2;
/** A column no wider than this (a time, a revision, a size) is never cut to fit a table. */
const SHORT_COLUMN = 20;

/**
 * A table on a TTY: a header row, padded columns, fitted to the terminal's width (`stdout.columns`, else
 * 80): the widest columns are cut first, never below their header nor when at most 20 characters wide,
 * and a cut cell ends in `…`.
 * Otherwise tab-separated rows, with the header row only when `headerWhenPiped`.
 */
function printTable(ctx: Context, header: string[], rows: string[][], headerWhenPiped = false): void {
  if (ctx.io.stdout.isTTY !== true) {
    if (headerWhenPiped) out(ctx, header.join('\t'));
    for (const row of rows) out(ctx, row.join('\t'));
    return;
  }
  const columns = ctx.io.stdout.columns || DEFAULT_COLUMNS;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  let total = widths.reduce((a, b) => a + b, 0) + COLUMN_GAP * (widths.length - 1);
  // Short columns (numbers, sizes, times) are never cut; only the long ones (keys, content types, ...).
  const mins = widths.map((w, i) => (w <= SHORT_COLUMN ? w : Math.max((header[i] ?? '').length, 4)));
  while (total > columns) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const min = mins[i] ?? 0;
      if ((widths[i] ?? 0) > min && (widest === -1 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    }
    if (widest === -1) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    total--;
  }
  const cell = (c: string, i: number): string => {
    const width = widths[i] ?? 0;
    return c.length > width ? `${c.slice(0, width - 1)}…` : c.padEnd(width);
  };
  const line = (cells: string[]): string => cells.map(cell).join(' '.repeat(COLUMN_GAP)).trimEnd();
  out(ctx, line(header));
  for (const row of rows) out(ctx, line(row));
}

/** An ISO time for a table cell: `2030-01-01 12:00:00` (UTC, seconds). */
function tableTime(iso: string | null): string {
  return iso === null ? '-' : iso.replace('T', ' ').slice(0, 19);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function writeOptions(flags: Flags): SetOptions {
  const options: SetOptions = {};
  if (flags['content-type'] !== undefined) options.contentType = flags['content-type'];
  if (flags['ttl-ms'] !== undefined) options.ttlMs = intFlag(flags['ttl-ms'], '--ttl-ms');
  if (flags['expires-at'] !== undefined) options.expiresAt = flags['expires-at'];
  if (flags.metadata !== undefined) {
    try {
      options.metadata = JSON.parse(flags.metadata) as JsonObject;
    } catch {
      throw new UsageError(`--metadata must be a JSON object, got '${flags.metadata}'`);
    }
  }
  if (flags.scope !== undefined) options.scopes = flags.scope;
  if (flags.resume === true) options.resume = true;
  if (flags['if-not-exists'] === true) options.ifNotExists = true;
  if (flags['if-revision'] !== undefined) options.ifRevision = intFlag(flags['if-revision'], '--if-revision');
  return options;
}

function listFilters(flags: Flags): ListOptions {
  const options: ListOptions = {};
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  if (flags.match !== undefined) options.match = flags.match;
  if (flags.like !== undefined) options.like = flags.like;
  const scope = flags.scope;
  if (scope !== undefined) {
    if (scope.length > 1) throw new UsageError('--scope can be given once for listings');
    if (scope[0] !== undefined) options.scope = scope[0];
  }
  return options;
}

function metaJson(meta: EntryMeta): Record<string, unknown> {
  return { ...meta };
}

// ---------------------------------------------------------------------------------------------- stores

async function storesCommand(ctx: Context): Promise<number> {
  const [sub, ...rest] = ctx.args;
  ctx.args = rest;
  const stores = ctx.client().stores;
  switch (sub) {
    case 'ls':
    case 'list': {
      positionals(ctx, []);
      const list = await stores.list();
      if (ctx.flags.json === true) printJson(ctx, list);
      else if (ctx.io.stdout.isTTY === true) printStores(ctx, list);
      else for (const s of list) out(ctx, s.name);
      return EXIT.ok;
    }
    case 'create': {
      const [name] = positionals(ctx, ['store']);
      const options: Parameters<typeof stores.create>[1] = {};
      if (ctx.flags.history !== undefined) options.history = intFlag(ctx.flags.history, '--history');
      if (ctx.flags['default-ttl-ms'] !== undefined) {
        options.defaultTtlMs = intFlag(ctx.flags['default-ttl-ms'], '--default-ttl-ms');
      }
      if (ctx.flags['max-value-bytes'] !== undefined) {
        options.maxValueBytes = intFlag(ctx.flags['max-value-bytes'], '--max-value-bytes');
      }
      const info = await stores.create(name as string, options);
      if (ctx.flags.json === true) printJson(ctx, info);
      else out(ctx, `created store ${info.name}`);
      return EXIT.ok;
    }
    case 'rm':
    case 'delete': {
      const [name] = positionals(ctx, ['store']);
      const deleted = await stores.delete(name as string);
      if (ctx.flags.json === true) printJson(ctx, { deleted });
      else ctx.io.stderr.write(deleted ? `deleted store ${name}\n` : `kv: store ${name} not found\n`);
      return deleted ? EXIT.ok : EXIT.notFound;
    }
    default:
      throw new UsageError(
        sub === undefined
          ? 'missing stores subcommand (ls, create, rm)'
          : `unknown stores subcommand '${sub}'`,
      );
  }
}

function printStores(ctx: Context, list: StoreInfo[]): void {
  printTable(
    ctx,
    ['NAME', 'KEYS', 'SIZE', 'HISTORY', 'DEFAULT TTL', 'REVISION'],
    list.map((s) => [
      s.name,
      String(s.keyCount),
      formatBytes(s.totalBytes),
      String(s.history),
      s.defaultTtlMs === null ? '-' : `${s.defaultTtlMs} ms`,
      String(s.revision),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------- entries

async function getCommand(ctx: Context): Promise<number> {
  const [storeName, key] = positionals(ctx, ['store', 'key']) as [string, string];
  const store = ctx.client().store(storeName);
  if (ctx.flags.json === true || ctx.flags.entry === true) {
    const entry = await store.getEntry(key);
    if (entry === undefined) return notFound(ctx, `key ${key} not found in ${storeName}`);
    if (ctx.flags.json === true) printJson(ctx, entry);
    else printEntry(ctx, entry);
    return EXIT.ok;
  }
  const stream = await store.getStream(key);
  if (stream === undefined) return notFound(ctx, `key ${key} not found in ${storeName}`);
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    if (!ctx.io.stdout.write(chunk)) await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
  }
  return EXIT.ok;
}

function printEntry(ctx: Context, entry: KvEntry<KvValue>): void {
  const value =
    entry.value instanceof Uint8Array
      ? `<${entry.size} bytes>`
      : typeof entry.value === 'string'
        ? entry.value
        : JSON.stringify(entry.value);
  printTable(
    ctx,
    ['FIELD', 'VALUE'],
    [
      ['key', entry.key],
      ['id', entry.id],
      ['revision', String(entry.revision)],
      ['contentType', entry.contentType],
      ['size', String(entry.size)],
      ['metadata', entry.metadata === null ? '-' : JSON.stringify(entry.metadata)],
      ['scopes', entry.scopes.join(',') || '-'],
      ['createdAt', entry.createdAt],
      ['updatedAt', entry.updatedAt],
      ['expiresAt', entry.expiresAt ?? '-'],
      ['resume', String(entry.resume)],
      ['value', value],
    ],
  );
}

function notFound(ctx: Context, message: string): number {
  if (ctx.flags.json === true) printJson(ctx, null);
  ctx.io.stderr.write(`kv: ${message}\n`);
  return EXIT.notFound;
}

async function setCommand(ctx: Context): Promise<number> {
  const [storeName, key, value] = positionals(ctx, ['store', 'key'], ['value']) as [string, string, string?];
  const options = writeOptions(ctx.flags);
  const store = ctx.client().store(storeName);
  let body: string | Readable;
  if (value !== undefined) {
    if (ctx.flags.file !== undefined) throw new UsageError('give either a value or --file, not both');
    body = value;
  } else if (ctx.flags.file !== undefined) {
    body = createReadStream(ctx.flags.file);
    options.contentType ??= 'application/octet-stream';
  } else if (ctx.io.stdin.isTTY === true) {
    throw new UsageError('missing <value>: pass it as an argument, with --file, or on stdin');
  } else {
    body = ctx.io.stdin;
    options.contentType ??= 'application/octet-stream';
  }
  const result = await store.set(key, body, options);
  if (ctx.flags.json === true) printJson(ctx, result);
  else if (options.ifNotExists === true && !result.created)
    out(ctx, `exists, not written (revision ${result.revision})`);
  else out(ctx, `${result.created ? 'created' : 'updated'} ${key} at revision ${result.revision}`);
  return EXIT.ok;
}

async function rmCommand(ctx: Context): Promise<number> {
  const [storeName, key] = positionals(ctx, ['store', 'key']) as [string, string];
  const store = ctx.client().store(storeName);
  let deleted: boolean;
  if (ctx.flags.purge === true) {
    if (ctx.flags['if-revision'] !== undefined) throw new UsageError('--purge cannot take --if-revision');
    deleted = await store.purge(key);
  } else {
    const ifRevision = ctx.flags['if-revision'];
    deleted = await store.delete(
      key,
      ifRevision === undefined ? {} : { ifRevision: intFlag(ifRevision, '--if-revision') },
    );
  }
  if (ctx.flags.json === true) printJson(ctx, { deleted });
  else if (deleted) out(ctx, `${ctx.flags.purge === true ? 'purged' : 'deleted'} ${key}`);
  else ctx.io.stderr.write(`kv: key ${key} not found in ${storeName}\n`);
  return deleted ? EXIT.ok : EXIT.notFound;
}

async function existsCommand(ctx: Context): Promise<number> {
  const [storeName, key] = positionals(ctx, ['store', 'key']) as [string, string];
  const found = await ctx.client().store(storeName).exists(key);
  if (ctx.flags.json === true) printJson(ctx, { exists: found });
  else out(ctx, String(found));
  return found ? EXIT.ok : EXIT.notFound;
}

async function lsCommand(ctx: Context): Promise<number> {
  const [storeName] = positionals(ctx, ['store']) as [string];
  const store = ctx.client().store(storeName);
  const options = listFilters(ctx.flags);
  if (ctx.flags['start-after'] !== undefined) options.startAfter = ctx.flags['start-after'];
  if (ctx.flags.limit !== undefined) options.limit = intFlag(ctx.flags.limit, '--limit');
  if (ctx.flags.cursor !== undefined) options.cursor = ctx.flags.cursor;
  if (ctx.flags.reverse === true) options.reverse = true;
  let items: EntryMeta[];
  let cursor: string | undefined;
  if (ctx.flags.all === true) {
    items = [];
    let next: ListOptions = { ...options };
    for (;;) {
      const page = await store.list(next);
      items.push(...page.items);
      if (page.complete || page.cursor === undefined) break;
      next = { ...options, cursor: page.cursor };
      delete next.startAfter;
    }
  } else {
    // A filtered page (--match, --like) can come back empty but incomplete: the server examines at most
    // 10 x limit + 1000 keys per request (docs/protocol.md "Listing"). Follow the cursor until there are
    // rows to show or nothing is left, instead of printing an empty page and a cursor.
    let page = await store.list(options);
    let skipped = 0;
    while (page.items.length === 0 && !page.complete && page.cursor !== undefined) {
      skipped++;
      const next: ListOptions = { ...options, cursor: page.cursor };
      delete next.startAfter;
      page = await store.list(next);
    }
    if (skipped > 0 && ctx.flags.json !== true) {
      const perPage = 10 * (options.limit ?? 100) + 1000;
      ctx.io.stderr.write(
        `kv: scanned ${(skipped * perPage).toLocaleString('en')} keys in ${skipped} page${skipped === 1 ? '' : 's'} ` +
          `with no match before ${page.items.length === 0 ? 'the end' : 'these'}\n`,
      );
    }
    items = page.items;
    cursor = page.complete ? undefined : page.cursor;
  }
  if (ctx.flags.json === true) {
    printJson(
      ctx,
      ctx.flags.all === true
        ? items.map(metaJson)
        : { items: items.map(metaJson), cursor, complete: cursor === undefined },
    );
  } else if (ctx.io.stdout.isTTY === true) {
    printTable(
      ctx,
      ['KEY', 'REVISION', 'SIZE', 'CONTENT TYPE', 'UPDATED', 'EXPIRES'],
      items.map((e) => [
        e.key,
        String(e.revision),
        formatBytes(e.size),
        e.contentType,
        tableTime(e.updatedAt),
        tableTime(e.expiresAt),
      ]),
    );
  } else {
    for (const e of items) out(ctx, e.key);
  }
  if (cursor !== undefined && ctx.flags.json !== true) {
    ctx.io.stderr.write(`kv: more keys; continue with --cursor ${cursor} (or list everything with --all)\n`);
  }
  return EXIT.ok;
}

async function historyCommand(ctx: Context): Promise<number> {
  const [storeName, key] = positionals(ctx, ['store', 'key']) as [string, string];
  const history = await ctx.client().store(storeName).history(key);
  if (ctx.flags.json === true) printJson(ctx, history);
  else {
    printTable(
      ctx,
      ['REVISION', 'OPERATION', 'SIZE', 'UPDATED', 'EXPIRES'],
      history.map((h) => [
        String(h.revision),
        h.operation,
        formatBytes(h.size),
        tableTime(h.updatedAt),
        tableTime(h.expiresAt),
      ]),
      true,
    );
  }
  if (history.length === 0) {
    ctx.io.stderr.write(`kv: no history for ${key} in ${storeName}\n`);
    return EXIT.notFound;
  }
  return EXIT.ok;
}

/**
 * `kv watch <store>`: prints each change as it happens, until Ctrl-C (or `--count` events). Like
 * `store.watch()`, it first replays the current value of every matching key, unless `--updates-only`
 * or `--from-revision N` (every change after revision N) says otherwise (docs/protocol.md "Watch").
 * Text: `<revision> <type> <key> <value>` per line; `--json`: one JSON object per event (JSON Lines).
 */
async function watchCommand(ctx: Context): Promise<number> {
  const [storeName] = positionals(ctx, ['store']) as [string];
  const { flags } = ctx;
  const filters = [flags.prefix, flags.match, flags.key].filter((f) => f !== undefined);
  if (filters.length > 1) throw new UsageError('give at most one of --prefix, --match, --key');
  const options: WatchSubscriptionOptions = {};
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  if (flags.match !== undefined) options.match = flags.match;
  if (flags.key !== undefined) options.key = flags.key;
  if (flags['from-revision'] !== undefined) {
    if (flags['updates-only'] === true) throw new UsageError('give either --from-revision or --updates-only');
    options.fromRevision = intFlag(flags['from-revision'], '--from-revision');
  }
  if (flags['updates-only'] === true) options.updatesOnly = true;
  const count = flags.count === undefined ? undefined : intFlag(flags.count, '--count');
  if (count === 0) throw new UsageError('--count must be at least 1');
  // A fatal error (401, 403, a missing store, a compacted resume point) ends the watch; transient ones
  // are retried by the client.
  let failure: KvError | undefined;
  const watch = ctx
    .client()
    .store(storeName)
    .watch(options, {
      onError: (error, { willRetry }) => {
        if (!willRetry) failure = error;
      },
    });
  let stopped = false;
  const onAbort = (): void => {
    stopped = true;
    watch.stop();
  };
  ctx.io.signal?.addEventListener('abort', onAbort, { once: true });
  if (ctx.io.signal?.aborted === true) onAbort();
  let seen = 0;
  try {
    for await (const event of watch) {
      if (ctx.flags.json === true) out(ctx, JSON.stringify(event, jsonReplacer));
      else out(ctx, watchLine(event));
      seen++;
      if (stopped || (count !== undefined && seen >= count)) break;
    }
  } catch (error) {
    if (!stopped) throw error;
  } finally {
    watch.stop();
    ctx.io.signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
  return EXIT.ok;
}

/** One text line per watch event: revision, type, key, and the value (JSON, text, or a byte count). */
function watchLine(event: WatchEvent<unknown>): string {
  const value =
    event.value === undefined
      ? ''
      : event.value instanceof Uint8Array
        ? `<${event.size} bytes>`
        : typeof event.value === 'string'
          ? event.value
          : JSON.stringify(event.value);
  return [String(event.revision), event.type, event.key, value].join('\t').trimEnd();
}

async function expireCommand(ctx: Context): Promise<number> {
  const [storeName, key, when] = positionals(ctx, ['store', 'key'], ['time']) as [string, string, string?];
  let expiresAt: string | number | null;
  if (ctx.flags['ttl-ms'] !== undefined) {
    if (when !== undefined) throw new UsageError('give either a time or --ttl-ms, not both');
    expiresAt = Date.now() + intFlag(ctx.flags['ttl-ms'], '--ttl-ms');
  } else if (when === undefined) {
    throw new UsageError("missing <time>: an ISO 8601 time, 'never', or --ttl-ms MS");
  } else {
    expiresAt = when === 'never' || when === 'none' ? null : when;
  }
  const existed = await ctx.client().store(storeName).setExpiry(key, expiresAt);
  if (ctx.flags.json === true) printJson(ctx, { existed });
  else if (existed)
    out(
      ctx,
      expiresAt === null
        ? `${key} no longer expires`
        : `${key} expires at ${new Date(expiresAt).toISOString()}`,
    );
  else ctx.io.stderr.write(`kv: key ${key} not found in ${storeName}\n`);
  return existed ? EXIT.ok : EXIT.notFound;
}

// ---------------------------------------------------------------------------------------------- queues

/** A comma-separated list flag (`a,b`); empty items are dropped. */
function listFlag(value: string): string[] {
  return value.split(',').filter((item) => item !== '');
}

async function enqueueCommand(ctx: Context): Promise<number> {
  const [storeName, value] = positionals(ctx, ['store', 'value']) as [string, string];
  const options: EnqueueOptions = {};
  if (ctx.flags['content-type'] !== undefined) options.contentType = ctx.flags['content-type'];
  if (ctx.flags['delay-ms'] !== undefined) options.delayMs = intFlag(ctx.flags['delay-ms'], '--delay-ms');
  if (ctx.flags['keys-if-undelivered'] !== undefined)
    options.keysIfUndelivered = listFlag(ctx.flags['keys-if-undelivered']);
  if (ctx.flags['backoff-schedule-ms'] !== undefined) {
    options.backoffScheduleMs = listFlag(ctx.flags['backoff-schedule-ms']).map((step) =>
      intFlag(step, '--backoff-schedule-ms'),
    );
  }
  const { id } = await ctx.client().store(storeName).enqueue(value, options);
  if (ctx.flags.json === true) printJson(ctx, { id });
  else out(ctx, id);
  return EXIT.ok;
}

async function queueCommand(ctx: Context): Promise<number> {
  const [sub, ...rest] = ctx.args;
  ctx.args = rest;
  if (sub !== 'stats')
    throw new UsageError(`unknown queue command '${sub ?? ''}' (expected: queue stats <store>)`);
  const [storeName] = positionals(ctx, ['store']) as [string];
  const stats = await ctx.client().store(storeName).queueStats();
  if (ctx.flags.json === true) printJson(ctx, stats);
  else out(ctx, `ready\t${stats.ready}\ndelayed\t${stats.delayed}\ninFlight\t${stats.inFlight}`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------- access

async function urlCommand(ctx: Context): Promise<number> {
  const [storeName, key] = positionals(ctx, ['store'], ['key']) as [string, string?];
  const store = ctx.client().store(storeName);
  const expiresInSecs =
    ctx.flags['expires-in-secs'] === undefined
      ? 3600
      : intFlag(ctx.flags['expires-in-secs'], '--expires-in-secs');
  let signed: { url: string; expiresAt: string };
  if (key !== undefined) {
    if (ctx.flags.prefix !== undefined || ctx.flags.limit !== undefined) {
      throw new UsageError('--prefix and --limit are for key listings: give no <key>');
    }
    signed = await store.createRecordUrl(key, { expiresInSecs });
  } else {
    const options: Parameters<typeof store.createKeysUrl>[0] = { expiresInSecs };
    if (ctx.flags.prefix !== undefined) options.prefix = ctx.flags.prefix;
    if (ctx.flags.limit !== undefined) options.limit = intFlag(ctx.flags.limit, '--limit');
    signed = await store.createKeysUrl(options);
  }
  if (ctx.flags.json === true) printJson(ctx, signed);
  else {
    out(ctx, signed.url);
    ctx.io.stderr.write(`kv: valid until ${signed.expiresAt}\n`);
  }
  return EXIT.ok;
}

async function tokensCommand(ctx: Context): Promise<number> {
  const [sub, ...rest] = ctx.args;
  ctx.args = rest;
  const tokens = ctx.client().tokens;
  switch (sub) {
    case 'ls':
    case 'list': {
      positionals(ctx, []);
      const list = await tokens.list();
      if (ctx.flags.json === true) printJson(ctx, list);
      else {
        printTable(
          ctx,
          ['ID', 'CAPABILITIES', 'EXPIRES', 'REVOKED', 'RATE LIMIT', 'DESCRIPTION'],
          list.map((t) => [
            t.id,
            t.capabilities.join(' '),
            tableTime(t.expiresAt ?? null),
            tableTime(t.revokedAt ?? null),
            t.rateLimit ? `${t.rateLimit.requests}/${t.rateLimit.perSeconds}s` : '-',
            t.description ?? '',
          ]),
        );
      }
      return EXIT.ok;
    }
    case 'create': {
      positionals(ctx, []);
      const capabilities = ctx.flags.capability ?? [];
      if (capabilities.length === 0)
        throw new UsageError('give at least one --capability, e.g. kv[orders]:get');
      const options: Parameters<typeof tokens.create>[0] = { capabilities };
      if (ctx.flags['expires-at'] !== undefined) options.expiresAt = ctx.flags['expires-at'];
      if (ctx.flags.description !== undefined) options.description = ctx.flags.description;
      if (ctx.flags['rate-limit'] !== undefined) options.rateLimit = rateLimitFlag(ctx.flags['rate-limit']);
      const created = await tokens.create(options);
      if (ctx.flags.json === true) printJson(ctx, created);
      else {
        out(ctx, created.token);
        ctx.io.stderr.write(`kv: created ${created.id}; the secret above is shown only once\n`);
      }
      return EXIT.ok;
    }
    case 'revoke':
    case 'rm': {
      const [id] = positionals(ctx, ['id']) as [string];
      const revoked = await tokens.revoke(id);
      if (ctx.flags.json === true) printJson(ctx, { revoked });
      else if (revoked) out(ctx, `revoked ${id}`);
      else ctx.io.stderr.write(`kv: no live token ${id}\n`);
      return revoked ? EXIT.ok : EXIT.notFound;
    }
    default:
      throw new UsageError(
        sub === undefined
          ? 'missing tokens subcommand (ls, create, revoke)'
          : `unknown tokens subcommand '${sub}'`,
      );
  }
}

// ---------------------------------------------------------------------------------------------- JSON Lines

/** The `setMany` item of an import line (`@kv/core`'s shared codec). @throws {UsageError} a malformed line */
function importItem(text: string, lineNumber: number): SetManyItem {
  try {
    return parseJsonLine(text, lineNumber);
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    throw error;
  }
}

function progressBar(ctx: Context, total: number, label: string, unit: string): SingleBar | undefined {
  if (ctx.io.stderr.isTTY !== true || ctx.flags.json === true) return undefined;
  const bar = new SingleBar({
    stream: ctx.io.stderr,
    format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(total, 0);
  return bar;
}

async function importCommand(ctx: Context): Promise<number> {
  const [storeName, file] = positionals(ctx, ['store'], ['file']) as [string, string?];
  const store = ctx.client().store(storeName);
  const batchSize =
    ctx.flags['batch-size'] === undefined ? 1000 : intFlag(ctx.flags['batch-size'], '--batch-size');
  if (batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch-size must be 1-10000');
  if (file === undefined && ctx.io.stdin.isTTY === true)
    throw new UsageError('missing <file>: give a file or pipe JSON Lines to stdin');
  const input = file === undefined ? ctx.io.stdin : createReadStream(file);
  // Progress in bytes of input read: the file's size is the total; piped input counts lines read so far.
  const totalBytes = file === undefined ? undefined : statSync(file).size;
  const bar = progressBar(ctx, totalBytes ?? 0, 'import', totalBytes === undefined ? 'lines' : 'bytes');
  let bytesRead = 0;
  let imported = 0;
  const failed: Array<{ key: string; error?: string; message?: string }> = [];
  let batch: SetManyItem[] = [];
  let lineNumber = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const result = await store.setMany(batch);
    imported += result.successfulKeyCount;
    for (const r of result.results) {
      if (!r.ok)
        failed.push({
          key: r.key,
          ...(r.error === undefined ? {} : { error: r.error }),
          ...(r.message === undefined ? {} : { message: r.message }),
        });
    }
    if (totalBytes === undefined) {
      bar?.setTotal(lineNumber);
      bar?.update(lineNumber);
    } else bar?.update(Math.min(bytesRead, totalBytes));
    batch = [];
  };
  try {
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNumber += 1;
      bytesRead += utf8ByteLength(text) + 1;
      if (text.trim() === '') continue;
      batch.push(importItem(text, lineNumber));
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    bar?.stop();
  }
  if (ctx.flags.json === true) printJson(ctx, { imported, failed });
  else {
    out(
      ctx,
      `imported ${imported} entries into ${storeName}${failed.length > 0 ? `, ${failed.length} failed` : ''}`,
    );
    for (const f of failed) ctx.io.stderr.write(`kv: ${f.key}: ${f.message ?? f.error ?? 'failed'}\n`);
  }
  return failed.length > 0 ? EXIT.error : EXIT.ok;
}

async function exportCommand(ctx: Context): Promise<number> {
  const [storeName, file] = positionals(ctx, ['store'], ['file']) as [string, string?];
  const client = ctx.client();
  const store = client.store(storeName);
  const info = await client.stores.get(storeName);
  if (info === undefined) return notFound(ctx, `store ${storeName} not found`);
  const output: Writable = file === undefined ? ctx.io.stdout : createWriteStream(file);
  const bar = progressBar(ctx, info.keyCount, 'export', 'entries');
  let exported = 0;
  try {
    for await (const entry of store.entries(listFilters(ctx.flags))) {
      const line = formatJsonLine(entry);
      if (!output.write(line)) await new Promise((resolve) => output.once('drain', resolve));
      exported += 1;
      if (bar !== undefined) {
        if (exported > bar.getTotal()) bar.setTotal(exported);
        bar.update(exported);
      }
    }
  } finally {
    bar?.stop();
    if (file !== undefined) {
      output.end();
      await finished(output);
    }
  }
  if (file !== undefined) out(ctx, `exported ${exported} entries from ${storeName} to ${file}`);
  return EXIT.ok;
}

/** True when this module is the process's entry point (`kv ...`), following the bin symlink. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  void runProcess();
}

/**
 * Runs `kv` as the process (the bin): the arguments after `kv`, the process's streams, SIGINT/SIGTERM
 * ending a `kv watch`; sets `process.exitCode`.
 */
export async function runProcess(): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await main(process.argv.slice(2), { signal: stop.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`kv: ${String(error)}\n`);
      process.exitCode = EXIT.error;
    },
  );
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
