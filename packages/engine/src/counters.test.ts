/**
 * The numeric mutation rules of `applyCommit` (`sum`, `min`, `max`; Deno KV's semantics on integers),
 * on the memory storage: results, what a write keeps, refused values, and that a refused op writes
 * nothing in either mode.
 */
import { ValidationError } from '@kv/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { commit, parseStoredInteger } from './commit.js';
import { MemoryStorage } from './memory-storage.js';
import type { Mutation, NumericOp } from './storage.js';
import { putOp, storeConfig, T0 } from './testing/helpers.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const JSON_TYPE = { contentType: 'application/json' };

function num(
  type: NumericOp['type'],
  key: string,
  operand: number,
  fields: Partial<NumericOp> = {},
): NumericOp {
  return { type, key, operand, defaultExpiresAt: null, newId: `id-${key}`, ...fields };
}

let storage: MemoryStorage;
beforeEach(async () => {
  storage = new MemoryStorage();
  await storage.createStore('s', storeConfig(), T0, 'secret');
});

async function run(mutations: Mutation[], mode: 'each' | 'atomic' = 'each', nowMs = T0) {
  return commit(storage, 's', { mode, nowMs, mutations });
}

async function storedText(key: string, nowMs = T0): Promise<string | undefined> {
  const entry = await storage.get('s', key, nowMs);
  return entry === undefined ? undefined : text(entry.value);
}

