/**
 * `@kv/node`: the kv client for Node services. `createClient` reads `KV_URL`, `KV_TOKEN` and
 * `KV_TOKEN_FILE`, wraps the shared HTTP client of `@kv/core` and adds `Buffer`/`Readable` support. The
 * types, error classes and helpers of `@kv/core` are re-exported, so one import serves a whole service
 * and a `KvError` caught here is the same class the engine throws. The `kv` command line is `./cli.js`.
 *
 * @module
 */

export * from '@kv/core';
export {
  type ClientOptions,
  createClient,
  type NodeKvClient,
  type NodeSetValue,
  type NodeStoreHandle,
  resolveClientOptions,
} from './client.js';
