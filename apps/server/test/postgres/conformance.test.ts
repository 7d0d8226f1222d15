/**
 * The shared behaviour suite (`@kv/conformance`) against a real `kv-server --storage postgres` process
 * (the built `dist/main.js`) on this file's database, driven by the Node client over loopback HTTP,
 * access-control cases included.
 */
import { describeConformance, losingResponsesOnClient } from '@kv/conformance';
import { createClient } from '@kv/node';
import { ADMIN_TOKEN, startServer } from '../helpers.js';
import { useDatabase } from './database.js';

const db = useDatabase();

describeConformance(
  'kv-server process (--storage postgres)',
  async () => {
    const server = await startServer(['--storage', 'postgres', '--sweep-interval-ms', '100'], {
      env: { KV_POSTGRES_URL: db.url() },
    });
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
  { auth: true },
);
