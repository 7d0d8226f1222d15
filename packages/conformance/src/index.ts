/**
 * `@kv/conformance` (private): the kv behaviour suite. One function, {@link describeConformance}, registers
 * the same vitest tests against any implementation given a client factory: the msw mock, the engine over
 * HTTP, the server process on every storage, and the browser client in Chromium. A behaviour change in the
 * engine is caught everywhere at once (STYLE.md: "one contract suite, many implementations"; unstorage's
 * `testDriver`). {@link startRetryingWriters} is the write load the restart tests share.
 *
 * @module
 */

export { describeKVNamespace, type KVNamespaceTarget } from './kv-namespace.js';
export type { ConformanceAuth, ConformanceOptions, ConformanceTarget } from './suite.js';
export { describeConformance } from './suite.js';
export { default as workersModule, type WorkerEnv } from './worker-module.js';
export {
  type AckedPut,
  type RetryingWriters,
  type RetryingWritersOptions,
  startRetryingWriters,
} from './writers.js';
