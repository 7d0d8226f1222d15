import type { Browser } from 'playwright-core';

/** The repository root. */
export declare const repoRoot: string;
/** Source entry of @kv/browser. */
export declare const browserEntry: string;
/** Chromium flags for headless runs in containers and CI. */
export declare const CHROMIUM_ARGS: string[];
/** Path of the Chromium binary (`CHROMIUM_PATH`, else `/usr/bin/chromium`); throws when missing. */
export declare function chromiumPath(): string;
/** Launches headless Chromium through playwright-core with the system binary. */
export declare function launchChromium(): Promise<Browser>;

/** Admin token the test server is started with (`KV_ADMIN_TOKEN`). */
export declare const E2E_ADMIN_TOKEN: string;
/** A running kv server process. */
export interface KvServerProcess {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The server's admin token (`*` capability). */
  token: string;
  /**
   * Stops the process (SIGTERM, then SIGKILL after 5 s) and removes its temporary data directory (not
   * a `data` file given to {@link startKvServer}); resolves with how it exited (`code: 0` = graceful).
   */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
/**
 * Starts `node apps/server/dist/main.js` with a temporary SQLite file on a free port, or with the
 * given `data` file (kept on stop) and `port` (to restart the same server).
 */
export declare function startKvServer(options?: {
  corsOrigins?: string;
  storage?: 'sqlite' | 'memory';
  args?: string[];
  /** Port to listen on. @default 0 (any free port) */
  port?: number;
  /** SQLite file to use and keep. @default a file in a temporary directory removed on stop */
  data?: string;
}): Promise<KvServerProcess>;

/** Bundles the page in `root` with Vite into a temporary directory. */
export declare function buildPage(root: string): Promise<{ dir: string; remove(): Promise<void> }>;

/** Serves `dir` on 127.0.0.1; `isolated` adds COOP/COEP (cross-origin isolation). */
export declare function serveStatic(
  dir: string,
  options?: { isolated?: boolean },
): Promise<{ url: string; close(): Promise<void> }>;
