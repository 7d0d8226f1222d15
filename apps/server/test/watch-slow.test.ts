/**
 * Watch back-pressure against the real server process (issue 8; docs/protocol.md "Watch"): a watcher
 * that stops reading does not make the server buffer the store's writes for it, and once it falls
 * below the bounded change log it gets a `revision_compacted` error event (the raw stream) or a
 * `RevisionCompactedError` (the `@kv/node` client) that tells it to list the store again.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { bytesToBase64, RevisionCompactedError } from '@kv/core/protocol';
import { createClient } from '@kv/node';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, authHeaders, call, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-watch-slow-');
afterAll(() => tmp.remove());

/** VmRSS of a process, in MB. */
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

const CHANGE_LOG_LIMIT = 1000;
const BULKS = 80;
const PER_BULK = 250;
const VALUE_BYTES = 2000;

describe('a watcher that stops reading', () => {
  it('costs the server bounded memory and is told it fell behind (revision_compacted), with no gap before it', {
    timeout: 120_000,
  }, async () => {
    const server = await startServer([
      '--data',
      join(tmp.dir, 'slow.sqlite'),
      '--change-log-limit',
      String(CHANGE_LOG_LIMIT),
    ]);
    const pid = server.proc.pid!;
    try {
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'slow' } })).status).toBe(
        201,
      );
      const value = bytesToBase64(new Uint8Array(VALUE_BYTES).fill(120));
      const writeAll = async (round: string): Promise<void> => {
        for (let b = 0; b < BULKS; b++) {
          const items = Array.from({ length: PER_BULK }, (_, i) => ({ key: `${round}.${b}.${i}`, value }));
          const res = await call(`${server.url}/v1/stores/slow/bulk/set`, {
            method: 'POST',
            json: { items },
          });
          expect(res.status).toBe(200);
        }
      };
      // The same load once with no watcher, so the server's heap reaches its working size first (a bulk
      // call's garbage); the growth measured below is then what the paused watcher costs.
      await writeAll('warm');

      // A raw stream that reads up to `ready`, then stops reading its socket.
      const { hostname, port } = new URL(server.url);
      let text = '';
      let paused: () => void = () => {};
      let resume: () => void = () => {};
      const ended = new Promise<void>((resolveEnded, reject) => {
        const req = request(
          {
            host: hostname,
            port,
            path: '/v1/stores/slow/watch?updatesOnly=true',
            agent: false,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/event-stream' },
          },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
              if (text.includes('event: ready')) paused();
            });
            res.on('end', () => resolveEnded());
            res.on('error', reject);
            paused = () => {
              res.pause();
              paused = () => {};
            };
            resume = () => res.resume();
          },
        );
        req.on('error', reject);
        req.end();
      });
      await expect.poll(() => text.includes('event: ready')).toBe(true);

      const before = rssMb(pid);
      await writeAll('paused');
      const after = rssMb(pid);
      const writtenMb = (BULKS * PER_BULK * VALUE_BYTES) / 1024 / 1024;
      process.stdout.write(
        `slow watcher: ${writtenMb.toFixed(0)} MB written while it was paused; server RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB\n`,
      );
      // The events of those writes (base64, 1.33x) would be ~50 MB if the server queued them for the
      // paused watcher; it only holds what the socket took plus one batch of the change log.
      expect(after - before).toBeLessThan(writtenMb);

      resume();
      await ended;
      const blocks = text.split('\n\n').filter((b) => b.trim() !== '');
      const errors = blocks.filter((b) => /^event: error$/m.test(b));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('"code":"revision_compacted"');
      // The last block is the error; every put before it is contiguous from revision 2 (store created at 0;
      // revision 1 is the first put) with no gap and nothing twice.
      expect(blocks.at(-1)).toBe(errors[0]);
      const ids = blocks
        .filter((b) => /^event: put$/m.test(b))
        .map((b) => Number(/^id: (\d+)$/m.exec(b)?.[1]));
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThan(BULKS * PER_BULK);
      expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    } finally {
      await server.stop();
    }
  });

  it('a client resuming below the change log floor gets RevisionCompactedError (410), not a silent skip', async () => {
    const server = await startServer([
      '--data',
      join(tmp.dir, 'floor.sqlite'),
      '--change-log-limit',
      String(CHANGE_LOG_LIMIT),
    ]);
    try {
      const client = createClient({ url: server.url, token: ADMIN_TOKEN, retry: false });
      await client.stores.create('floor');
      const store = client.store('floor');
      await store.setMany(
        Array.from({ length: 3 * CHANGE_LOG_LIMIT }, (_, i) => ({ key: `k${i}`, value: i })),
      );

      const raw = await call(`${server.url}/v1/stores/floor/watch?fromRevision=1`, {
        headers: authHeaders(),
      });
      expect(raw.status).toBe(410);
      expect(raw.body).toMatchObject({ error: { code: 'revision_compacted' } });

      const errors: unknown[] = [];
      const watch = store.watch({ fromRevision: 1 }, { onError: (e) => errors.push(e) });
      const caught = await (async () => {
        try {
          for await (const _ of watch) {
            // no event may arrive before the error
            return 'an event';
          }
          return 'ended without error';
        } catch (error) {
          return error;
        }
      })();
      expect(caught).toBeInstanceOf(RevisionCompactedError);
      expect(caught).toMatchObject({ status: 410, code: 'revision_compacted' });
      expect(errors).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });
});
