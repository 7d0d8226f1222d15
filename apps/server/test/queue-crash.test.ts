/**
 * Durability of queue messages: a process writing them through the BUILT `SqliteStorage`
 * (`dist/sqlite-storage.js`) is killed with SIGKILL mid-load; after a reopen of the file, every
 * transaction that had resolved is there whole (its put and its delete), as for entries
 * (`crash.test.ts`): a queue-only transaction goes through the same group commit into the WAL before it
 * resolves.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../src/sqlite-storage.js';
import { tempDir } from './helpers.js';
import { committed, dueIds, T0 } from './queue-rows.js';

const tmp = tempDir('kv-queue-crash-');
afterAll(() => tmp.remove());

const BUILT = new URL('../dist/sqlite-storage.js', import.meta.url).href;

/**
 * The child: 4 writers, each a loop of transactions that enqueue message `w<i>.<n>` and delete the one
 * enqueued before it (so a transaction half applied would show as both or neither), printing
 * `ack <id>` once the transaction resolved. Bounded: at most 20,000 transactions per writer.
 */
const CHILD = `
import { SqliteStorage } from ${JSON.stringify(BUILT)};
const storage = SqliteStorage.open({ path: process.argv[1] });
await storage.createStore('q', { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 }, ${T0}, 'secret');
const bytes = new Uint8Array(300).map((_, i) => i % 256);
const writer = async (w) => {
  for (let n = 0; n < 20000; n++) {
    const id = 'w' + w + '.' + String(n).padStart(6, '0');
    await storage.transaction('q', (tx) => {
      tx.putMessage({ id, value: bytes, contentType: 'application/octet-stream', enqueuedAt: ${T0},
        visibleAt: ${T0} + n, attempts: 0, leaseId: null, leaseExpiresAt: null,
        keysIfUndelivered: ['dead/' + id], backoffScheduleMs: [1000] });
      if (n > 0) tx.deleteMessage('w' + w + '.' + String(n - 1).padStart(6, '0'));
    });
    process.stdout.write('ack ' + id + '\\n');
  }
};
await Promise.all([0, 1, 2, 3].map(writer));
`;

describe('queue crash safety', () => {
  it('keeps every resolved queue transaction, whole, after SIGKILL mid-load', async () => {
    const path = join(tmp.dir, 'queue-crash.sqlite');
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const last = new Map<string, string>();
    let acks = 0;
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const id = line.slice(4);
        last.set(id.split('.')[0]!, id);
        acks++;
      }
    });
    try {
      await expect
        .poll(() => (stderr === '' ? acks : Number.NaN), { timeout: 30_000, interval: 10 })
        .toBeGreaterThan(2000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');

    const storage = SqliteStorage.open({ path });
    try {
      // Per writer: the last acknowledged message, or the one after it (written, not yet acknowledged when
      // the process died), and nothing else of that writer: each transaction is there whole or not at all.
      for (const [writer, id] of last) {
        const n = Number(id.split('.')[1]);
        const next = `${writer}.${String(n + 1).padStart(6, '0')}`;
        const kept = (await dueIds(storage, T0 + 1_000_000, 100_000)).filter((m) =>
          m.startsWith(`${writer}.`),
        );
        expect([[id], [next]]).toContainEqual(kept);
        const message = await committed(storage, kept[0]!);
        expect(message?.value).toEqual(new Uint8Array(300).map((_, i) => i % 256));
        expect(message?.keysIfUndelivered).toEqual([`dead/${kept[0]}`]);
      }
      expect(last.size).toBe(4);
      const stats = await storage.queueStats('q', T0 + 1_000_000);
      expect(stats.ready).toBe(4);
    } finally {
      await storage.close();
    }
  });
});
