/**
 * Key patterns for listings and watches, compiled once into a {@link KeyMatcher}:
 * - NATS subject wildcards on `.` tokens (Ironflow `listKeys("user.*")`, NATS KV `keys(filter)`):
 *   {@link compileNatsPattern}
 * - SQL LIKE with `%`, `_` and `\` escapes (AntiRaid `find`): {@link compileLikePattern}
 *
 * Neither builds a `RegExp`: matching walks the key with plain string operations, in time linear in the
 * key for NATS patterns and at most key length x pattern length for LIKE (no backtracking blow-up).
 *
 * @module
 */

import { ValidationError } from './errors.js';
import { isForbiddenCodeUnit, utf8ByteLength } from './validation.js';

/**
 * A compiled key pattern.
 *
 * @example
 * const m = compileNatsPattern('user.*');
 * m.test('user.123'); // true
 * m.literalPrefix; // 'user.' : the engine range-scans keys from here
 */
export interface KeyMatcher {
  /** True when `key` matches the pattern. */
  test(key: string): boolean;
  /**
   * The longest literal prefix that every matching key starts with (`''` when the pattern starts with a
   * wildcard). A storage can scan the key range starting at this prefix instead of the whole store.
   */
  literalPrefix: string;
  /** True when the pattern matches every key (`>`, `%`, `%%`): filtering can be skipped. */
  matchesAll: boolean;
  /** The pattern as given. */
  source: string;
}

/**
 * Longest pattern accepted, in UTF-8 bytes. Keys are at most 512 bytes; this leaves room for escapes and
 * wildcards while bounding the work of one match.
 */
export const MAX_PATTERN_BYTES = 4096;

function invalidPattern(field: string, reason: string, message: string): ValidationError {
  return new ValidationError(message, { details: { field, reason } });
}

function checkPatternText(pattern: unknown, field: string): string {
  if (typeof pattern !== 'string') {
    throw invalidPattern(
      field,
      'type',
      `Pattern must be a string, got ${pattern === null ? 'null' : typeof pattern}`,
    );
  }
  if (pattern.length === 0) throw invalidPattern(field, 'empty', 'Pattern must not be empty');
  if (pattern.length > MAX_PATTERN_BYTES || utf8ByteLength(pattern) > MAX_PATTERN_BYTES) {
    throw new ValidationError(`Pattern must be at most ${MAX_PATTERN_BYTES} bytes`, {
      details: { field, reason: 'too_long', maxBytes: MAX_PATTERN_BYTES },
    });
  }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = pattern.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      throw invalidPattern(
        field,
        'lone_surrogate',
        'Pattern must be valid Unicode (it contains an unpaired surrogate)',
      );
    }
  }
  return pattern;
}

// ---------------------------------------------------------------------------------------------------
// NATS subject wildcards

type NatsToken = string | typeof STAR | typeof GT;
const STAR: unique symbol = Symbol('*');
const GT: unique symbol = Symbol('>');

/**
 * Compiles a NATS subject pattern (Ironflow KV "Listing Keys"; NATS subject-based messaging) over keys
 * whose tokens are separated by `.`:
 *
 * | pattern | matches | does not match |
 * | --- | --- | --- |
 * | `*` | any single-token key (`user`, `flag`) | multi-token keys (`user.123`) |
 * | `user.*` | `user.123`, `user.456` | `user.123.name`, `user:123` |
 * | `>` | one or more tokens (every key) | |
 * | `user.>` | `user.123`, `user.123.name`, `user.123.name.first` | `config.flags`, `user:123`, `user` |
 *
 * `*` matches exactly one non-empty token; `>` matches one or more non-empty tokens and must be the last
 * token. A pattern with no wildcard matches exactly that key. Keys with empty tokens (`a..b`, `a.`)
 * never match a wildcard at the empty token's position.
 *
 * @param pattern - the pattern, e.g. `orders.*.items` or `user.>`
 * @returns the compiled matcher
 * @throws {ValidationError} `details: { field: 'match', reason }`: `type`, `empty`, `too_long`,
 *   `lone_surrogate`, `empty_token` (`a..b`, a leading or trailing `.`), `misplaced_wildcard` (`>` not
 *   last), `partial_wildcard` (a wildcard inside a token, like `us*` or `a>`), `whitespace` or
 *   `control_character` (keys never contain them)
 */
