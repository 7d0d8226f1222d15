/**
 * Durability: kill -9 the server in the middle of a write load; after a restart on the same file, every
 * write the server acknowledged is there (issue 4, "a restart loses no write that was acknowledged").
 * With WAL and synchronous=NORMAL a committed transaction is in the WAL before the response is sent,
 * so a process crash cannot lose it (power loss is what `--synchronous full` is for).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authHeaders, call, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-crash-');
afterAll(() => tmp.remove());

interface Ack {
  key: string;
  value: string;
  revision: number;
}

describe('crash safety', () => {
  for (const synchronous of ['normal', 'full'] as const) {
    it(`keeps every acknowledged write after SIGKILL mid-load (synchronous=${synchronous})`, async () => {
      const data = join(tmp.dir, `crash-${synchronous}.sqlite`);
      const server = await startServer(['--data', data, '--synchronous', synchronous]);
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'load' } })).status).toBe(
        201,
      );

      const acked: Ack[] = [];
      const bulkAcked: Ack[] = [];
      let stop = false;
      let failures = 0;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const key = `w${w}.k${i}`;
          const value = `value-${w}-${i}-${'x'.repeat(i % 50)}`;
          try {
            if (i % 10 === 9) {
              // Every tenth write is a bulk set of five keys.
              const items = Array.from({ length: 5 }, (_, j) => ({
                key: `${key}.b${j}`,
                value: Buffer.from(`${value}.b${j}`).toString('base64'),
                contentType: 'text/plain',
              }));
              const res = await fetch(`${server.url}/v1/stores/load/bulk/set`, {
                method: 'POST',
                headers: authHeaders({ 'content-type': 'application/json' }),
                body: JSON.stringify({ items }),
              });
              if (res.status !== 200) throw new Error(`status ${res.status}`);
              const body = (await res.json()) as {
                results: Array<{ key: string; ok: boolean; revision: number }>;
              };
              for (const [j, r] of body.results.entries()) {
                if (r.ok) bulkAcked.push({ key: r.key, value: `${value}.b${j}`, revision: r.revision });
              }
            } else {
              const res = await fetch(`${server.url}/v1/stores/load/entries/${key}`, {
                method: 'PUT',
                headers: authHeaders({ 'content-type': 'text/plain' }),
                body: value,
              });
              if (res.status !== 201) throw new Error(`status ${res.status}`);
              const body = (await res.json()) as { revision: number };
              acked.push({ key, value, revision: body.revision });
            }
          } catch {
            // The connection died with the server: this write was not acknowledged.
            failures++;
            return;
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      // Let the load build up, then kill the server while writers are mid-request.
      await expect
        .poll(() => acked.length + bulkAcked.length, { timeout: 30_000, interval: 20 })
        .toBeGreaterThan(400);
      server.proc.kill('SIGKILL');
      const exit = await server.exited;
      stop = true;
      await Promise.all(writers);
      expect(exit.signal).toBe('SIGKILL');
      expect(failures).toBeGreaterThan(0); // writers really were cut off mid-load

      const restarted = await startServer(['--data', data]);
      try {
        const all = [...acked, ...bulkAcked];
        // Check with bulk gets of up to 1000 keys.
        for (let i = 0; i < all.length; i += 1000) {
          const chunk = all.slice(i, i + 1000);
          const res = await call(`${restarted.url}/v1/stores/load/bulk/get`, {
            method: 'POST',
            json: { keys: chunk.map((a) => a.key), values: true },
          });
          expect(res.status).toBe(200);
          const items = (
            res.body as { items: Array<{ key: string; found: boolean; value?: string; revision?: number }> }
          ).items;
          for (const [j, ack] of chunk.entries()) {
            const item = items[j]!;
            expect(item, ack.key).toMatchObject({ key: ack.key, found: true, revision: ack.revision });
            expect(Buffer.from(item.value ?? '', 'base64').toString(), ack.key).toBe(ack.value);
          }
        }
        const storeInfo = (await call(`${restarted.url}/v1/stores/load`)).body as {
          revision: number;
          keyCount: number;
        };
        expect(storeInfo.revision).toBeGreaterThanOrEqual(Math.max(...all.map((a) => a.revision)));
        expect(storeInfo.keyCount).toBeGreaterThanOrEqual(all.length);
      } finally {
        await restarted.stop();
      }
    });
  }
});
