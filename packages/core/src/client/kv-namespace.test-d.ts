/**
 * Type tests of `toKVNamespace`: the Workers overloads and the sources it takes. That the binding is
 * assignable to the `KVNamespace` of `@cloudflare/workers-types` is checked where a Worker is compiled:
 * `test-d/workers` (Workers global types, no `@types/node`), run by this package's `typecheck` script.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { type KVNamespace, type KVNamespaceSource, type StoreHandle, toKVNamespace } from '../index.js';

declare const store: StoreHandle;

describe('toKVNamespace', () => {
  it('keeps the Workers overloads', () => {
    const ns: KVNamespace = toKVNamespace(store);
    expectTypeOf(ns.get('k')).resolves.toEqualTypeOf<string | null>();
    expectTypeOf(ns.get('k', 'text')).resolves.toEqualTypeOf<string | null>();
    expectTypeOf(ns.get<{ a: number }>('k', 'json')).resolves.toEqualTypeOf<{ a: number } | null>();
    expectTypeOf(
      ns.get('k', { type: 'arrayBuffer', cacheTtl: 60 }),
    ).resolves.toEqualTypeOf<ArrayBuffer | null>();
    expectTypeOf(ns.get('k', 'stream')).resolves.toEqualTypeOf<ReadableStream | null>();
    expectTypeOf(ns.get(['a', 'b'])).resolves.toEqualTypeOf<Map<string, string | null>>();
    expectTypeOf(ns.get<number>(['a', 'b'], 'json')).resolves.toEqualTypeOf<Map<string, number | null>>();
    expectTypeOf(ns.getWithMetadata<{ v: number }>('k')).resolves.toEqualTypeOf<{
      value: string | null;
      metadata: { v: number } | null;
      cacheStatus: string | null;
    }>();
    expectTypeOf(ns.list()).resolves.toHaveProperty('list_complete');
    expectTypeOf(ns.put)
      .parameter(1)
      .toEqualTypeOf<string | ArrayBuffer | ArrayBufferView | ReadableStream>();
    expectTypeOf(ns.delete('k')).resolves.toEqualTypeOf<void>();
  });

  it('takes a core store handle', () => {
    expectTypeOf<StoreHandle>().toExtend<KVNamespaceSource>();
  });
});
