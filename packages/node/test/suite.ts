/**
 * Helpers the `@kv/node` tests share: unique store names and an assertion on kv errors. The client's
 * behaviour cases are in the conformance suite (`@kv/conformance`, run on every target), and its
 * Node-only cases in `@kv/conformance/node` (`nodeClientCases`), registered by the Node targets
 * (`packages/conformance/test/engine-http.test.ts`, `apps/server/test/conformance.test.ts`).
 */

import { expect } from 'vitest';
import { isKvError, type KvError } from '../src/index.js';

let counter = 0;
/** A store name unique to this run. */
export function uniqueName(label: string): string {
  counter += 1;
  return `n-${label}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Awaits `promise`, expecting a kv error of class `Ctor` (and `code`); returns it. */
export async function expectKvError<E extends KvError>(
  promise: Promise<unknown>,
  Ctor: abstract new (...args: never[]) => E,
  code?: string,
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error(`expected ${Ctor.name}, but the call succeeded`);
  expect(isKvError(caught), `expected a KvError, got ${String(caught)}`).toBe(true);
  expect(caught).toBeInstanceOf(Ctor);
  if (code !== undefined) expect((caught as KvError).code).toBe(code);
  return caught as E;
}