describe('numeric mutations', () => {
  it('sum with a floor raises the value to the floor first; a missing key counts as the floor', async () => {
    const numberOf = async (op: NumericOp): Promise<number | undefined> => {
      const result = await run([op]);
      return result.ok ? result.results[0]?.number : undefined;
    };
    expect(await numberOf(num('sum', 'tat', 100, { floor: 1_000 }))).toBe(1_100);
    // Above the floor: a plain sum.
    expect(await numberOf(num('sum', 'tat', 100, { floor: 1_050 }))).toBe(1_200);
    // Below it: raised, then added (max then sum, one write).
    expect(await numberOf(num('sum', 'tat', 100, { floor: 5_000 }))).toBe(5_100);
    expect(await storedText('tat')).toBe('5100');
    // A negative delta after the floor (the token bucket's refund) lands below it.
    expect(await numberOf(num('sum', 'tat', -100))).toBe(5_000);
  });

  it('sum creates a missing key at the operand as application/json, then adds to it', async () => {
    const first = await run([num('sum', 'c', 5)]);
    expect(first).toMatchObject({
      ok: true,
      results: [{ status: 'applied', created: true, number: 5, id: 'id-c' }],
    });
    const entry = await storage.get('s', 'c', T0);
    expect(entry?.contentType).toBe('application/json');
    expect(text(entry?.value ?? new Uint8Array())).toBe('5');
    const second = await run([num('sum', 'c', -7)], 'each', T0 + 1);
    expect(second).toMatchObject({
      ok: true,
      results: [{ status: 'applied', created: false, number: -2, id: 'id-c' }],
    });
    expect(await storedText('c')).toBe('-2');
  });

  it('min and max on a missing key write the operand, on an integer the smaller or larger', async () => {
    await run([num('min', 'lo', 10), num('max', 'hi', 10)]);
    const result = await run([
      num('min', 'lo', 3),
      num('min', 'lo', 7),
      num('max', 'hi', 4),
      num('max', 'hi', 12),
    ]);
    expect(result.ok && result.results.map((r) => r.number)).toEqual([3, 3, 10, 12]);
    expect(await storedText('lo')).toBe('3');
    expect(await storedText('hi')).toBe('12');
  });

  it('reads the writes made before it in the same commit, a put included, and takes a revision each', async () => {
    const result = await run([putOp('c', '40', JSON_TYPE), num('sum', 'c', 1), num('sum', 'c', 1)], 'atomic');
    expect(result).toMatchObject({ ok: true, revision: 3 });
    expect(result.ok && result.results.map((r) => [r.revision, r.number])).toEqual([
      [1, undefined],
      [2, 41],
      [3, 42],
    ]);
    expect(await storedText('c')).toBe('42');
  });

  it('keeps id, createdAt, metadata, scopes and expiry unless the op sets them', async () => {
    await run([
      putOp('c', '1', {
        ...JSON_TYPE,
        newId: 'orig',
        metadata: { a: 1 },
        scopes: ['x'],
        expiresAt: T0 + 10_000,
      }),
    ]);
    await run([num('sum', 'c', 1, { newId: 'unused' })], 'each', T0 + 5);
    let entry = await storage.get('s', 'c', T0 + 5);
    expect(entry).toMatchObject({
      id: 'orig',
      createdAt: T0,
      updatedAt: T0 + 5,
      metadata: { a: 1 },
      scopes: ['x'],
      expiresAt: T0 + 10_000,
    });
    await run(
      [num('sum', 'c', 1, { metadata: null, scopes: ['z', 'y', 'z'], expiresAt: null })],
      'each',
      T0 + 6,
    );
    entry = await storage.get('s', 'c', T0 + 6);
    expect(entry).toMatchObject({ id: 'orig', metadata: null, scopes: ['y', 'z'], expiresAt: null });
    expect(text(entry?.value ?? new Uint8Array())).toBe('3');
  });

  it('gives a new key defaultExpiresAt unless the op sets an expiry', async () => {
    await run([
      num('sum', 'a', 1, { defaultExpiresAt: T0 + 100 }),
      num('sum', 'b', 1, { defaultExpiresAt: T0 + 100, expiresAt: T0 + 50 }),
    ]);
    expect((await storage.get('s', 'a', T0))?.expiresAt).toBe(T0 + 100);
    expect((await storage.get('s', 'b', T0))?.expiresAt).toBe(T0 + 50);
  });

  it('counts an expired entry as missing: it restarts at the operand with a new id', async () => {
    await run([putOp('c', '99', { ...JSON_TYPE, newId: 'old', expiresAt: T0 + 10 })]);
    const result = await run([num('sum', 'c', 2, { newId: 'new' })], 'each', T0 + 20);
    expect(result).toMatchObject({ ok: true, results: [{ created: true, number: 2, id: 'new' }] });
    expect(await storedText('c', T0 + 20)).toBe('2');
    // The expire was recorded first, as the sweep would (revision 2), then the sum (3).
    expect(result.ok && result.revision).toBe(3);
  });

  it('refuses an integer stored with a content type other than JSON (a string "5" is not a number)', async () => {
    await run([
      putOp('c', '5', { contentType: 'text/plain' }),
      putOp('j', '5', { contentType: 'application/json; charset=utf-8' }),
    ]);
    await expect(run([num('sum', 'c', 1)])).rejects.toBeInstanceOf(ValidationError);
    expect(await storedText('c')).toBe('5');
    expect((await run([num('sum', 'j', 1)])).ok).toBe(true);
    expect(await storedText('j')).toBe('6');
  });

  it.each([
    ['text', 'abc'],
    ['a fraction', '1.5'],
    ['a JSON string', '"5"'],
    ['an unsafe integer', '9007199254740993'],
    ['an empty value', ''],
    ['a long value', ` ${'1'.padStart(40, ' ')}`],
  ])('refuses a stored value that is %s with a ValidationError and writes nothing', async (_, stored) => {
    await run([putOp('c', stored, JSON_TYPE), putOp('other', 'x')]);
    const before = await storage.getStore('s');
    for (const mode of ['each', 'atomic'] as const) {
      const error = await run([putOp('other', 'y'), num('sum', 'c', 1)], mode).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).details).toMatchObject({ key: 'c', reason: 'not_integer' });
    }
    expect(await storedText('c')).toBe(stored);
    expect(await storedText('other')).toBe('x');
    expect((await storage.getStore('s'))?.revision).toBe(before?.revision);
  });

  it('refuses a sum outside the safe integer range and writes nothing; min and max never leave it', async () => {
    await run([num('sum', 'c', Number.MAX_SAFE_INTEGER)]);
    const error = await run([num('sum', 'c', 1)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toMatchObject({ reason: 'out_of_range' });
    expect(await storedText('c')).toBe(String(Number.MAX_SAFE_INTEGER));
    await run([num('sum', 'n', -Number.MAX_SAFE_INTEGER)]);
    await expect(run([num('sum', 'n', -1)])).rejects.toBeInstanceOf(ValidationError);
    expect((await run([num('max', 'n', 0)])).ok).toBe(true);
    expect(await storedText('n')).toBe('0');
  });

  it('parseStoredInteger accepts only the JSON text of a safe integer', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseStoredInteger(enc(' -12 '))).toBe(-12);
    expect(parseStoredInteger(enc('1e3'))).toBe(1000);
    expect(parseStoredInteger(enc('true'))).toBeUndefined();
    expect(parseStoredInteger(enc('null'))).toBeUndefined();
    expect(parseStoredInteger(new Uint8Array([0xff]))).toBeUndefined();
  });
});
