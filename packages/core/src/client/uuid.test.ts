import { describe, expect, it } from 'vitest';
import { randomUuid, type UuidCrypto } from './uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Web Crypto as a browser exposes it outside a secure context: `getRandomValues` only. */
function insecureContext(fill: (bytes: Uint8Array) => void): UuidCrypto & { calls: number } {
  const source = {
    calls: 0,
    getRandomValues<T extends Uint8Array>(array: T): T {
      source.calls++;
      fill(array);
      return array;
    },
  };
  return source;
}

describe('randomUuid', () => {
  it('uses crypto.randomUUID when the runtime has it', () => {
    const source = {
      randomUUID: () => 'from-randomUUID',
      getRandomValues: <T extends Uint8Array>(a: T) => a,
    };
    expect(randomUuid(source)).toBe('from-randomUUID');
    expect(randomUuid()).toMatch(V4);
  });

  it('builds an RFC 9562 version 4 UUID from getRandomValues without randomUUID', () => {
    const ones = insecureContext((bytes) => bytes.fill(0xff));
    expect(randomUuid(ones)).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    const zeros = insecureContext((bytes) => bytes.fill(0));
    expect(randomUuid(zeros)).toBe('00000000-0000-4000-8000-000000000000');
    const counting = insecureContext((bytes) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = i * 17;
    });
    expect(randomUuid(counting)).toBe('00112233-4455-4677-8899-aabbccddeeff');
    expect(counting.calls).toBe(1);
  });

  it('gives distinct, well-formed UUIDs from real random bytes', () => {
    const real = insecureContext((bytes) => globalThis.crypto.getRandomValues(bytes));
    const ids = Array.from({ length: 1000 }, () => randomUuid(real));
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(1000);
  });

  it('throws when there is no Web Crypto at all', () => {
    expect(() => randomUuid({} as UuidCrypto)).toThrow(/getRandomValues/);
  });
});
