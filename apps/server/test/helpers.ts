/**
 * End-to-end helpers: run the BUILT server (`apps/server/dist/main.js`, as CI builds before testing) as
 * a child process on 127.0.0.1 with port 0, and read its JSON log lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built binary. */
export const MAIN: string = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/**
 * The admin token the test servers run with: {@link startServer} sets `KV_ADMIN_TOKEN` to it unless told
 * otherwise, and {@link call} and {@link authHeaders} send it.
 */
export const ADMIN_TOKEN = 'kv_test-admin-token-for-e2e-0123456789';

/** `Authorization: Bearer <ADMIN_TOKEN>` plus `extra`. */
export function authHeaders(
  extra: Record<string, string> = {},
  token: string = ADMIN_TOKEN,
): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Milliseconds to wait for the `listening` line. @default 20000 */
  timeoutMs?: number;
  /**
   * Environment of the child, on top of `process.env` minus the `KV_*` variables. `KV_ADMIN_TOKEN`
   * defaults to {@link ADMIN_TOKEN}; set it to `undefined` for the generated token file.
   */
  env?: Record<string, string | undefined>;
  /** Port to listen on. @default 0 (any free port) */
  port?: number;
}

/**
 * `process.env` without `KV_*` and `OTEL_*` (a developer's settings, such as an OTLP endpoint that turns
 * on `--otel`, must not leak into test servers), plus `env`.
 */
function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KV_') && !k.startsWith('OTEL_')) out[k] = v;
  }
  const merged = { KV_ADMIN_TOKEN: ADMIN_TOKEN, ...env };
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) out[k] = v;
  return out;
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'kv-server-e2e-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A server child process. */
export interface ServerProcess {
  /** Base URL from the `listening` log line. */
  url: string;
  /** The child. */
  proc: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  lines: string[];
  /** stderr so far. */
  stderr: () => string;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first parsed log line whose `msg` is `msg`. */
  waitForLog: (msg: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and waits for exit. */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Result of {@link runCli}. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function assertBuilt(): void {
  if (!existsSync(MAIN)) {
    throw new Error(
      `${MAIN} is missing: build first (pnpm build, or npx tsc -p apps/server/tsconfig.build.json)`,
    );
  }
}

/** Runs `kv-server <args>` to completion (environment as in {@link startServer}). */
export function runCli(
  args: string[],
  timeoutMs = 30_000,
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(env),
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kv-server ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      // 'exit' can fire before the pipes drain.
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

/**
 * Starts `kv-server --port 0 <args>` (with `KV_ADMIN_TOKEN` = {@link ADMIN_TOKEN} unless `options.env`
 * says otherwise) and resolves once it logs `listening`. Rejects (with its stderr) if it exits first.
 */
export function startServer(args: string[], options: StartOptions = {}): Promise<ServerProcess> {
  assertBuilt();
  const timeoutMs = options.timeoutMs ?? 20_000;
  const port = String(options.port ?? 0);
  const proc = spawn(process.execPath, [MAIN, '--port', port, '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(options.env),
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: Array<{ msg: string; resolve: (v: Record<string, unknown>) => void }> = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const dispatch = (line: string): void => {
    lines.push(line);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) {
      if (parsed.msg === w.msg) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  proc.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      dispatch(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  });
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waitForLog = (msg: string, ms = timeoutMs): Promise<Record<string, unknown>> => {
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === msg) return Promise.resolve(parsed);
      } catch {
        // not JSON
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${msg}" log within ${ms} ms; stderr: ${stderr}`)),
        ms,
      );
      waiters.push({
        msg,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? signal}) before "${msg}"; stderr: ${stderr}`));
      });
    });
  };
  return waitForLog('listening').then((line) => ({
    url: String(line.url),
    proc,
    lines,
    stderr: () => stderr,
    exited,
    waitForLog,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  }));
}

/**
 * JSON request helper: returns status, headers and parsed JSON (or text). Sends
 * `Authorization: Bearer <token>` (default {@link ADMIN_TOKEN}; `token: null` sends none) unless
 * `headers` has its own.
 */
export async function call(
  url: string,
  init: Omit<RequestInit, 'headers'> & {
    json?: unknown;
    headers?: Record<string, string>;
    token?: string | null;
  } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const { json, token = ADMIN_TOKEN, headers = {}, ...rest } = init;
  const req: RequestInit = { ...rest };
  const all: Record<string, string> = { ...headers };
  if (token !== null && !Object.keys(all).some((k) => k.toLowerCase() === 'authorization')) {
    all.authorization = `Bearer ${token}`;
  }
  if (json !== undefined) {
    req.body = JSON.stringify(json);
    all['content-type'] ??= 'application/json';
  }
  req.headers = all;
  const res = await fetch(url, req);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body, text };
}
