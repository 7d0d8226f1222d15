/**
 * `@kv/conformance` (private): the kv behaviour suite. One function, {@link describeConformance}, registers
 * the same vitest tests against any implementation given a client factory: the msw mock, the engine over
 * HTTP, the server process on every storage, and the browser client in Chromium. A behaviour change in the
 * engine is caught everywhere at once (one contract suite, many implementations; unstorage's
 * `testDriver`); a target adds the cases only its client can run through `additionalTests` (the Node
 * client's are `nodeClientCases` of `@kv/conformance/node`). {@link startRetryingWriters} is the write
 * load the restart tests share.
 *
 * @module
 */

export { losingResponsesOnClient } from './counters.js';
export { describeKVNamespace, type KVNamespaceTarget } from './kv-namespace.js';
export type {
  ConformanceAuth,
  ConformanceContext,
  ConformanceOptions,
  ConformanceTarget,
  LosingResponses,
} from './suite.js';
export { describeConformance, expectKvError, uniqueStoreName } from './suite.js';
export { default as workersModule, type WorkerEnv } from './worker-module.js';
export {
  type AckedPut,
  type RetryingWriters,
  type RetryingWritersOptions,
  startRetryingWriters,
} from './writers.js';
