/**
 * `@kv/core`: the platform-neutral heart of kv. Types, the error hierarchy, value encoding, key and
 * pattern rules, the wire protocol and the shared HTTP client that `@kv/node` and `@kv/browser` wrap.
 * It imports no Node built-ins and no DOM-only APIs, and performs no I/O of its own (the client uses an
 * injected or global `fetch`).
 *
 * @module
 */

export * from './capabilities.js';
export * from './client/index.js';
export * from './encoding.js';
export * from './errors.js';
export * from './jsonl.js';
export * from './limits.js';
export * from './patterns.js';
export * from './protocol.js';
export * from './sse.js';
export * from './types.js';
export * from './validation.js';
export * from './watcher.js';
