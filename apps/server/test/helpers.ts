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

/** Runs `kv-server <args>` to completion. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
 * Starts `kv-server --port 0 <args>` and resolves once it logs `listening`.
 * Rejects (with its stderr) if it exits first.
 */
export function startServer(args: string[], timeoutMs = 20_000): Promise<ServerProcess> {
  assertBuilt();
  const proc = spawn(process.execPath, [MAIN, '--port', '0', '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
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

/** JSON request helper: returns status, headers and parsed JSON (or text). */
export async function call(
  url: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const { json, ...rest } = init;
  const req: RequestInit = { ...rest };
  if (json !== undefined) {
    req.body = JSON.stringify(json);
    req.headers = { 'content-type': 'application/json', ...(init.headers as Record<string, string>) };
  }
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
