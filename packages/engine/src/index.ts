/**
 * `@kv/engine`: the kv protocol as one Web-standard fetch handler (`createEngine`) over the `Storage`
 * interface, with `MemoryStorage`, the zod schemas behind `/openapi.json`, and the watch stream.
 *
 * @module
 */
export * from './engine.js';
export { MemoryStorage, type MemoryStorageOptions } from './memory-storage.js';
export * as schemas from './schemas.js';
export * from './storage.js';
