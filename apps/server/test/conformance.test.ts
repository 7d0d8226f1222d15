/**
 * The shared behaviour suite (`@kv/conformance`, issue 6) against the real server process: the built
 * `dist/main.js` on a temporary SQLite file, and again with `--storage memory`, driven by the Node client
 * (`@kv/node`) with the admin token, over real HTTP on loopback, access-control cases included (tokens,
 * 401/403, scoped capabilities, signed URLs), and the Node client's own cases (`nodeClientCases`:
 * Buffer and Node-stream values, a 5 MiB streamed upload).
 */
import { join } from 'node:path';
import { describeConformance, losingResponsesOnClient } from '@kv/conformance';
import { nodeClientCases } from '@kv/conformance/node';
import { createClient } from '@kv/node';
import { afterAll } from 'vitest';
import { ADMIN_TOKEN, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-conformance-');
afterAll(() => tmp.remove());

/** A fast sweeper, so the TTL cases see their `expire` writes quickly. */
const COMMON = ['--sweep-interval-ms', '100'];

for (const storage of ['sqlite', 'memory'] as const) {
  describeConformance(
    `kv-server process (${storage === 'sqlite' ? 'SQLite file' : '--storage memory'})`,
    async () => {
      const server = await startServer(
        storage === 'sqlite'
          ? ['--data', join(tmp.dir, 'conformance.sqlite'), ...COMMON]
          : ['--storage', 'memory', ...COMMON],
      );
      return {
        createClient: () => createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }),
        auth: {
          adminToken: ADMIN_TOKEN,
          clientWithToken: (token: string) => createClient({ url: server.url, token, env: {} }),
        },
        losingResponses: (store, lossRate) =>
          losingResponsesOnClient(store, lossRate, (fetch) =>
            createClient({
              url: server.url,
              token: ADMIN_TOKEN,
              env: {},
              fetch,
              retry: { limit: 10, backoffMs: 1, maxBackoffMs: 10 },
            }),
          ),
        async close() {
          const exit = await server.stop();
          if (exit.code !== 0)
            throw new Error(`kv-server exited with ${exit.code ?? exit.signal}: ${server.stderr()}`);
        },
      };
    },
    { auth: true, additionalTests: nodeClientCases },
  );
}
