/**
 * `@kv/engine/testing`: the shared storage suite that every `Storage` implementation runs
 * (MemoryStorage here, SqliteStorage and PostgreSQL in apps/server), plus the naive reference model and
 * seeded random source its property test uses. Imports `vitest` (a peer dependency of `@kv/engine`).
 *
 * @example
 * import { describeStorageSuite } from '@kv/engine/testing';
 * describeStorageSuite('SqliteStorage', (options) => SqliteStorage.open({ path: ':memory:', ...options }));
 *
 * @module
 */
export { compareUtf8, type ModelStats, StorageModel } from './model.js';
export { createPrng, type Prng } from './prng.js';
export {
  describeStorageSuite,
  type StorageFactory,
  type StorageFactoryOptions,
  type StorageSuiteOptions,
} from './suite.js';
