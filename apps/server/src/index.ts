/**
 * `@kv/server`: the kv reference server as a library, for tests and embedding: `SqliteStorage`,
 * `startServer`, the configuration parser, metrics and the backup/export tools. The `kv-server` binary is
 * `main.ts`.
 *
 * @module
 */
export * from './auth.js';
export * from './config.js';
export * from './metrics.js';
export * from './schema.js';
export * from './server.js';
export * from './sqlite-storage.js';
export * from './tools.js';
