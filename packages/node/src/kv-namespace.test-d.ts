/** `toKVNamespace` is part of `@kv/node`'s API and takes its store handles. */
import { describe, expectTypeOf, it } from 'vitest';
import { type KVNamespace, type NodeStoreHandle, toKVNamespace } from './index.js';

declare const store: NodeStoreHandle;

describe('toKVNamespace from @kv/node', () => {
  it('wraps a Node store handle', () => {
    expectTypeOf(toKVNamespace(store)).toEqualTypeOf<KVNamespace>();
  });
});
