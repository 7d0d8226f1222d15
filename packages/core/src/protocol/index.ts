/**
 * `@kv/core/protocol`: the executable form of docs/protocol.md shared by the engine, the mock and the
 * runtime packages' plumbing: the route table and its matcher, header names and codecs, the wire types,
 * the capability grammar, key patterns, value encodings, JSON Lines, SSE and the watch loop. It is all of
 * `@kv/core` (the user API included), so a package that needs machinery imports from here alone; user
 * code needs none of it beyond the root export.
 *
 * @module
 */
export * from '../capabilities.js';
export * from '../client/index.js';
export * from '../encoding.js';
export * from '../errors.js';
export * from '../jsonl.js';
export * from '../limits.js';
export * from '../patterns.js';
export * from '../protocol.js';
export * from '../queue.js';
export * from '../sse.js';
export * from '../types.js';
export * from '../validation.js';
export * from '../watcher.js';
export * from './compat-routes.js';
export * from './entry-headers.js';
export * from './routes.js';
