/**
 * A write load that survives a server restart, for the watch tests that stop and restart the server
 * mid-load (apps/server and the browser end-to-end tests): each writer puts `w<n>.k<i>` keys
 * one after another and retries each put until it is acknowledged, with one `Idempotency-Key` per key,
 * so a write whose answer was lost in the restart is answered from the idempotency record instead of
 * being written twice (docs/protocol.md "Idempotency").
 *
 * @module
 */

/** One acknowledged put: the revision the server answered, the key and the value written. */
export interface AckedPut {
  /** Store revision of the write (from the `201` body). */
  revision: number;
  /** The key, `w<writer>.k<i>`. */
  key: string;
  /** The text value, `v-<writer>-<i>`. */
  value: string;
}

/** Options of {@link startRetryingWriters}. */
export interface RetryingWritersOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The store written to (it must exist). */
  store: string;
  /** Extra request headers (the `authorization` header). */
  headers: Record<string, string>;
  /** How many writers run concurrently. */
  writers: number;
  /** Per-attempt timeout, in ms. @default 5000 */
  attemptTimeoutMs?: number;
  /** Pause after a failed attempt, in ms. @default 25 */
  retryDelayMs?: number;
}

/** A running write load. */
export interface RetryingWriters {
  /** Every acknowledged put so far, in the order the answers arrived. */
  readonly acks: AckedPut[];
  /** Attempts that failed (refused connection, timeout, non-201 answer) and were retried. */
  failedAttempts(): number;
  /** Lets each writer finish its current put, then resolves. */
  stop(): Promise<void>;
}

/**
 * Starts `writers` concurrent writers of text values (`PUT /v1/stores/{store}/entries/{key}`). A writer
 * moves to its next key only once the current one is acknowledged (`201`); failures are retried forever
 * until {@link RetryingWriters.stop}.
 */
export function startRetryingWriters(options: RetryingWritersOptions): RetryingWriters {
  const acks: AckedPut[] = [];
  const timeoutMs = options.attemptTimeoutMs ?? 5000;
  const delayMs = options.retryDelayMs ?? 25;
  let failed = 0;
  let stopping = false;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; !stopping; i++) {
      const key = `w${w}.k${i}`;
      const value = `v-${w}-${i}`;
      for (;;) {
        try {
          const res = await fetch(`${options.url}/v1/stores/${options.store}/entries/${key}`, {
            method: 'PUT',
            headers: { ...options.headers, 'content-type': 'text/plain', 'idempotency-key': `${key}-put` },
            body: value,
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (res.status === 201) {
            acks.push({ revision: ((await res.json()) as { revision: number }).revision, key, value });
            break;
          }
          await res.body?.cancel();
        } catch {
          // The server is restarting.
        }
        failed++;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  };
  const running = Array.from({ length: options.writers }, (_, w) => writer(w));
  return {
    acks,
    failedAttempts: () => failed,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
    },
  };
}
