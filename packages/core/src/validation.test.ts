import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import {
  clampEpochMs,
  compareKeys,
  expiresAtAfterTtl,
  isForbiddenCodeUnit,
  isValidKey,
  storedExpiresAtMs,
  toEpochMs,
  utf8ByteLength,
  validateExpiresAt,
  validateKey,
  validateKeyPrefix,
  validateMetadata,
  validateScope,
  validateScopes,
  validateStoreConfig,
  validateStoreName,
  validateTtlMs,
} from './validation.js';

function details(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('validation_error');
    expect((error as ValidationError).status).toBe(400);
    return (error as ValidationError).details ?? {};
  }
  throw new Error('expected a ValidationError');
}

/** mulberry32: a small seeded PRNG so property loops are reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const encoder = new TextEncoder();

describe('utf8ByteLength', () => {
  it('counts UTF-8 bytes, not UTF-16 units', () => {
    expect(utf8ByteLength('')).toBe(0);
    expect(utf8ByteLength('abc')).toBe(3);
    expect(utf8ByteLength('é')).toBe(2);
    expect(utf8ByteLength('€')).toBe(3);
    expect(utf8ByteLength('😀')).toBe(4);
    expect(utf8ByteLength('\u07ff\u0800\uffff')).toBe(2 + 3 + 3);
  });

  it('counts a lone surrogate as 3 bytes, like TextEncoder (U+FFFD)', () => {
    for (const s of ['\ud800', '\udc00', 'a\ud800b', '\udc00\ud800', '\ud83d\ud83d\ude00', 'x\ud83d']) {
      expect(utf8ByteLength(s), JSON.stringify(s)).toBe(encoder.encode(s).length);
    }
  });

  it('agrees with TextEncoder on random strings, lone surrogates included', () => {
    const rand = prng(7);
    for (let i = 0; i < 500; i++) {
      let s = '';
      const len = Math.floor(rand() * 20);
      for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(rand() * 0x10000));
      expect(utf8ByteLength(s)).toBe(encoder.encode(s).length);
    }
  });
});

describe('validateKey', () => {
  it('accepts exactly 512 bytes built from multibyte characters', () => {
    const emoji = '😀'.repeat(128);
    expect(encoder.encode(emoji).length).toBe(512);
    expect(validateKey(emoji)).toBe(emoji);
    const accents = 'é'.repeat(256);
    expect(encoder.encode(accents).length).toBe(512);
    expect(validateKey(accents)).toBe(accents);
    expect(validateKey('a'.repeat(512))).toBe('a'.repeat(512));
  });

  it('rejects 513 bytes with maxBytes, never truncating', () => {
    for (const key of [
      `${'😀'.repeat(128)}a`,
      `${'é'.repeat(256)}a`,
      'a'.repeat(513),
      `${'€'.repeat(171)}`,
    ]) {
      expect(encoder.encode(key).length).toBe(513);
      expect(details(() => validateKey(key))).toEqual({ field: 'key', reason: 'too_long', maxBytes: 512 });
      expect(isValidKey(key)).toBe(false);
    }
  });

  it('accepts URL-reserved characters', () => {
    for (const key of [
      'a/b',
      'a?b',
      'a#b',
      'a%b',
      'a+b',
      'a&b',
      'a=b',
      'a~b',
      '/?#%+&=~',
      '...',
      '.a',
      'a.',
      'user:123',
    ]) {
      expect(validateKey(key)).toBe(key);
      expect(isValidKey(key)).toBe(true);
    }
  });

  it('accepts non-ASCII printable text', () => {
    for (const key of ['ключ', '鍵', 'clé', '😀', '\u200b', '\ue000', '\uffff'])
      expect(validateKey(key)).toBe(key);
  });

  it('rejects whitespace', () => {
    const spaces = [
      ' ',
      '\t',
      '\n',
      '\r',
      '\v',
      '\f',
      '\u00a0',
      '\u1680',
      '\u2000',
      '\u200a',
      '\u2028',
      '\u2029',
    ];
    for (const ws of [...spaces, '\u202f', '\u205f', '\u3000', '\ufeff', '\u180e']) {
      const d = details(() => validateKey(`a${ws}b`));
      expect(d, JSON.stringify(ws)).toEqual({ field: 'key', reason: 'whitespace' });
      expect(isValidKey(`a${ws}b`)).toBe(false);
    }
  });

  it('rejects every character /\\s/ matches', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c);
      if (/\s/.test(ch)) expect(isValidKey(`k${ch}`), c.toString(16)).toBe(false);
    }
  });

  it('rejects control characters: C0, DEL, C1 (including NEL U+0085)', () => {
    for (const c of [0x00, 0x01, 0x08, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f]) {
      const d = details(() => validateKey(`a${String.fromCharCode(c)}`));
      expect(d).toEqual({ field: 'key', reason: 'control_character' });
    }
    expect(isForbiddenCodeUnit(0xa1)).toBeUndefined();
    expect(isForbiddenCodeUnit(0x7e)).toBeUndefined();
    expect(isForbiddenCodeUnit(0x20)).toBe('whitespace');
  });

  it('rejects the URL dot segments . and .. (they cannot be addressed in a path)', () => {
    expect(details(() => validateKey('.'))).toEqual({ field: 'key', reason: 'dot_segment' });
    expect(details(() => validateKey('..'))).toEqual({ field: 'key', reason: 'dot_segment' });
    expect(isValidKey('..')).toBe(false);
    expect(validateKey('...')).toBe('...');
  });

  it('rejects lone surrogates but accepts pairs', () => {
    for (const key of ['\ud800', 'a\udc00', '\ude00\ud83d', 'x\ud83d']) {
      expect(details(() => validateKey(key)).reason).toBe('lone_surrogate');
    }
    expect(validateKey('\ud83d\ude00')).toBe('😀');
  });

  it('rejects empty and non-string keys', () => {
    expect(details(() => validateKey(''))).toEqual({ field: 'key', reason: 'empty' });
    for (const value of [undefined, null, 1, {}, ['a'], Symbol('k')]) {
      expect(details(() => validateKey(value)).reason).toBe('type');
      expect(isValidKey(value)).toBe(false);
    }
  });
});

describe('validateKeyPrefix', () => {
  it('allows the empty prefix and applies the key rules otherwise', () => {
    expect(validateKeyPrefix('')).toBe('');
    expect(validateKeyPrefix('user.')).toBe('user.');
    expect(details(() => validateKeyPrefix('a b')).reason).toBe('whitespace');
    expect(details(() => validateKeyPrefix('a'.repeat(513)))).toMatchObject({
      field: 'prefix',
      maxBytes: 512,
    });
    expect(details(() => validateKeyPrefix(3)).reason).toBe('type');
  });
});

describe('validateStoreName', () => {
  it('accepts 1-64 of a-z A-Z 0-9 - _', () => {
    for (const name of ['a', 'orders', 'My-Store_2', 'x'.repeat(64), '0', '-', '_']) {
      expect(validateStoreName(name)).toBe(name);
    }
  });
  it('rejects everything else', () => {
    expect(details(() => validateStoreName('')).reason).toBe('empty');
    expect(details(() => validateStoreName('x'.repeat(65)))).toMatchObject({
      reason: 'too_long',
      maxLength: 64,
    });
    for (const name of ['a.b', 'a b', 'a/b', 'é', 'a:b', 'ä', '😀', 'a%2F']) {
      expect(details(() => validateStoreName(name))).toEqual({ field: 'store', reason: 'invalid_character' });
    }
    expect(details(() => validateStoreName(1)).reason).toBe('type');
  });
});

describe('validateScope / validateScopes', () => {
  it('accepts 1-64 characters counted as code points', () => {
    expect(validateScope('billing')).toBe('billing');
    expect(validateScope('😀'.repeat(64))).toBe('😀'.repeat(64));
    expect(details(() => validateScope('😀'.repeat(65)))).toMatchObject({
      reason: 'too_long',
      maxLength: 64,
    });
    expect(details(() => validateScope('a'.repeat(65))).reason).toBe('too_long');
    expect(details(() => validateScope('')).reason).toBe('empty');
    expect(details(() => validateScope('a b')).reason).toBe('whitespace');
    expect(details(() => validateScope('a\u0001')).reason).toBe('control_character');
    expect(details(() => validateScope(5)).reason).toBe('type');
    expect(validateScope('a,b%c')).toBe('a,b%c');
  });

  it('de-duplicates and sorts by UTF-8 byte order', () => {
    expect(validateScopes(['b', 'a', 'b', '😀', '\uffff', 'A'])).toEqual(['A', 'a', 'b', '\uffff', '😀']);
    expect(validateScopes([])).toEqual([]);
  });

  it('allows 16 distinct scopes, rejects 17', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `s${i}`);
    expect(validateScopes([...sixteen, ...sixteen])).toHaveLength(16);
    expect(details(() => validateScopes([...sixteen, 'extra']))).toMatchObject({
      field: 'scopes',
      reason: 'too_many',
      maxItems: 16,
    });
  });

  it('reports the index of a bad scope', () => {
    expect(details(() => validateScopes(['ok', 'not ok']))).toMatchObject({
      field: 'scopes',
      reason: 'whitespace',
      index: 1,
    });
    expect(details(() => validateScopes(['ok', 3])).reason).toBe('type');
    expect(details(() => validateScopes('a')).reason).toBe('type');
  });
});

describe('validateMetadata', () => {
  it('maps null and undefined to null', () => {
    expect(validateMetadata(null)).toBeNull();
    expect(validateMetadata(undefined)).toBeNull();
  });

  it('returns a JSON copy of a plain object', () => {
    const input = { a: 1, b: 'x', c: [true, null, { d: 2.5 }], e: undefined };
    const out = validateMetadata(input);
    expect(out).toEqual({ a: 1, b: 'x', c: [true, null, { d: 2.5 }] });
    expect(out).not.toBe(input);
    expect(validateMetadata(Object.create(null))).toEqual({});
  });

  it('accepts exactly 1024 bytes and rejects 1025 (UTF-8 bytes of the JSON)', () => {
    const base = JSON.stringify({ k: '' }).length; // {"k":""} = 8 bytes
    const ok = { k: 'é'.repeat((1024 - base) / 2) };
    expect(encoder.encode(JSON.stringify(ok)).length).toBe(1024);
    expect(validateMetadata(ok)).toEqual(ok);
    const tooBig = { k: `${'é'.repeat((1024 - base) / 2)}a` };
    expect(details(() => validateMetadata(tooBig))).toEqual({
      field: 'metadata',
      reason: 'too_long',
      maxBytes: 1024,
    });
    // Short in UTF-16 units, long in bytes.
    expect(details(() => validateMetadata({ k: '😀'.repeat(300) })).reason).toBe('too_long');
  });

  it('rejects non-objects and non-JSON values', () => {
    for (const value of [[], 'x', 1, true, new Date(), new Map()]) {
      expect(details(() => validateMetadata(value))).toMatchObject({
        field: 'metadata',
        reason: 'type',
        maxBytes: 1024,
      });
    }
    for (const value of [
      { a: 1n },
      { a: () => 1 },
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: new Date() },
    ]) {
      expect(details(() => validateMetadata(value))).toMatchObject({ field: 'metadata', reason: 'not_json' });
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(details(() => validateMetadata(cyclic)).reason).toBe('not_json');
    expect(details(() => validateMetadata({ a: [1, Symbol('s')] }))).toMatchObject({ path: '$.a[1]' });
  });
});

describe('validateStoreConfig', () => {
  it('fills defaults when not partial', () => {
    expect(validateStoreConfig({}, false)).toEqual({
      history: 1,
      defaultTtlMs: null,
      maxValueBytes: LIMITS.defaultMaxValueBytes,
    });
    expect(validateStoreConfig(undefined, false)).toMatchObject({ history: 1 });
    expect(validateStoreConfig({ history: 5, defaultTtlMs: 1000 }, false)).toEqual({
      history: 5,
      defaultTtlMs: 1000,
      maxValueBytes: 25 * 1024 * 1024,
    });
  });

  it('returns only the given settings when partial', () => {
    expect(validateStoreConfig({}, true)).toEqual({});
    expect(validateStoreConfig({ defaultTtlMs: null }, true)).toEqual({ defaultTtlMs: null });
    expect(validateStoreConfig({ maxValueBytes: 10, history: undefined }, true)).toEqual({
      maxValueBytes: 10,
    });
  });

  it('checks ranges and types', () => {
    expect(validateStoreConfig({ history: 64 }, true)).toEqual({ history: 64 });
    expect(details(() => validateStoreConfig({ history: 65 }, true))).toMatchObject({
      field: 'history',
      reason: 'out_of_range',
    });
    expect(details(() => validateStoreConfig({ history: 0 }, true)).field).toBe('history');
    expect(details(() => validateStoreConfig({ history: 1.5 }, true)).field).toBe('history');
    expect(details(() => validateStoreConfig({ history: '2' }, true))).toMatchObject({
      field: 'history',
      reason: 'type',
    });
    expect(details(() => validateStoreConfig({ defaultTtlMs: 0 }, true)).field).toBe('defaultTtlMs');
    expect(details(() => validateStoreConfig({ defaultTtlMs: -5 }, false)).field).toBe('defaultTtlMs');
    expect(details(() => validateStoreConfig({ maxValueBytes: 0.5 }, true)).field).toBe('maxValueBytes');
    expect(details(() => validateStoreConfig({ maxValueBytes: '1' }, true)).reason).toBe('type');
  });

  it('rejects unknown fields and non-objects', () => {
    expect(details(() => validateStoreConfig({ histroy: 2 }, true))).toEqual({
      field: 'histroy',
      reason: 'unknown_field',
    });
    expect(details(() => validateStoreConfig([], false)).reason).toBe('type');
    expect(details(() => validateStoreConfig('x', false)).field).toBe('config');
  });
});

describe('validateTtlMs', () => {
  it('accepts positive safe integers only', () => {
    expect(validateTtlMs(1)).toBe(1);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(details(() => validateTtlMs(bad))).toEqual({ field: 'ttlMs', reason: 'out_of_range' });
    }
    expect(details(() => validateTtlMs('1000'))).toEqual({ field: 'ttlMs', reason: 'type' });
  });

  it('accepts at most LIMITS.maxTtlMs (100 years), so now + ttl is a valid date', () => {
    expect(LIMITS.maxTtlMs).toBe(3_155_760_000_000);
    expect(validateTtlMs(LIMITS.maxTtlMs)).toBe(LIMITS.maxTtlMs);
    for (const bad of [LIMITS.maxTtlMs + 1, 9_000_000_000_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(details(() => validateTtlMs(bad))).toEqual({
        field: 'ttlMs',
        reason: 'out_of_range',
        max: LIMITS.maxTtlMs,
      });
    }
    expect(details(() => validateTtlMs(9e15, 'defaultTtlMs')).field).toBe('defaultTtlMs');
  });

  it('validateStoreConfig bounds defaultTtlMs the same way', () => {
    expect(validateStoreConfig({ defaultTtlMs: LIMITS.maxTtlMs }, true)).toEqual({
      defaultTtlMs: LIMITS.maxTtlMs,
    });
    for (const partial of [true, false]) {
      expect(details(() => validateStoreConfig({ defaultTtlMs: 9e15 }, partial))).toMatchObject({
        field: 'defaultTtlMs',
        reason: 'out_of_range',
      });
    }
  });
});

describe('expiresAtAfterTtl', () => {
  it('is now + ttl, refused past 9999-12-31T23:59:59.999Z', () => {
    const now = Date.UTC(2030, 0, 1);
    expect(expiresAtAfterTtl(now, 1000)).toBe(now + 1000);
    expect(details(() => expiresAtAfterTtl(now, 9e15))).toMatchObject({
      field: 'ttlMs',
      reason: 'out_of_range',
    });
    // Only a clock near the end of the range gets there with a TTL under the maximum.
    expect(details(() => expiresAtAfterTtl(LIMITS.maxExpiresAtMs, 1))).toMatchObject({
      field: 'ttlMs',
      reason: 'out_of_range',
    });
  });
});

describe('validateExpiresAt', () => {
  it('accepts up to 9999-12-31T23:59:59.999Z and refuses later times however written', () => {
    expect(LIMITS.maxExpiresAtMs).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
    expect(validateExpiresAt('9999-12-31T23:59:59.999Z')).toBe(LIMITS.maxExpiresAtMs);
    expect(validateExpiresAt(LIMITS.maxExpiresAtMs)).toBe(LIMITS.maxExpiresAtMs);
    for (const late of [
      '9999-12-31T23:59:59.999-00:01',
      LIMITS.maxExpiresAtMs + 1,
      8.64e15,
      new Date(8.64e15),
    ]) {
      expect(details(() => validateExpiresAt(late))).toEqual({
        field: 'expiresAt',
        reason: 'out_of_range',
        maxExpiresAt: '9999-12-31T23:59:59.999Z',
      });
    }
    expect(details(() => validateExpiresAt('+275760-09-13T00:00:00.000Z')).reason).toBe('invalid_format');
  });
});

describe('clampEpochMs / storedExpiresAtMs', () => {
  it('bring any stored time into the range a Date formats with a four-digit year', () => {
    const max = LIMITS.maxExpiresAtMs;
    expect(clampEpochMs(1_000.9)).toBe(1_000);
    for (const [stored, shown] of [
      [9e15, max],
      [8.64e15 + 1, max],
      [Number.POSITIVE_INFINITY, max],
      [-9e15, 0],
      [Number.NEGATIVE_INFINITY, 0],
      [Number.NaN, 0],
    ] as const) {
      expect(clampEpochMs(stored)).toBe(shown);
      expect(() => new Date(clampEpochMs(stored)).toISOString()).not.toThrow();
    }
    expect(storedExpiresAtMs(9e15)).toBe(max);
    expect(storedExpiresAtMs(null)).toBeNull();
    expect(storedExpiresAtMs('9000000000000000')).toBeNull();
    expect(storedExpiresAtMs(Number.NaN)).toBeNull();
    expect(storedExpiresAtMs(1234)).toBe(1234);
  });
});

describe('toEpochMs', () => {
  it('converts Dates, numbers and ISO 8601 strings', () => {
    const ms = Date.UTC(2025, 0, 31, 12, 0, 0, 123);
    expect(toEpochMs(new Date(ms))).toBe(ms);
    expect(toEpochMs(ms)).toBe(ms);
    expect(toEpochMs(ms + 0.9)).toBe(ms);
    expect(toEpochMs('2025-01-31T12:00:00.123Z')).toBe(ms);
    expect(toEpochMs('2025-01-31T13:00:00.123+01:00')).toBe(ms);
    expect(toEpochMs('2025-01-31T07:30:00.123-04:30')).toBe(ms);
    expect(toEpochMs('2025-01-31T12:00:00.123456Z')).toBe(ms);
    expect(toEpochMs('2025-01-31')).toBe(Date.UTC(2025, 0, 31));
    expect(toEpochMs('2025-01-31T12:00')).toBe(Date.UTC(2025, 0, 31, 12));
    expect(toEpochMs('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(toEpochMs(new Date(ms).toISOString())).toBe(ms);
  });

  it('reads a time without offset as UTC', () => {
    expect(toEpochMs('2025-06-01T10:00:00')).toBe(Date.UTC(2025, 5, 1, 10));
  });

  it('rejects invalid input', () => {
    for (const bad of [
      '',
      'tomorrow',
      '2025-02-30',
      '2023-02-29',
      '2025-13-01',
      '2025-01-01T24:00:00Z',
      '2025-01-01T12:60Z',
      '1700000000000',
      '2025-01-01T00:00:00+25:00',
    ]) {
      expect(details(() => toEpochMs(bad)).field, bad).toBe('expiresAt');
    }
    expect(details(() => toEpochMs(new Date(Number.NaN))).reason).toBe('out_of_range');
    expect(details(() => toEpochMs(Number.NaN)).reason).toBe('out_of_range');
    expect(details(() => toEpochMs(Number.POSITIVE_INFINITY)).reason).toBe('out_of_range');
    expect(details(() => toEpochMs({} as unknown as string)).reason).toBe('type');
  });
});

describe('compareKeys', () => {
  const byBytes = (a: string, b: string): number => {
    const x = encoder.encode(a);
    const y = encoder.encode(b);
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
    return x.length - y.length;
  };

  it('orders by UTF-8 bytes, unlike UTF-16 order', () => {
    expect(compareKeys('\uffff', '\u{10000}')).toBeLessThan(0);
    expect('\uffff' < '\u{10000}').toBe(false); // JavaScript's own order differs
    expect(compareKeys('\ue000', '😀')).toBeLessThan(0);
    expect(compareKeys('a', 'b')).toBeLessThan(0);
    expect(compareKeys('b', 'a')).toBeGreaterThan(0);
    expect(compareKeys('a', 'ab')).toBeLessThan(0);
    expect(compareKeys('', 'a')).toBeLessThan(0);
    expect(compareKeys('same', 'same')).toBe(0);
    expect(compareKeys('Z', 'a')).toBeLessThan(0);
    expect(compareKeys('z', 'é')).toBeLessThan(0);
  });

  it('agrees with sorting by TextEncoder bytes on random Unicode strings', () => {
    const rand = prng(42);
    const randomChar = (): string => {
      const r = rand();
      if (r < 0.3) return String.fromCharCode(0x21 + Math.floor(rand() * 0x5e)); // ASCII
      if (r < 0.45) return String.fromCharCode(0x80 + Math.floor(rand() * 0x780)); // 2-byte
      if (r < 0.6) return String.fromCharCode(0x800 + Math.floor(rand() * (0xd800 - 0x800))); // 3-byte below surrogates
      if (r < 0.75) return String.fromCharCode(0xe000 + Math.floor(rand() * 0x2000)); // 3-byte above surrogates
      return String.fromCodePoint(0x10000 + Math.floor(rand() * 0x100000)); // 4-byte
    };
    for (let round = 0; round < 50; round++) {
      const strings: string[] = [];
      for (let i = 0; i < 60; i++) {
        let s = '';
        const len = Math.floor(rand() * 6);
        for (let j = 0; j < len; j++) s += randomChar();
        strings.push(s);
        // Shared prefixes make the interesting comparisons happen deeper in the strings.
        if (s.length > 0 && rand() < 0.3) strings.push(s + randomChar());
      }
      expect([...strings].sort(compareKeys)).toEqual([...strings].sort(byBytes));
      for (let i = 0; i + 1 < strings.length; i++) {
        const a = strings[i] as string;
        const b = strings[i + 1] as string;
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(byBytes(a, b)));
      }
    }
  });
});
