/**
 * Key-range helpers for SQL scans. kv orders keys by their UTF-8 bytes (docs/protocol.md "Conventions"), which is
 * Unicode code point order (`compareKeys` in `@kv/core`); SQLite's `BINARY` collation compares the same
 * bytes, so "starts with a prefix" can be a half-open index range.
 *
 * @module
 */
import { compareKeys } from '@kv/core/protocol';
import type { ScanQuery } from '@kv/engine';

/**
 * The smallest string that sorts (in UTF-8 byte order) after every string starting with `prefix`, so
 * that "starts with `prefix`" is the half-open range `[prefix, successor)`: an index range scan.
 * Increments the last code point (skipping the surrogate block); a trailing U+10FFFF is dropped and the
 * previous code point incremented. Returns `undefined` when no such string exists (empty prefix, or a
 * prefix made only of U+10FFFF): the range is then unbounded above.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      points.push(next);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/**
 * The key range of a scan in SQL terms (both SQL storages): `key lowerOp lower` and `key upperOp upper`,
 * each present when that side is bounded.
 */
export interface ScanBounds {
  lowerOp?: '>' | '>=';
  lower?: string;
  upperOp?: '<';
  upper?: string;
}

/**
 * The key range of `query` ({@link ScanQuery}): its prefix as `[prefix, successor)`, narrowed by `after`
 * (exclusive, on the side the scan moves from), or undefined when the range is empty.
 */
export function scanBounds(query: ScanQuery): ScanBounds | undefined {
  const prefix = query.prefix ?? '';
  // [prefix, successor) is "starts with prefix"; startAfter narrows it from one side (exclusive).
  let lower: { op: '>' | '>='; key: string } | undefined =
    prefix === '' ? undefined : { op: '>=', key: prefix };
  let upper: string | undefined = prefix === '' ? undefined : prefixSuccessor(prefix);
  const after = query.after;
  if (after !== undefined) {
    if (query.reverse) {
      if (upper === undefined || compareKeys(after, upper) < 0) upper = after;
    } else if (lower === undefined || compareKeys(after, lower.key) >= 0) {
      lower = { op: '>', key: after };
    }
  }
  if (lower !== undefined && upper !== undefined && compareKeys(lower.key, upper) >= 0) return undefined;
  const out: ScanBounds = {};
  if (lower !== undefined) {
    out.lowerOp = lower.op;
    out.lower = lower.key;
  }
  if (upper !== undefined) {
    out.upperOp = '<';
    out.upper = upper;
  }
  return out;
}