export function compileNatsPattern(pattern: string): KeyMatcher {
  const field = 'match';
  checkPatternText(pattern, field);
  const parts = pattern.split('.');
  const tokens: NatsToken[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part.length === 0) {
      throw invalidPattern(
        field,
        'empty_token',
        `Invalid pattern "${pattern}": empty token (check the dots)`,
      );
    }
    if (part === '*') {
      tokens.push(STAR);
      continue;
    }
    if (part === '>') {
      if (i !== parts.length - 1) {
        throw invalidPattern(
          field,
          'misplaced_wildcard',
          `Invalid pattern "${pattern}": ">" must be the last token`,
        );
      }
      tokens.push(GT);
      continue;
    }
    for (let j = 0; j < part.length; j++) {
      const c = part.charCodeAt(j);
      if (c === 0x2a || c === 0x3e) {
        throw invalidPattern(
          field,
          'partial_wildcard',
          `Invalid pattern "${pattern}": a wildcard must be a whole token ("*" or ">"), not part of "${part}"`,
        );
      }
      const bad = isForbiddenCodeUnit(c);
      if (bad !== undefined) {
        throw invalidPattern(
          field,
          bad,
          'Invalid pattern: keys never contain control characters or whitespace',
        );
      }
    }
    tokens.push(part);
  }

  // Literal prefix: the literal tokens before the first wildcard, plus the separator after them.
  const firstWildcard = tokens.findIndex((t) => typeof t !== 'string');
  const literalPrefix =
    firstWildcard === -1
      ? pattern
      : parts
          .slice(0, firstWildcard)
          .map((p) => `${p}.`)
          .join('');
  const matchesAll = tokens.length === 1 && tokens[0] === GT;
  const exact = firstWildcard === -1;

  return {
    source: pattern,
    literalPrefix,
    matchesAll,
    test: matchesAll
      ? (key: string): boolean => allTokensNonEmpty(key, 0)
      : exact
        ? (key: string): boolean => key === pattern
        : (key: string): boolean => matchNats(tokens, key),
  };
}

/** True when `key.slice(pos)` is one or more `.`-separated tokens, none empty. */
function allTokensNonEmpty(key: string, pos: number): boolean {
  if (pos >= key.length) return false;
  let prevDot = true; // at a token start
  for (let i = pos; i < key.length; i++) {
    if (key.charCodeAt(i) === 0x2e) {
      if (prevDot) return false;
      prevDot = true;
    } else {
      prevDot = false;
    }
  }
  return !prevDot;
}

function matchNats(tokens: readonly NatsToken[], key: string): boolean {
  const n = key.length;
  let pos = 0; // start of the current key token
  let more = true; // whether a key token starts at pos (the key always has at least one)
  for (const token of tokens) {
    if (!more) return false;
    if (token === GT) return allTokensNonEmpty(key, pos);
    let end = key.indexOf('.', pos);
    if (end === -1) end = n;
    if (token === STAR) {
      if (end === pos) return false; // empty token
    } else if (end - pos !== token.length || !key.startsWith(token, pos)) {
      return false;
    }
    if (end === n) {
      more = false;
    } else {
      pos = end + 1;
    }
  }
  return !more;
}

// ---------------------------------------------------------------------------------------------------
// SQL LIKE

/** One piece of a LIKE segment: a literal run, or a run of `_` (count code points). */
type LikePart = string | number;
/** The text between two `%`s: literal runs and `_` runs. */
interface LikeSegment {
  parts: LikePart[];
}

/**
 * Compiles a SQL LIKE pattern (AntiRaid `find`):
 * - `_` matches exactly one character: one Unicode code point (`_` matches `é` and `😀`)
 * - `%` matches zero or more characters
 * - `\_`, `\%` and `\\` match a literal `_`, `%` and `\`
 * - `%%` (like any pattern made only of `%`) matches every key: the fast path of AntiRaid `find`
 *
 * Matching is case-sensitive and anchored at both ends (`a%` is "starts with a"). Escape decisions beyond
 * the seed: a backslash before any other character makes that character literal (`\a` matches `a`), and
 * a trailing lone backslash is an error.
 *
 * Matching splits the pattern on `%` and places each segment at its leftmost possible position, so a
 * match costs at most key length x pattern length steps, even for `%a%a%a%a%b`.
 *
 * @param pattern - the pattern, e.g. `user\_%` or `order-____`
 * @returns the compiled matcher
 * @throws {ValidationError} `details: { field: 'like', reason }`: `type`, `empty`, `too_long`,
 *   `lone_surrogate`, or `trailing_escape` (the pattern ends in an unescaped `\`)
 */
