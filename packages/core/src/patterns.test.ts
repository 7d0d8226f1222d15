import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { compileLikePattern, compileNatsPattern, type KeyMatcher, MAX_PATTERN_BYTES } from './patterns.js';

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).details?.reason;
  }
  throw new Error('expected a ValidationError');
}

describe('compileNatsPattern: the Ironflow wildcard table', () => {
  // Ironflow KV "Listing Keys": | Pattern | Matches | Does not match |
  const table: Array<{ pattern: string; matches: string[]; nonMatches: string[] }> = [
    // * | Any single-token key (user, flag) | Multi-token keys (user.123)
    { pattern: '*', matches: ['user', 'flag'], nonMatches: ['user.123'] },
    // user.* | user.123, user.456 | user.123.name, user:123
    { pattern: 'user.*', matches: ['user.123', 'user.456'], nonMatches: ['user.123.name', 'user:123'] },
    // > | One or more tokens (matches everything) | —
    {
      pattern: '>',
      matches: ['user', 'user.123', 'user.123.name.first', 'config.flags', 'user:123'],
      nonMatches: [],
    },
    // user.> | user.123, user.123.name, user.123.name.first | config.flags, user:123
    {
      pattern: 'user.>',
      matches: ['user.123', 'user.123.name', 'user.123.name.first'],
      nonMatches: ['config.flags', 'user:123'],
    },
  ];
  for (const row of table) {
    for (const key of row.matches) {
      it(`${row.pattern} matches ${key}`, () => {
        expect(compileNatsPattern(row.pattern).test(key)).toBe(true);
      });
    }
    for (const key of row.nonMatches) {
      it(`${row.pattern} does not match ${key}`, () => {
        expect(compileNatsPattern(row.pattern).test(key)).toBe(false);
      });
    }
  }

  it('filters the seed listKeys example: user.* over user.123, user.456, config.feature-flags', () => {
    const keys = ['user.123', 'user.456', 'config.feature-flags'];
    const m = compileNatsPattern('user.*');
    expect(keys.filter((k) => m.test(k))).toEqual(['user.123', 'user.456']);
  });

  it('user.> does not match user itself (> needs at least one token)', () => {
    expect(compileNatsPattern('user.>').test('user')).toBe(false);
    expect(compileNatsPattern('user.*').test('user')).toBe(false);
  });

  it('* matches a single token that contains other punctuation (user:123)', () => {
    expect(compileNatsPattern('*').test('user:123')).toBe(true);
  });
});

describe('compileNatsPattern: more cases', () => {
  it('matches * in the middle and several wildcards', () => {
    const m = compileNatsPattern('orders.*.items.*');
    expect(m.test('orders.1.items.2')).toBe(true);
    expect(m.test('orders.1.items')).toBe(false);
    expect(m.test('orders.1.items.2.3')).toBe(false);
    expect(m.test('orders.1.item.2')).toBe(false);
    expect(compileNatsPattern('*.*').test('a.b')).toBe(true);
    expect(compileNatsPattern('*.*').test('a')).toBe(false);
    expect(compileNatsPattern('*.>').test('a.b.c')).toBe(true);
    expect(compileNatsPattern('*.>').test('a')).toBe(false);
  });

  it('a literal pattern matches exactly that key', () => {
    const m = compileNatsPattern('user.123');
    expect(m.test('user.123')).toBe(true);
    expect(m.test('user.1234')).toBe(false);
    expect(m.test('user.12')).toBe(false);
    expect(m.test('user.123.x')).toBe(false);
    expect(m.literalPrefix).toBe('user.123');
  });

  it('literal tokens compare whole tokens, not prefixes', () => {
    const m = compileNatsPattern('user.*.name');
    expect(m.test('user.1.name')).toBe(true);
    expect(m.test('user.1.names')).toBe(false);
    expect(m.test('users.1.name')).toBe(false);
  });

  it('keys with empty tokens do not match wildcards at the empty position', () => {
    expect(compileNatsPattern('user.*').test('user.')).toBe(false);
    expect(compileNatsPattern('*.a').test('.a')).toBe(false);
    expect(compileNatsPattern('user.>').test('user.')).toBe(false);
    expect(compileNatsPattern('user.>').test('user.a..b')).toBe(false);
    expect(compileNatsPattern('user.>').test('user.a.')).toBe(false);
    expect(compileNatsPattern('>').test('a..b')).toBe(false);
    expect(compileNatsPattern('>').test('')).toBe(false);
    expect(compileNatsPattern('*').test('')).toBe(false);
  });

  it('handles multibyte tokens', () => {
    expect(compileNatsPattern('ユーザー.*').test('ユーザー.😀')).toBe(true);
    expect(compileNatsPattern('*.é').test('😀.é')).toBe(true);
  });

  it('reports literalPrefix and matchesAll', () => {
    const cases: Array<[string, string, boolean]> = [
      ['>', '', true],
      ['*', '', false],
      ['user.*', 'user.', false],
      ['user.>', 'user.', false],
      ['a.b.*.c', 'a.b.', false],
      ['*.b', '', false],
    ];
    for (const [pattern, prefix, all] of cases) {
      const m: KeyMatcher = compileNatsPattern(pattern);
      expect(m.literalPrefix, pattern).toBe(prefix);
      expect(m.matchesAll, pattern).toBe(all);
      expect(m.source).toBe(pattern);
    }
  });

  it('every match starts with literalPrefix', () => {
    for (const pattern of ['user.*', 'user.>', 'a.b.*.c']) {
      const m = compileNatsPattern(pattern);
      for (const key of ['user.1', 'user.1.2', 'a.b.x.c', 'a.b.x.d']) {
        if (m.test(key)) expect(key.startsWith(m.literalPrefix)).toBe(true);
      }
    }
  });

  it('rejects invalid patterns with a ValidationError', () => {
    const invalid: Array<[string, string]> = [
      ['', 'empty'],
      ['a..b', 'empty_token'],
      ['.a', 'empty_token'],
      ['a.', 'empty_token'],
      ['.', 'empty_token'],
      ['>.a', 'misplaced_wildcard'],
      ['a.>.b', 'misplaced_wildcard'],
      ['us*', 'partial_wildcard'],
      ['user.*x', 'partial_wildcard'],
      ['a>', 'partial_wildcard'],
      ['a.>>', 'partial_wildcard'],
      ['**', 'partial_wildcard'],
      ['user .*', 'whitespace'],
      ['user\u0000.*', 'control_character'],
      ['a\ud800', 'lone_surrogate'],
    ];
    for (const [pattern, reason] of invalid) {
      expect(
        reasonOf(() => compileNatsPattern(pattern)),
        JSON.stringify(pattern),
      ).toBe(reason);
    }
    expect(reasonOf(() => compileNatsPattern(42 as unknown as string))).toBe('type');
    expect(reasonOf(() => compileNatsPattern('a'.repeat(MAX_PATTERN_BYTES + 1)))).toBe('too_long');
  });

  it('puts field "match" in the error details', () => {
    try {
      compileNatsPattern('a..b');
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).details?.field).toBe('match');
      expect((error as ValidationError).status).toBe(400);
    }
  });
});

