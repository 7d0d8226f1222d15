import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createEngine, MemoryStorage } from '@kv/engine';
import { createClient } from '@kv/node';
import { describeConformance } from '../src/index.js';

// The engine on MemoryStorage behind a real Node HTTP server on loopback, driven by the Node client.
describeConformance('engine on MemoryStorage over HTTP (@hono/node-server + @kv/node)', async () => {
  const engine = createEngine({ storage: new MemoryStorage() });
  engine.startSweeper(250);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: engine.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    createClient: () => createClient({ url, env: {} }),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
});
