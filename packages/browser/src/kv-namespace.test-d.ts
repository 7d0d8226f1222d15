/**
 * `toKVNamespace` is part of `@kv/browser`'s API and takes its store handles (checked by the package's
 * `typecheck`, which compiles `src`).
 */
import { type BrowserStoreHandle, type KVNamespace, toKVNamespace } from './index.js';

declare const store: BrowserStoreHandle;

/** A browser store handle wrapped as a Workers KV binding. */
export const binding: KVNamespace = toKVNamespace(store);