describe('compileLikePattern: the AntiRaid find rules', () => {
  it('_ matches a single character', () => {
    const m = compileLikePattern('user_1');
    expect(m.test('userA1')).toBe(true);
    expect(m.test('user_1')).toBe(true);
    expect(m.test('user1')).toBe(false);
    expect(m.test('userAB1')).toBe(false);
  });

  it('% matches zero or more characters', () => {
    const m = compileLikePattern('user%');
    expect(m.test('user')).toBe(true);
    expect(m.test('user123')).toBe(true);
    expect(m.test('use')).toBe(false);
    expect(m.test('xuser')).toBe(false);
    const mid = compileLikePattern('a%z');
    expect(mid.test('az')).toBe(true);
    expect(mid.test('abcz')).toBe(true);
    expect(mid.test('abc')).toBe(false);
    expect(compileLikePattern('%end').test('the end')).toBe(true);
    expect(compileLikePattern('%end').test('ending')).toBe(false);
  });

  it('\\_ and \\% match a literal underscore and percent sign', () => {
    const underscore = compileLikePattern('user\\_%');
    expect(underscore.test('user_1')).toBe(true);
    expect(underscore.test('userA1')).toBe(false);
    const percent = compileLikePattern('100\\%');
    expect(percent.test('100%')).toBe(true);
    expect(percent.test('1000')).toBe(false);
    expect(percent.test('100')).toBe(false);
    expect(compileLikePattern('a\\\\b').test('a\\b')).toBe(true);
    expect(compileLikePattern('a\\\\b').test('ab')).toBe(false);
  });

  it('%% matches all keys (the fast path)', () => {
    const m = compileLikePattern('%%');
    expect(m.matchesAll).toBe(true);
    expect(m.literalPrefix).toBe('');
    for (const key of ['a', 'user.123', '😀', '%', '_', 'x'.repeat(512)]) expect(m.test(key)).toBe(true);
    expect(compileLikePattern('%').matchesAll).toBe(true);
    expect(compileLikePattern('%_%').matchesAll).toBe(false);
    expect(compileLikePattern('\\%\\%').matchesAll).toBe(false);
    expect(compileLikePattern('\\%\\%').test('%%')).toBe(true);
    expect(compileLikePattern('\\%\\%').test('ab')).toBe(false);
  });

  it('_ is one code point: multibyte and astral characters', () => {
    expect(compileLikePattern('_').test('é')).toBe(true);
    expect(compileLikePattern('_').test('😀')).toBe(true); // two UTF-16 units, one character
    expect(compileLikePattern('__').test('😀')).toBe(false);
    expect(compileLikePattern('a_b').test('a😀b')).toBe(true);
    expect(compileLikePattern('a__b').test('a😀😀b')).toBe(true);
    expect(compileLikePattern('a__b').test('a😀b')).toBe(false);
    expect(compileLikePattern('%_').test('😀')).toBe(true);
    expect(compileLikePattern('_%').test('😀')).toBe(true);
    expect(compileLikePattern('%_😀%').test('x😀😀')).toBe(true);
    expect(compileLikePattern('%😀_').test('😀😀é')).toBe(true);
    expect(compileLikePattern('%_é').test('😀é')).toBe(true);
    expect(compileLikePattern('%__').test('😀')).toBe(false);
    expect(compileLikePattern('日本_').test('日本語')).toBe(true);
  });

  it('is case-sensitive and anchored', () => {
    expect(compileLikePattern('User').test('user')).toBe(false);
    expect(compileLikePattern('user').test('user')).toBe(true);
    expect(compileLikePattern('user').test('users')).toBe(false);
    expect(compileLikePattern('b').test('abc')).toBe(false);
    expect(compileLikePattern('%b%').test('abc')).toBe(true);
  });

  it('answers correctly for a pathological pattern (no backtracking explosion)', () => {
    const as = 'a'.repeat(500);
    expect(compileLikePattern('%a%a%a%a%b').test(as)).toBe(false);
    expect(compileLikePattern('%a%a%a%a%b').test(`${as}b`)).toBe(true);
    expect(compileLikePattern('%a%a%a%a%').test(as)).toBe(true);
    expect(compileLikePattern(`${'%a'.repeat(200)}%b`).test(as)).toBe(false);
    expect(compileLikePattern(`${'%_'.repeat(400)}%b`).test(as)).toBe(false);
    expect(compileLikePattern(`${'%a'.repeat(500)}`).test(as)).toBe(true);
    expect(compileLikePattern(`${'%a'.repeat(501)}`).test(as)).toBe(false);
  });

  it('places middle segments leftmost and still matches overlapping structure', () => {
    expect(compileLikePattern('%ab%ab%').test('abab')).toBe(true);
    expect(compileLikePattern('%ab%ab%').test('aba')).toBe(false);
    expect(compileLikePattern('a%a').test('a')).toBe(false);
    expect(compileLikePattern('a%a').test('aa')).toBe(true);
    expect(compileLikePattern('ab%bc').test('abc')).toBe(false);
    expect(compileLikePattern('ab%bc').test('abbc')).toBe(true);
    expect(compileLikePattern('%a_c%').test('xxabcxx')).toBe(true);
    expect(compileLikePattern('%a_c%').test('xxacxx')).toBe(false);
    expect(compileLikePattern('%_b_%').test('abc')).toBe(true);
  });

  it('agrees with a reference regex on random patterns and keys', () => {
    let seed = 0x9e3779b9;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const alphabet = ['a', 'b', '😀', 'é'];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    for (let round = 0; round < 2000; round++) {
      const tokens = Array.from({ length: 1 + Math.floor(rand() * 6) }, () =>
        pick(['a', 'b', '😀', 'é', '%', '_', '\\%', '\\_']),
      );
      const pattern = tokens.join('');
      // Reference: the same language as a unicode regex, built from the known-safe token list.
      const source = tokens
        .map((t) => (t === '%' ? '.*' : t === '_' ? '.' : t === '\\%' ? '%' : t === '\\_' ? '_' : t))
        .join('');
      const reference = new RegExp(`^${source}$`, 'su');
      const key = Array.from({ length: Math.floor(rand() * 8) }, () => pick([...alphabet, '%', '_'])).join(
        '',
      );
      expect(compileLikePattern(pattern).test(key), `${pattern} vs ${key}`).toBe(reference.test(key));
    }
  });

  it('reports the literal prefix before the first wildcard', () => {
    expect(compileLikePattern('user%').literalPrefix).toBe('user');
    expect(compileLikePattern('user_%').literalPrefix).toBe('user');
    expect(compileLikePattern('user\\_%').literalPrefix).toBe('user_');
    expect(compileLikePattern('%user').literalPrefix).toBe('');
    expect(compileLikePattern('exact').literalPrefix).toBe('exact');
    expect(compileLikePattern('exact').source).toBe('exact');
  });

  it('treats \\x as a literal x and rejects a trailing backslash', () => {
    expect(compileLikePattern('\\a\\b').test('ab')).toBe(true);
    expect(compileLikePattern('\\😀').test('😀')).toBe(true);
    expect(reasonOf(() => compileLikePattern('abc\\'))).toBe('trailing_escape');
    expect(reasonOf(() => compileLikePattern('\\'))).toBe('trailing_escape');
    expect(compileLikePattern('abc\\\\').test('abc\\')).toBe(true);
  });

  it('rejects invalid patterns', () => {
    expect(reasonOf(() => compileLikePattern(''))).toBe('empty');
    expect(reasonOf(() => compileLikePattern(null as unknown as string))).toBe('type');
    expect(reasonOf(() => compileLikePattern('a\udc00'))).toBe('lone_surrogate');
    expect(reasonOf(() => compileLikePattern('%'.repeat(MAX_PATTERN_BYTES + 1)))).toBe('too_long');
    try {
      compileLikePattern('');
    } catch (error) {
      expect((error as ValidationError).details?.field).toBe('like');
    }
  });
});
