/**
 * The client suite over real HTTP: the engine behind a minimal `node:http` adapter on 127.0.0.1, the
 * client on Node's global `fetch`. apps/server/test/client.test.ts runs the same suite against the real
 * server process.
 */

import { afterAll, beforeAll } from 'vitest';
import { inProcessEngine, serveOverHttp } from './helpers.js';
import { describeClientSuite } from './suite.js';

let served: { url: string; close: () => Promise<void> } | undefined;

beforeAll(async () => {
  served = await serveOverHttp(inProcessEngine().engine);
});
afterAll(async () => {
  await served?.close();
});

describeClientSuite('engine over node:http on 127.0.0.1 (global fetch)', () => {
  if (served === undefined) throw new Error('server not started');
  return { url: served.url };
});
