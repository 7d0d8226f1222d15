/**
 * The demo's test helpers: a temporary directory, and the BUILT `kv-server` of `@kv/server` (its bin,
 * as the demo itself finds it) as a child process on 127.0.0.1 with port 0 and a fixed admin token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

/** The admin token the test servers run with (`KV_ADMIN_TOKEN`). */
export const ADMIN_TOKEN = 'kv_test-admin-token-for-demo-0123456789';

/** The built `kv-server` bin of the installed `@kv/server`. */
export const SERVER_BIN: string = (() => {
  const manifestPath = createRequire(import.meta.url).resolve('@kv/server/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifestPath), manifest.bin['kv-server'] ?? 'dist/main.js');
})();

/** `process.env` without `KV_*` (a developer's settings must not leak into test processes), plus `env`. */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KV_')) out[k] = v;
  return { ...out, ...env };
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A server child process. */
export interface ServerProcess {
  /** Base URL from the `listening` log line. */
  url: string;
  /** The child. */
  proc: ChildProcess;
  /** Sends SIGTERM and waits for the exit. */
  stop: () => Promise<void>;
}

/**
 * Starts `kv-server --port 0 --host 127.0.0.1 <args>` with `KV_ADMIN_TOKEN` = {@link ADMIN_TOKEN} and
 * resolves once it logs `listening`; rejects (with its stderr) if it exits first or takes over 20 s.
 */
export function startServer(args: string[]): Promise<ServerProcess> {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: build first (pnpm build)`);
  const proc = spawn(process.execPath, [SERVER_BIN, '--port', '0', '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ KV_ADMIN_TOKEN: ADMIN_TOKEN }),
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`kv-server did not log "listening" within 20 s; stderr: ${stderr}`));
    }, 20_000);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`kv-server exited before listening; stderr: ${stderr}`));
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const log = JSON.parse(line) as { msg?: string; url?: string };
        if (log.msg === 'listening' && log.url !== undefined) {
          clearTimeout(timer);
          resolve({ url: log.url, proc, stop });
        }
      } catch {
        // not a JSON log line
      }
    });
  });
}
