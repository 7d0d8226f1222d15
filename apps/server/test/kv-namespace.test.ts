/**
 * The Workers KV binding suite (`describeKVNamespace` of `@kv/conformance`) against the real server
 * process: the built `dist/main.js` on a temporary SQLite file, `toKVNamespace` over a `@kv/node` store
 * handle with the admin token, over real HTTP on loopback.
 */
import { join } from 'node:path';
import { describeKVNamespace } from '@kv/conformance';
import { createClient } from '@kv/node';
import { afterAll } from 'vitest';
import { ADMIN_TOKEN, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-kvnamespace-');
afterAll(() => tmp.remove());

describeKVNamespace('kv-server process (SQLite file)', async () => {
  const server = await startServer(['--data', join(tmp.dir, 'kv-namespace.sqlite')]);
  return {
    createClient: () => createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }),
    async close() {
      const exit = await server.stop();
      if (exit.code !== 0)
        throw new Error(`kv-server exited with ${exit.code ?? exit.signal}: ${server.stderr()}`);
    },
  };
});
