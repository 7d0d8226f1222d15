/**
 * The Workers KV binding suite (`describeKVNamespace` of `@kv/conformance`) against the msw mock:
 * `toKVNamespace` over a `@kv/node` store handle whose requests msw answers with the real engine.
 */
import { describeKVNamespace } from '@kv/conformance';
import { createClient } from '@kv/node';
import { setupServer } from 'msw/node';
import { createKvMock } from '../src/index.js';

const BASE = 'http://kv.kv-namespace.test';
const TOKEN = 'kv-namespace-admin-token';

describeKVNamespace('mock (msw + @kv/node)', async () => {
  const mock = createKvMock({ baseUrl: BASE, token: TOKEN });
  const server = setupServer(...mock.handlers);
  server.listen({ onUnhandledRequest: 'error' });
  return {
    createClient: () => createClient({ url: BASE, token: TOKEN, env: {} }),
    close: () => server.close(),
  };
});
