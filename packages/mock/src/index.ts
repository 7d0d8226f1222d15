/**
 * `@kv/mock`: msw request handlers that run the real kv engine (`@kv/engine`) on `MemoryStorage`, so code
 * that uses `@kv/node` or `@kv/browser` can be tested with no server running. It is not a second
 * implementation: every request is answered by `createEngine(...).fetch`, the same handler the server runs.
 *
 * @module
 */

export type { FaultRule, KvMock, KvMockOptions, SeedData, SeedEntry } from './mock.js';
export { createKvMock } from './mock.js';
