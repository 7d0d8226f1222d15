import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createEngine, hashToken, MemoryStorage, MemoryTokenStore } from '@kv/engine';
import { createClient } from '@kv/node';
import { describeConformance, losingResponsesOnClient } from '../src/index.js';
import { nodeClientCases } from '../src/node-client.js';

const ADMIN_TOKEN = 'kv_conformance-engine-admin';

// The engine on MemoryStorage behind a real Node HTTP server on loopback, driven by the Node client, with
// access control on (a MemoryTokenStore holding one admin token), so the access-control cases run too, and
// the Node client's own cases (`nodeClientCases`) on its real `fetch` (undici) path.
describeConformance(
  'engine on MemoryStorage over HTTP (@hono/node-server + @kv/node)',
  async () => {
    const tokens = new MemoryTokenStore();
    await tokens.insert({
      id: 'tok_conformance_admin',
      hash: await hashToken(ADMIN_TOKEN),
      capabilities: ['*'],
      description: 'conformance admin token',
      createdAt: Date.now(),
      expiresAt: null,
      revokedAt: null,
    });
    const engine = createEngine({ storage: new MemoryStorage(), auth: { tokens } });
    engine.startSweeper(250);
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: engine.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    return {
      createClient: () => createClient({ url, token: ADMIN_TOKEN, env: {} }),
      auth: {
        adminToken: ADMIN_TOKEN,
        clientWithToken: (token) => createClient({ url, token, env: {} }),
      },
      losingResponses: (store, lossRate) =>
        losingResponsesOnClient(store, lossRate, (fetch) =>
          createClient({
            url,
            token: ADMIN_TOKEN,
            env: {},
            fetch,
            retry: { limit: 10, backoffMs: 1, maxBackoffMs: 10 },
          }),
        ),
      async close() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await engine.close();
      },
    };
  },
  { auth: true, additionalTests: nodeClientCases },
);