export function compileLikePattern(pattern: string): KeyMatcher {
  const field = 'like';
  checkPatternText(pattern, field);
  const segments: LikeSegment[] = [];
  let parts: LikePart[] = [];
  let literal = '';
  let literalPrefix = '';
  let prefixDone = false;
  const flushLiteral = (): void => {
    if (literal !== '') parts.push(literal);
    literal = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\') {
      if (i + 1 >= pattern.length) {
        throw invalidPattern(
          field,
          'trailing_escape',
          `Invalid LIKE pattern "${pattern}": it ends with an unescaped "\\"`,
        );
      }
      i++;
      let next = pattern[i] as string;
      // Keep a surrogate pair together.
      const c = next.charCodeAt(0);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < pattern.length) {
        next += pattern[i + 1];
        i++;
      }
      literal += next;
      if (!prefixDone) literalPrefix += next;
    } else if (ch === '%') {
      prefixDone = true;
      flushLiteral();
      segments.push({ parts });
      parts = [];
    } else if (ch === '_') {
      prefixDone = true;
      flushLiteral();
      const last = parts[parts.length - 1];
      if (typeof last === 'number') parts[parts.length - 1] = last + 1;
      else parts.push(1);
    } else {
      literal += ch;
      if (!prefixDone) literalPrefix += ch;
    }
  }
  flushLiteral();
  segments.push({ parts });

  const matchesAll = segments.length > 1 && segments.every((s) => s.parts.length === 0);
  return {
    source: pattern,
    literalPrefix,
    matchesAll,
    test: matchesAll ? (): boolean => true : (key: string): boolean => matchLike(segments, key),
  };
}

/** Steps `count` code points forward from `pos`, not beyond `limit`; -1 when there are not enough. */
function advanceCodePoints(key: string, pos: number, count: number, limit: number): number {
  for (let k = 0; k < count; k++) {
    if (pos >= limit) return -1;
    const c = key.charCodeAt(pos);
    if (c >= 0xd800 && c <= 0xdbff && pos + 1 < limit) {
      const d = key.charCodeAt(pos + 1);
      pos += d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
    } else {
      pos += 1;
    }
  }
  return pos;
}

/** Matches `parts` starting exactly at `pos`, ending at or before `limit`; returns the end or -1. */
function matchAt(key: string, pos: number, parts: readonly LikePart[], limit: number): number {
  for (const part of parts) {
    if (typeof part === 'number') {
      pos = advanceCodePoints(key, pos, part, limit);
      if (pos === -1) return -1;
    } else {
      if (pos + part.length > limit || !key.startsWith(part, pos)) return -1;
      pos += part.length;
    }
  }
  return pos;
}

/** Leftmost placement of `parts` at or after `from`, ending at or before `limit`; returns its end or -1. */
function findSegment(key: string, from: number, parts: readonly LikePart[], limit: number): number {
  const first = parts[0];
  let p = from;
  while (p <= limit) {
    if (typeof first === 'string') {
      // Jump to the next occurrence of the leading literal. Literals start with a whole code point, so
      // the hit is on a code point boundary.
      p = key.indexOf(first, p);
      if (p === -1 || p + first.length > limit) return -1;
    }
    const end = matchAt(key, p, parts, limit);
    if (end !== -1) return end;
    const next = advanceCodePoints(key, p, 1, limit);
    if (next === -1) return -1;
    p = next;
  }
  return -1;
}

/** Start of the suffix of `key` that is `count` code points long; -1 when the key is shorter. */
function backCodePoints(key: string, end: number, count: number, floor: number): number {
  let pos = end;
  for (let k = 0; k < count; k++) {
    if (pos <= floor) return -1;
    const c = key.charCodeAt(pos - 1);
    if (c >= 0xdc00 && c <= 0xdfff && pos - 2 >= floor) {
      const h = key.charCodeAt(pos - 2);
      pos -= h >= 0xd800 && h <= 0xdbff ? 2 : 1;
    } else {
      pos -= 1;
    }
  }
  return pos;
}

/** Where the tail segment must start so that it ends at the end of `key`, not before `floor`; -1 if impossible. */
function tailStart(key: string, parts: readonly LikePart[], floor: number): number {
  let pos = key.length;
  for (let k = parts.length - 1; k >= 0; k--) {
    const part = parts[k] as LikePart;
    if (typeof part === 'number') {
      pos = backCodePoints(key, pos, part, floor);
      if (pos === -1) return -1;
    } else {
      pos -= part.length;
      if (pos < floor) return -1;
    }
  }
  return pos;
}

function matchLike(segments: readonly LikeSegment[], key: string): boolean {
  const n = key.length;
  const head = (segments[0] as LikeSegment).parts;
  if (segments.length === 1) return matchAt(key, 0, head, n) === n;
  // Anchored head.
  let pos = matchAt(key, 0, head, n);
  if (pos === -1) return false;
  // Anchored tail: it must end at the end of the key, after the head.
  const tail = (segments[segments.length - 1] as LikeSegment).parts;
  const start = tailStart(key, tail, pos);
  if (start === -1 || matchAt(key, start, tail, n) !== n) return false;
  // Middle segments, each at its leftmost position, all before the tail.
  for (let s = 1; s < segments.length - 1; s++) {
    const parts = (segments[s] as LikeSegment).parts;
    if (parts.length === 0) continue;
    pos = findSegment(key, pos, parts, start);
    if (pos === -1) return false;
  }
  return true;
}
